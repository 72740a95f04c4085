"""Training a GAN: a run in phases, its settings, folder, files, checkpoints, pictures and scores.

    mg.train.train(mg.train.TrainConfig(epochs=1))             # a DCGAN on the embedded MNIST digits
    mg.train.resume("runs/run-1/checkpoint.npz", {"epochs": 5})
    images = mg.train.generate("runs/run-1/checkpoint.npz", 16, seed=0)

Its modules, in the order a run meets them: ``config`` (the settings), ``start`` (a new or
resumed run put together, top down), ``parts`` (what a run is built from), ``run`` (the loop's
phases), ``folder`` and ``files`` (the run folder and what is written there), ``checkpoint``,
``telemetry`` (records read to the host, non-finite checks, the metrics log), ``progress`` (the
bar and the stop on a signal), ``ema`` (the weight average), ``scoring`` (per-epoch scores),
``sampling`` and ``plots`` (images from a generator, pictures and curves).
"""
from ..errors import TrainingDiverged
from ..gan.game import gan_step
from .config import TrainConfig
from .run import Run
from .sampling import generate, sample
from .start import resume, train

__all__ = ["Run", "TrainConfig", "TrainingDiverged", "gan_step", "generate", "resume", "sample", "train"]
