"""Flatten and Reshape: move values between layouts without changing them.

1. A reshape is a permutation-free relabelling: y and x hold the same numbers in the same
   order, so each dy entry is the gradient of the x entry it came from, and the backward of
   a reshape is the inverse reshape: dx = dy.reshape(x.shape).
2. A reshape is linear, so the forward tangent of a direction u (a gradient penalty's second
   pass) is the same reshape of u.

Derivation: docs/derivations.md, "Flatten and Reshape". Tests: tests/nn/test_shape.py.
"""
import math

from .. import backend
from ..checks import is_int
from .module import Layer


class Flatten(Layer):
    """y = x.reshape(N, -1): every axis after the batch axis folded into one.

    Backward: dx = dy.reshape(x.shape) (step 1).   Shapes: x (N, d1, d2, ...) -> y (N, d1*d2*...).
    Derivation: docs/derivations.md, "Flatten and Reshape". Tests: tests/nn/test_shape.py.
    """

    def forward(self, x):
        self._check_input(x)
        if x.ndim < 2 or x.shape[0] == 0:
            raise ValueError(f"{self!r}: x must be (N, d1, ...) with at least 2 axes and N >= 1, "
                             f"got {tuple(x.shape)}")
        y = x.reshape(x.shape[0], -1)
        self._save(y.shape, x, y.dtype)
        return y

    def backward(self, dy):
        """dx = dy.reshape(x.shape) (step 1), laid out in memory as x was."""
        x = self._pop_cache(dy)
        if x.flags.c_contiguous:
            return dy.reshape(x.shape)
        dx = backend.xp_of(dy).empty_like(x)     # x's memory layout (channels-last after a conv), so the
        dx[...] = dy.reshape(x.shape)            # layers below backpropagate without transposing copies
        return dx

    def tangent(self, x, u, dy=None):
        """Forward tangent u.reshape(N, -1): the map is linear (step 2); no parameters, dy unused.

        Derivation: docs/derivations.md, "Gradient penalties". Tests: tests/gan/test_penalties.py.
        """
        return u.reshape(u.shape[0], -1)


class Reshape(Layer):
    """y = x.reshape(N, *shape): the batch axis kept, the rest laid out as ``shape``.

    Backward: dx = dy.reshape(x.shape) (step 1).   Shapes: x (N, ...) with prod(...) = prod(shape) -> y (N, *shape).
    Derivation: docs/derivations.md, "Flatten and Reshape". Tests: tests/nn/test_shape.py.

    Parameters
    ----------
    *shape : int
        The per-sample output shape, e.g. ``Reshape(128, 7, 7)`` after a Dense layer of 128*7*7 outputs.
    """

    def __init__(self, *shape):
        super().__init__()
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if not shape or not all(is_int(d, 1) for d in shape):
            raise ValueError(f"Reshape: shape must be one or more positive ints, got {shape!r}")
        self.shape = tuple(shape)

    def forward(self, x):
        self._check_input(x)
        size = math.prod(x.shape[1:]) if x.ndim >= 1 else 0
        if x.ndim < 2 or size != math.prod(self.shape):
            raise ValueError(
                f"{self!r}: x must be (N, ...) with {math.prod(self.shape)} values per sample, got {tuple(x.shape)}"
            )
        y = x.reshape((x.shape[0],) + self.shape)
        self._save(y.shape, x.shape, y.dtype)
        return y

    def backward(self, dy):
        """dx = dy.reshape(x.shape) (step 1)."""
        return dy.reshape(self._pop_cache(dy))

    def tangent(self, x, u, dy=None):
        """Forward tangent u.reshape(N, *shape): the map is linear (step 2); no parameters, dy unused.

        Derivation: docs/derivations.md, "Gradient penalties". Tests: tests/gan/test_penalties.py.
        """
        return u.reshape((u.shape[0],) + self.shape)

    def __repr__(self):
        return f"Reshape{self.shape}" if len(self.shape) > 1 else f"Reshape({self.shape[0]})"
