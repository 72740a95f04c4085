"""Batch normalisation over the batch (and spatial) axes, following PyTorch's conventions.

Each channel is normalised over its m values (m = N for BatchNorm1d, N*H*W for BatchNorm2d).
Derivation: docs/derivations.md, "BatchNorm", numbered as here; the code cites the steps.

1. Forward: mu = mean(x), var = mean((x - mu)²) (biased), inv_std = 1 / sqrt(var + eps),
   xhat = (x - mu) * inv_std, y = gamma * xhat + beta.
2. The affine part: dgamma = sum(dy * xhat), dbeta = sum(dy), dxhat = dy * gamma.
3. xhat_i depends on x_j directly and through mu and var:
   d xhat_i / d x_j = (inv_std / m) * (m [i = j] - 1 - xhat_i * xhat_j).
4. Summing over i: dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),
   the two means being the paths through mu and through var.
5. Evaluation mode uses the running statistics, constants with respect to x, so
   dx = dxhat * inv_std with inv_std = 1 / sqrt(running_var + eps).

What the code computes: it works on a matrix X (m, C), one column per channel (for BatchNorm2d
the channels-last view of x, free for a convolution's output), and takes the per-channel sums as
one BLAS product ones @ X. Since dxhat = dy * gamma, step 4's means are gamma * dbeta / m and
gamma * dgamma / m, so it runs step 4 as dx = gamma * inv_std * (dy - dbeta/m - xhat * dgamma/m),
reusing the sums of step 2.

Running statistics (training mode only): running_mean = (1 - momentum) * running_mean + momentum * mu,
running_var = (1 - momentum) * running_var + momentum * var * m / (m - 1) (unbiased). Defaults
eps = 1e-5, momentum = 0.1, as in PyTorch. Unlike PyTorch, a channel whose batch statistics are not
finite keeps its running statistics (its output for that batch is NaN all the same).
"""
from .. import backend
from ..backend import cpu, cuda
from .module import Layer, Parameter
from .sizes import check_sizes


class _BatchNorm(Layer):
    """Shared code on a matrix X (m, C) of the values to normalise; subclasses say how x maps to X."""

    _buffer_names = ("running_mean", "running_var")

    def __init__(self, num_features, momentum=0.1, eps=1e-5, dtype=None):
        super().__init__()
        name = type(self).__name__
        check_sizes(name, num_features=num_features)
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum!r}")
        if not float(eps) > 0.0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        self.num_features, self.momentum, self.eps = num_features, float(momentum), float(eps)
        xp, dtype = backend.xp(), dtype or backend.get_default_dtype()
        self.gamma = Parameter(xp.ones(num_features, dtype=dtype))
        self.beta = Parameter(xp.zeros(num_features, dtype=dtype))
        self.running_mean = xp.zeros(num_features, dtype=dtype)
        self.running_var = xp.ones(num_features, dtype=dtype)

    def _dims(self):
        raise NotImplementedError

    def _to_rows(self, x):
        """x as a matrix X (m, C), one row per normalised position; a free view where the layout allows."""
        raise NotImplementedError

    def _from_rows(self, Y, shape):
        """The inverse of _to_rows: Y (m, C) laid out as an array of x's shape."""
        raise NotImplementedError

    def forward(self, x):
        self._check_input(x, self._dims())
        X = self._to_rows(x)                                             # (m, C)
        if self.training:
            if X.shape[0] < 2:
                raise ValueError(f"{self!r}: training mode needs more than one value per channel, "
                                 f"got x of shape {tuple(x.shape)}; use a larger batch or .eval()")
            Y, xhat, inv_std = self._batch_forward(X)
        else:
            xhat = X - self.running_mean                                 # step 5
            inv_std = 1.0 / backend.xp_of(x).sqrt(self.running_var + self.eps)
            xhat *= inv_std
            Y = xhat * self.gamma.data
            Y += self.beta.data
        y = self._from_rows(Y, x.shape)
        self._save(y.shape, (xhat, inv_std, self.training), y.dtype)
        return y

    def _batch_forward(self, X):
        """Step 1 with the batch's statistics, which also move the running ones: (Y, xhat, inv_std)."""
        if backend.is_cupy_array(X):                                     # the same in a few kernels
            return cuda.batchnorm_forward(X, self.gamma.data, self.beta.data, self.eps, self.momentum,
                                          self.running_mean, self.running_var)
        m = X.shape[0]
        if cpu.handles(X, self.gamma.data, self.beta.data):             # the same numbers in fewer passes
            Y, xhat, mu, var, inv_std = cpu.batchnorm_forward(X, self.gamma.data, self.beta.data, self.eps)
            self._update_running_stats(mu, var, m)
            return Y, xhat, inv_std
        ones = backend.xp_of(X).ones(m, dtype=X.dtype)                   # column sums as one BLAS product
        mu = (ones @ X) / m
        xc = X - mu
        var = (ones @ (xc * xc)) / m
        inv_std = 1.0 / backend.xp_of(X).sqrt(var + self.eps)
        self._update_running_stats(mu, var, m)
        xhat = xc
        xhat *= inv_std
        Y = xhat * self.gamma.data
        Y += self.beta.data
        return Y, xhat, inv_std

    def _update_running_stats(self, mu, var, m):
        """Move the running statistics towards this batch's (module docstring, last paragraph).

        A channel whose batch statistics are not finite (a NaN or inf in x) keeps its running
        statistics: its output for this batch is NaN, which the caller sees, but one bad batch
        cannot leave the layer's evaluation mode broken for good.
        """
        xp = backend.xp_of(mu)
        finite = xp.isfinite(mu) & xp.isfinite(var)
        mean = (1.0 - self.momentum) * self.running_mean + self.momentum * mu
        unbiased = (1.0 - self.momentum) * self.running_var + (self.momentum * m / (m - 1)) * var
        xp.copyto(self.running_mean, mean, where=finite)
        xp.copyto(self.running_var, unbiased, where=finite)

    def backward(self, dy):
        """Add dgamma and dbeta into the gradients (step 2); return dx (step 4 fused, or step 5 in eval mode)."""
        xhat, inv_std, training = self._pop_cache(dy)
        dY = self._to_rows(dy)                                           # (m, C)
        if training and backend.is_cupy_array(dY):                       # the same in a few kernels
            grads = None if self.frozen else (self.gamma.grad, self.beta.grad)
            return self._from_rows(cuda.batchnorm_backward(dY, xhat, inv_std, self.gamma.data, grads), dy.shape)
        m = dY.shape[0]
        scale = self.gamma.data * inv_std                                # dxhat = dy * gamma, so
        if training and cpu.handles(dY, xhat, scale):                    # the same numbers in fewer passes
            dX, dgamma, dbeta = cpu.batchnorm_backward(dY, xhat, scale)
            self._add_grads(dgamma, dbeta)
            return self._from_rows(dX, dy.shape)
        ones = backend.xp_of(dY).ones(m, dtype=dY.dtype)
        dbeta = ones @ dY                                                # step 2
        dgamma = ones @ (dY * xhat)
        self._add_grads(dgamma, dbeta)
        if not training:
            return self._from_rows(dY * scale, dy.shape)                 # step 5
        # step 4 with mean(dxhat) = gamma * dbeta / m and mean(dxhat * xhat) = gamma * dgamma / m
        dX = dY * scale
        dX -= xhat * (scale * dgamma / m)
        dX -= scale * dbeta / m
        return self._from_rows(dX, dy.shape)

    def _add_grads(self, dgamma, dbeta):
        """Step 2's parameter gradients, added in unless the layer is frozen."""
        if not self.frozen:
            self.gamma.grad += dgamma
            self.beta.grad += dbeta

    def __repr__(self):
        return f"{type(self).__name__}({self.num_features}, momentum={self.momentum}, eps={self.eps})"


