"""minigan: Generative Adversarial Networks from scratch on NumPy (and CuPy).

Every layer and loss carries a hand-written backward pass, proven against finite
differences by ``minigan.gradcheck``.

    import minigan as mg
    layer = mg.nn.Dense(4, 3, rng=0)
    mg.gradcheck.check_layer(layer, x)                      # proves dx, dW and db
    mg.train.train(mg.train.TrainConfig(epochs=1))          # a DCGAN on the embedded MNIST digits
"""
from . import (backend, config, data, errors, gan, gradcheck, losses, metrics, nn, optim,
               plots, progress, sampling, scoring, telemetry, train)
from .gan import game, graph, models
from .metrics import classifier
from .backend import get_backend, get_default_dtype, set_backend, set_default_dtype, to_numpy
from .nn import Parameter

__version__ = "0.1.0"

__all__ = [
    "backend", "config", "data", "gan", "game", "errors", "gradcheck", "graph", "losses", "metrics", "models", "nn", "optim", "plots",
    "progress", "sampling", "scoring", "telemetry", "train", "classifier",
    "Parameter", "get_backend", "get_default_dtype", "set_backend", "set_default_dtype", "to_numpy",
    "__version__",
]
