"""minigan: Generative Adversarial Networks from scratch on NumPy (and CuPy).

Every layer and loss carries a hand-written backward pass, proven against finite
differences by ``minigan.gradcheck``.

    import minigan as mg
    layer = mg.nn.Dense(4, 3, rng=0)
    mg.gradcheck.check_layer(layer, x)                      # proves dx, dW and db
    mg.train.train(mg.train.TrainConfig(epochs=1))          # a DCGAN on the embedded MNIST digits

The package, the library below and the application on top (no module imports one above it;
tests/test_layers.py checks the contract written in pyproject.toml):

    cli.py, sweep.py        the command line; grids of runs
    train/                  a training run: settings, phases, folder, checkpoints, pictures, scores
    metrics/, gradcheck/    how good a generator is (FID, ...); the gradient checker and its table
    gan/                    the models, the game and its gradient penalties, the captured step
    nn/, losses.py, optim/, data/    layers; GAN losses; optimizers; the IDX format and data sets
    backend/                NumPy or CuPy, and the GPU kernels
    checks.py, errors.py    argument tests and user errors, used by every layer
"""
from . import backend, data, errors, gan, gradcheck, losses, metrics, nn, optim, sweep, train
from .backend import get_backend, get_default_dtype, set_backend, set_default_dtype, to_numpy
from .gan import game, graph, models, penalties
from .metrics import classifier
from .nn import Parameter

__version__ = "0.1.0"

__all__ = [
    "backend", "classifier", "data", "errors", "game", "gan", "gradcheck", "graph", "losses", "metrics", "models", "nn",
    "optim", "penalties", "sweep", "train",
    "Parameter", "get_backend", "get_default_dtype", "set_backend", "set_default_dtype", "to_numpy",
    "__version__",
]
