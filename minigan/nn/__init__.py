"""Layers with hand-written backward passes, and the Sequential container.

Every layer follows the protocol in ``minigan.nn.module``: ``forward(x)`` (or
``layer(x)``), ``backward(dy) -> dx`` which adds into each ``Parameter.grad``,
``parameters()``, ``zero_grad()``, ``train()`` and ``eval()``. Images are NCHW.
"""
from . import init
from .activations import LeakyReLU, ReLU, Sigmoid, Tanh
from .augment import Augment
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conditional import ConcatEmbedding, Embedding, Projection
from .conv import Conv2d, ConvTranspose2d
from .dense import Dense
from .module import Layer, Parameter, Sequential
from .shape import Flatten, Reshape
from .spectral_norm import SpectralNorm

__all__ = [
    "Layer", "Parameter", "Sequential", "Dense", "Conv2d", "ConvTranspose2d",
    "BatchNorm1d", "BatchNorm2d", "LeakyReLU", "ReLU", "Sigmoid", "Tanh",
    "Flatten", "Reshape", "SpectralNorm", "Augment", "Embedding", "ConcatEmbedding", "Projection", "init",
]
