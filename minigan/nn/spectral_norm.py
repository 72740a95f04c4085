"""Spectral normalisation (Miyato et al. 2018): a layer run with its weight divided by its largest singular value.

The wrapped layer (Dense, Conv2d or ConvTranspose2d) computes with W̄ = W / σ(W), σ the spectral
norm of W as a matrix M (one row per output channel: Dense's Wᵀ, Conv2d's W.reshape(C_out, -1),
ConvTranspose2d's W with its two channel axes swapped, then flattened: PyTorch's layouts). σ is
estimated by power iteration with vectors u (rows) and v (columns) kept between steps, and, as
in PyTorch and the authors' code, differentiated with u and v held fixed.
Derivation (docs/derivations.md, "Spectral normalisation"):

1. Power iteration, in training mode only, once per forward: u = M v / ‖M v‖, then
   v = Mᵀu / ‖Mᵀu‖ (‖·‖ floored at eps; PyTorch's order); in eval mode u and v stay as they are.
2. σ = uᵀ M v and W̄ = W / σ; the wrapped layer runs on W̄ (its bias as it is).
3. With u and v fixed, ∂σ/∂M = u vᵀ, so for the gradient dW̄ that the wrapped layer computes,
   dW = dW̄ / σ − ⟨dW̄, W⟩ / σ² · u vᵀ = (dW̄ − ⟨dW̄, W̄⟩ · u vᵀ) / σ, with u vᵀ laid out as W.
4. For a gradient penalty, the forward tangent is the wrapped layer's on W̄, and what it adds
   for W̄ is turned into W's by step 3 (u, v, σ those of the forward the penalty differentiates).

Tests: tests/nn/test_spectral_norm.py.
"""
from .. import backend
from ..backend import matmul
from ..checks import is_int, is_number
from .conv import Conv2d, ConvTranspose2d
from .dense import Dense
from .module import Layer, Parameter


class _Normalised:
    """W̄ in the wrapped layer's place: its data and gradient, but not a Parameter (no optimizer sees it)."""

    def __init__(self, data):
        self.data, self.grad = data, backend.xp_of(data).zeros_like(data)

    @property
    def dtype(self):
        return self.data.dtype


