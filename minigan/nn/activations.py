"""Elementwise activations: LeakyReLU, ReLU, Sigmoid, Tanh.

For y = f(x) applied elementwise, y[i] depends on x[i] alone, so dx = dy * f'(x):

1. LeakyReLU: f'(x) = 1 if x > 0 else negative_slope (ReLU: slope 0; at the kink x = 0 the
   left slope).
2. Sigmoid: f'(x) = sigma(x) * (1 - sigma(x)) = y * (1 - y).
3. Tanh: f'(x) = 1 - tanh(x)² = 1 - y².
4. The forward tangent of a direction u (the second pass of a gradient penalty): u * f'(x). For
   LeakyReLU and ReLU f' is constant wherever x != 0, so the tangent map does not move with x
   and the penalty needs nothing more; Sigmoid's and Tanh's f' moves with x, which would add
   second-derivative terms, and ``gan.penalties`` refuses them (docs/derivations.md,
   "Gradient penalties").

Each keeps, for backward, the one array its derivative needs: a per-element
scale for the piecewise-linear ones (multiplying by it is much faster in NumPy
than ``where`` with a data-dependent mask), the output y for Sigmoid and Tanh.
Shapes: any; y and dx have x's shape and dtype.
Derivation: docs/derivations.md, "Elementwise activations" (steps 1-4). Tests: tests/nn/test_activations.py.
"""
from .. import backend
from ..backend import cpu, cuda
from .module import Layer


class LeakyReLU(Layer):
    """y = x if x > 0 else negative_slope * x, elementwise.

    Backward: dx = dy * scale, scale = 1 if x > 0 else negative_slope (step 1).   Shapes: any; y and dx match x.
    Derivation: docs/derivations.md, "Elementwise activations". Tests: tests/nn/test_activations.py.

    Parameters
    ----------
    negative_slope : float
        The slope for x <= 0, between 0 and 1 (DCGAN uses 0.2).
    """

    def __init__(self, negative_slope=0.2):
        super().__init__()
        if not 0.0 <= float(negative_slope) < 1.0:
            raise ValueError(f"LeakyReLU: negative_slope must be in [0, 1), got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        self._check_input(x)
        y, scale = leaky_relu(x, self.negative_slope)
        self._save(x.shape, scale, x.dtype)
        return y

    def backward(self, dy):
        """dx = dy * scale, the per-element slope saved by forward (step 1)."""
        scale = self._pop_cache(dy)
        return cuda.multiply(dy, scale) if backend.is_cupy_array(dy) else dy * scale

    def tangent(self, x, u, dy=None):
        """Forward tangent u * scale, with the slopes of the input x (step 4); no parameters, so dy is unused.

        Exact for a gradient penalty because scale is constant wherever x != 0 (docs/derivations.md,
        "Gradient penalties"). Shapes: x, u and the result alike. Tests: tests/gan/test_penalties.py.
        """
        _, scale = leaky_relu(x, self.negative_slope)
        return cuda.multiply(u, scale) if backend.is_cupy_array(u) else u * scale

    def __repr__(self):
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class ReLU(Layer):
    """y = max(x, 0), elementwise.

    Backward: dx = dy * scale, scale = 1 if x > 0 else 0 (step 1 with slope 0).   Shapes: any; y and dx match x.
    Derivation: docs/derivations.md, "Elementwise activations". Tests: tests/nn/test_activations.py.
    """

    def forward(self, x):
        self._check_input(x)
        scale = (x > 0).astype(x.dtype)
        self._save(x.shape, scale, x.dtype)
        return x * scale

    def backward(self, dy):
        """dx = dy * scale, 1 where x > 0 and 0 elsewhere (step 1)."""
        return dy * self._pop_cache(dy)

    def tangent(self, x, u, dy=None):
        """Forward tangent u * scale, 1 where x > 0 and 0 elsewhere (step 4); dy is unused.

        Shapes: x, u and the result alike. Derivation: docs/derivations.md, "Gradient penalties".
        Tests: tests/gan/test_penalties.py.
        """
        return u * (x > 0).astype(u.dtype)


class Sigmoid(Layer):
    """y = sigma(x) = 1 / (1 + exp(-x)), computed as 0.5 * (1 + tanh(0.5 * x)) so it never overflows.

    Backward: dx = dy * y * (1 - y) (step 2).   Shapes: any; y and dx match x.
    Derivation: docs/derivations.md, "Elementwise activations". Tests: tests/nn/test_activations.py.
    """

    def forward(self, x):
        self._check_input(x)
        y = backend.xp_of(x).tanh(0.5 * x)
        y += 1.0
        y *= 0.5
        self._save(y.shape, y, y.dtype)
        return y

    def backward(self, dy):
        """dx = dy * y * (1 - y), from the saved output y (step 2)."""
        y = self._pop_cache(dy)
        return dy * y * (1.0 - y)


class Tanh(Layer):
    """y = tanh(x), elementwise.

    Backward: dx = dy * (1 - y²) (step 3).   Shapes: any; y and dx match x.
    Derivation: docs/derivations.md, "Elementwise activations". Tests: tests/nn/test_activations.py.
    """

    def forward(self, x):
        self._check_input(x)
        y = backend.xp_of(x).tanh(x)
        self._save(y.shape, y, y.dtype)
        return y

    def backward(self, dy):
        """dx = dy * (1 - y²), from the saved output y (step 3)."""
        y = self._pop_cache(dy)
        return dy * (1.0 - y * y)


def leaky_relu(x, slope):
    """(y, scale): scale = 1 where x > 0 else slope, y = x * scale (LeakyReLU's step 1).

    One kernel on CuPy; one compiled loop on NumPy where ``minigan.backend.cpu`` is on (the same numbers).
    """
    if backend.is_cupy_array(x):
        return cuda.leaky_relu(x, slope)
    if cpu.handles(x, any_order=True):
        return cpu.leaky_relu(x, slope)
    scale = (x > 0).astype(x.dtype)          # 1 where x > 0, else 0
    scale *= 1.0 - slope
    scale += slope                           # 1 where x > 0, else slope
    return x * scale, scale