class BatchNorm1d(_BatchNorm):
    """Per-feature normalisation over the batch: y = gamma * (x - mu) / sqrt(var + eps) + beta.

    Backward (training): dgamma += sum(dy * xhat), dbeta += sum(dy) (step 2),
    dx = gamma * inv_std * (dy - dbeta/m - xhat * dgamma/m) (step 4, fused), sums over the m = N rows;
    eval mode: dx = dy * gamma * inv_std (step 5). Steps: the module docstring.
    Shapes: x (N, F) -> y (N, F); gamma, beta, running_mean, running_var (F,).
    Derivation: docs/derivations.md, "BatchNorm". Tests: tests/nn/test_batchnorm.py.

    Parameters
    ----------
    num_features : int
    momentum : float
        Weight of the current batch in the running statistics (PyTorch's convention), default 0.1.
    eps : float
        Added to the variance before the square root, default 1e-5.
    dtype : str, optional
    """

    def _dims(self):
        return ("N", self.num_features)

    def _to_rows(self, x):
        return x

    def _from_rows(self, Y, shape):
        return Y


class BatchNorm2d(_BatchNorm):
    """Per-channel normalisation over batch and space: y = gamma * (x - mu) / sqrt(var + eps) + beta.

    Backward (training): dgamma += sum(dy * xhat), dbeta += sum(dy) (step 2),
    dx = gamma * inv_std * (dy - dbeta/m - xhat * dgamma/m) (step 4, fused), sums over the
    m = N*H*W values of each channel; eval mode: dx = dy * gamma * inv_std (step 5).
    Shapes: x (N, C, H, W) -> y (N, C, H, W); gamma, beta, running_mean, running_var (C,).
    Derivation: docs/derivations.md, "BatchNorm". Tests: tests/nn/test_batchnorm.py.

    Parameters
    ----------
    num_channels : int
    momentum : float
        Weight of the current batch in the running statistics, default 0.1.
    eps : float
        Added to the variance before the square root, default 1e-5.
    dtype : str, optional
    """

    def __init__(self, num_channels, momentum=0.1, eps=1e-5, dtype=None):
        super().__init__(num_channels, momentum, eps, dtype)

    def _dims(self):
        return ("N", self.num_features, "H", "W")

    def _to_rows(self, x):
        return x.transpose(0, 2, 3, 1).reshape(-1, self.num_features)  # (N*H*W, C); free for conv outputs

    def _from_rows(self, Y, shape):
        N, C, H, W = shape
        return Y.reshape(N, H, W, C).transpose(0, 3, 1, 2)              # NCHW view, NHWC memory