class SpectralNorm(Layer):
    """``layer`` run with W̄ = W / σ(W), σ ≈ its largest singular value by power iteration (steps 1-2).

    Backward: the wrapped layer's backward on W̄ gives dx, db and dW̄; then
    dW += (dW̄ − ⟨dW̄, W̄⟩ · u vᵀ) / σ (step 3; u, v fixed). ``u`` and ``v`` are buffers (saved in
    checkpoints), updated by one power iteration per forward in training mode and never in eval mode.
    Shapes: as the wrapped layer; u (rows of M,), v (columns of M,).
    Derivation: docs/derivations.md, "Spectral normalisation". Tests: tests/nn/test_spectral_norm.py.

    Parameters
    ----------
    layer : Dense, Conv2d or ConvTranspose2d
        The layer to normalise; its weight becomes this wrapper's parameter ``W``, its bias stays its own.
    n_power_iterations : int
        Power iterations per forward in training mode (1, as in the paper and PyTorch).
    eps : float
        The floor of the norms in the power iteration.
    rng : int, numpy.random.Generator or None
        Draws the first u and v (then refined by 15 power iterations, as PyTorch does).
    """

    _buffer_names = ("u", "v")
    _copied_buffers = ("u", "v")        # a weight average copies them: an average of unit vectors is not one

    def __init__(self, layer, n_power_iterations=1, eps=1e-12, rng=None):
        super().__init__()
        if not isinstance(layer, (Dense, Conv2d, ConvTranspose2d)):
            raise TypeError(f"SpectralNorm: layer must be a Dense, Conv2d or ConvTranspose2d (a layer with a "
                            f"weight matrix), got {layer!r}")
        if not is_int(n_power_iterations, 1):
            raise ValueError(f"SpectralNorm: n_power_iterations must be a positive int, got {n_power_iterations!r}")
        if not (is_number(eps) and eps > 0):
            raise ValueError(f"SpectralNorm: eps must be a positive number, got {eps!r}")
        self.layer, self.n_power_iterations, self.eps = layer, n_power_iterations, float(eps)
        self.W = layer.W                                 # the trained weight moves here
        layer.W = _Normalised(self.W.data)
        M = self._matrix(self.W.data)
        rng = backend.as_rng(rng)
        self.u = self._normalise(backend.asarray(rng.standard_normal(M.shape[0]), M.dtype))
        self.v = self._normalise(backend.asarray(rng.standard_normal(M.shape[1]), M.dtype))
        self._power_iteration(M, 15)
        self._last = None

    def children(self):
        return [self.layer]

    # -- the weight as a matrix, one row per output channel (PyTorch's layout) -------------------
    def _matrix(self, W):
        if isinstance(self.layer, Dense):
            return W.T                                   # (out, in)
        if isinstance(self.layer, ConvTranspose2d):
            W = W.transpose(1, 0, 2, 3)                  # (C_out, C_in, kh, kw)
        return W.reshape(W.shape[0], -1)                 # (C_out, C_in*kh*kw)

    def _as_weight(self, M):
        """A matrix laid out as M, back in W's layout (the inverse of ``_matrix``)."""
        shape = self.W.data.shape
        if isinstance(self.layer, Dense):
            return M.T
        if isinstance(self.layer, ConvTranspose2d):
            return M.reshape(shape[1], shape[0], *shape[2:]).transpose(1, 0, 2, 3)
        return M.reshape(shape)

    def _normalise(self, a):
        xp = backend.xp_of(a)
        return a / xp.maximum(xp.sqrt((a * a).sum()), self.eps)          # no host read: fine inside a step

    def _power_iteration(self, M, n):
        """Step 1, ``n`` times: u = Mv/‖Mv‖, v = Mᵀu/‖Mᵀu‖ (new arrays: a cached u, v stays as it was)."""
        for _ in range(n):
            self.u = self._normalise(matmul(M, self.v[:, None])[:, 0])
            self.v = self._normalise(matmul(M.T, self.u[:, None])[:, 0])

    def sigma(self, u=None, v=None):
        """σ = uᵀ M v (step 2), a device scalar; u, v default to the current ones."""
        u, v = (self.u, self.v) if u is None else (u, v)
        return (u * matmul(self._matrix(self.W.data), v[:, None])[:, 0]).sum()

    # -- the layer protocol --------------------------------------------------------------------
    def forward(self, x):
        if self.training:
            self._power_iteration(self._matrix(self.W.data), self.n_power_iterations)   # step 1
        sigma = self.sigma()                                                              # step 2
        W_bar = self.W.data / sigma
        self.layer.W.data = W_bar
        y = self.layer(x)
        self._last = (self.u, self.v)
        self._save(y.shape, (W_bar, sigma, self.u, self.v), y.dtype)
        return y

    def backward(self, dy):
        """The wrapped layer's backward on W̄ (dx, db, dW̄); then dW += (dW̄ − ⟨dW̄, W̄⟩ u vᵀ) / σ (step 3)."""
        W_bar, sigma, u, v = self._pop_cache(dy)
        self.layer.needs_dx = self.needs_dx
        return self._through_inner(W_bar, sigma, u, v, lambda: self.layer.backward(dy))

    def tangent(self, x, u_in, dy=None):
        """The wrapped layer's forward tangent on W̄; what it adds for W̄ becomes W's by step 3 (step 4).

        Uses the u and v of the last forward (the one a gradient penalty differentiates) and W as it is.
        Tests: tests/nn/test_spectral_norm.py.
        """
        if self._last is None:
            raise RuntimeError(f"{self!r}: tangent called before forward")
        u, v = self._last                                # σ and W̄ from W as it is now: the same as the forward's
        sigma = self.sigma(u, v)
        return self._through_inner(self.W.data / sigma, sigma, u, v, lambda: self.layer.tangent(x, u_in, dy),
                                   adds=dy is not None)

    def _through_inner(self, W_bar, sigma, u, v, call, adds=True):
        """``call()`` (the wrapped layer's backward or tangent) on W̄, from a zero dW̄; then step 3 turns
        the dW̄ it added into W's gradient (unless frozen, or ``adds`` is False: nothing was added)."""
        self.layer.W.data = W_bar
        self.layer.W.grad = backend.xp_of(W_bar).zeros_like(W_bar)
        out = call()
        if adds and not self.frozen:
            self.W.grad += self._weight_grad(self.layer.W.grad, W_bar, sigma, u, v)
        return out

    def _weight_grad(self, dW_bar, W_bar, sigma, u, v):
        """Step 3: (dW̄ − ⟨dW̄, W̄⟩ · u vᵀ) / σ, in W's layout."""
        outer = self._as_weight(matmul(u[:, None], v[None, :]))                          # u vᵀ as W
        return (dW_bar - (dW_bar * W_bar).sum() * outer) / sigma

    def astype(self, dtype):
        super().astype(dtype)
        self.layer.W = _Normalised(self.W.data)
        self._last = None
        return self

    def __repr__(self):
        return f"SpectralNorm({self.layer!r})"
