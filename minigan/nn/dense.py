"""Dense (fully connected) layer: y = x @ W + b.

Derivation (docs/derivations.md, "Dense"), with y[n, k] = sum_i x[n, i] * W[i, k] + b[k]:

1. dL/dW[i, k] = sum_n x[n, i] * dy[n, k], so dW = x.T @ dy, and db = sum_n dy[n].
2. dL/dx[n, i] = sum_k dy[n, k] * W[i, k], so dx = dy @ W.T.

The second pass of a gradient penalty (docs/derivations.md, "Gradient penalties"):

3. The forward tangent of an input direction u is u @ W (the bias does not move with x).
4. d<u @ W, dy>/dW[i, k] = sum_n u[n, i] * dy[n, k], so dW += u.T @ dy; the bias gets nothing.
"""
from ..backend import matmul, sum_rows
from .init import make_weight_and_bias
from .module import Layer, Parameter
from .sizes import check_sizes


class Dense(Layer):
    """Affine map y = x @ W + b.

    Backward: dW += x.T @ dy,  db += sum_n dy[n] (step 1),  dx = dy @ W.T (step 2; None when
    ``needs_dx`` is False).
    Shapes: x (N, in_features) -> y (N, out_features); W (in_features, out_features), b (out_features,).
    Derivation: docs/derivations.md, "Dense". Tests: tests/nn/test_dense.py.

    Parameters
    ----------
    in_features, out_features : int
    init : {"dcgan", "he", "glorot", "torch"}
        Weight initialisation, see ``minigan.nn.init``.
    rng : int, numpy.random.Generator or None
        Seed or generator for the initial weights (None: fresh entropy).
    dtype : str, optional
        Parameter dtype; defaults to ``minigan.get_default_dtype()``.
    """

    def __init__(self, in_features, out_features, init="dcgan", rng=None, dtype=None):
        super().__init__()
        check_sizes("Dense", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        W, b = make_weight_and_bias("Dense", (in_features, out_features), out_features, init, rng, dtype)
        self.W, self.b = Parameter(W), Parameter(b)

    def forward(self, x):
        self._check_input(x, ("N", self.in_features))
        y = matmul(x, self.W.data)
        y += self.b.data
        self._save(y.shape, x, y.dtype)
        return y

    def backward(self, dy):
        """Add dW = x.T @ dy and db = sum_n dy into the gradients (step 1); return dx = dy @ W.T (step 2)."""
        x = self._pop_cache(dy)
        if not self.frozen:
            self.W.grad += matmul(x.T, dy)
            self.b.grad += sum_rows(dy)
        return matmul(dy, self.W.data.T) if self.needs_dx else None

    def tangent(self, x, u, dy=None):
        """Forward tangent u @ W (step 3); with dy, add d<u @ W, dy>/dW = u.T @ dy into W.grad (step 4).

        The second pass of ``gan.penalties``: ``u`` is the direction carried up from D's input, ``dy``
        the cotangent the first backward brought to this layer's output. Shapes: x, u (N, in) ->
        (N, out); dy (N, out). Tests: tests/gan/test_penalties.py.
        """
        if dy is not None and not self.frozen:
            self.W.grad += matmul(u.T, dy)
        return matmul(u, self.W.data)

    def __repr__(self):
        return f"Dense({self.in_features}, {self.out_features})"
