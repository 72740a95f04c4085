"""Differentiable augmentation (DiffAugment, Zhao et al. 2020): random changes of D's input that G's gradient passes through.

Each operation is affine in the image for a given random draw, so its backward is its adjoint,
applied with the same draw. For images x (N, C, H, W) in [0, 1] (docs/derivations.md,
"Differentiable augmentation"):

1. brightness: y = x + b_n, b_n ~ U[-0.25, 0.25]. Backward: dx = dy.
2. contrast: y = c_n (x - m_n) + m_n, m_n the mean of sample n, c_n ~ U[0.5, 1.5].
   Backward: dx = c_n dy + (1 - c_n) mean_n(dy), the mean over sample n's C*H*W values.
3. translation: y[n, :, i, j] = x[n, :, i + s_n, j + t_n], zero where that falls outside, with
   s_n, t_n whole pixels in [-S, S], S = round(size / 8). Backward: the opposite shift of dy, zero
   filled: dx[n, :, i, j] = dy[n, :, i - s_n, j - t_n].
4. cutout: y = x * mask, mask 0 on a square of half the image's size at a random place (clipped
   at the border), 1 elsewhere. Backward: dx = dy * mask.
5. Tangent (for a gradient penalty through the augmentation): the same maps without brightness's
   offset b_n: the linear part of each affine map.
6. With a probability p < 1 (ADA's p, Karras et al. 2020), each operation changes each image with
   probability p and leaves it as it is otherwise: its draw for that image is the identity
   (b_n = 0, c_n = 1, no shift, a cutout square outside the image), so every formula above holds.

DiffAugment's amounts were chosen for images in [-1, 1]: its brightness adds U[-0.5, 0.5], a
quarter of that range, so on minigan's [0, 1] images the same change is U[-0.25, 0.25];
contrast and saturation scale about a mean and need no change (saturation is left out: a grey
image has one channel, which it leaves as it is). Translation (1/8) and cutout (1/2) are DiffAugment's.
Tests: tests/nn/test_augment.py.
"""
import numbers

from .. import backend
from .module import Layer

OPERATIONS = ("brightness", "contrast", "translation", "cutout")


class Augment(Layer):
    """DiffAugment's operations in the order given, one random draw per forward, shared with its backward.

    Backward: each operation's adjoint in reverse order (steps 1-4 of the module docstring), with
    the forward's draw. In eval mode it is the identity. Shapes: x (N, C, H, W) -> y, dx alike.
    Derivation: docs/derivations.md, "Differentiable augmentation". Tests: tests/nn/test_augment.py.

    Parameters
    ----------
    ops : sequence of str
        A subset of ``OPERATIONS``, applied in this order (DiffAugment's "color,translation,cutout"
        is brightness, contrast, translation, cutout, the default).
    rng : int or numpy.random.Generator
        Where the draws come from (a training run passes its own generator, so a resumed run draws
        the same ones).
    p : float in [0, 1]
        The probability that an operation changes an image (step 6); 1, DiffAugment's, always.
    """

    def __init__(self, ops=OPERATIONS, rng=None, p=1.0):
        super().__init__()
        ops = tuple(ops)
        unknown = [op for op in ops if op not in OPERATIONS]
        if unknown or not ops:
            raise ValueError(f"Augment: ops must be one or more of {', '.join(OPERATIONS)}, got {list(ops)}")
        if not (isinstance(p, numbers.Real) and not isinstance(p, bool) and 0.0 <= p <= 1.0):   # NumPy's too
            raise ValueError(f"Augment: p must be a probability in [0, 1], got {p!r}")
        self.ops, self.rng, self.fixed, self.p = ops, backend.as_rng(rng), None, float(p)

    def draw(self, shape):
        """A random draw for a batch of ``shape`` (N, C, H, W): {op: host arrays}, from ``rng``."""
        N, _, H, W = shape
        draw = {}
        for op in self.ops:
            if op == "brightness":
                draw[op] = self.rng.uniform(-0.25, 0.25, N)
            elif op == "contrast":
                draw[op] = self.rng.uniform(0.5, 1.5, N)
            elif op == "translation":
                S = (int(H / 8 + 0.5), int(W / 8 + 0.5))
                draw[op] = (self.rng.integers(-S[0], S[0] + 1, N), self.rng.integers(-S[1], S[1] + 1, N))
            else:
                size = (int(H / 2 + 0.5), int(W / 2 + 0.5))
                draw[op] = (self.rng.integers(0, H + 1 - size[0] % 2, N) - size[0] // 2,
                            self.rng.integers(0, W + 1 - size[1] % 2, N) - size[1] // 2, size)
            if self.p < 1.0:                       # step 6 (p = 1 draws nothing more: the same draws as before)
                draw[op] = _identity_where(op, draw[op], self.rng.random(N) >= self.p, (H, W))
        return draw

    def fix(self, shape):
        """Draw once for batches of ``shape`` and use that draw for every forward (a fixed function: gradcheck)."""
        self.fixed = self.draw(shape)
        return self

    def forward(self, x):
        self._check_input(x, ("N", "C", "H", "W"))
        if not self.training:
            self._save(x.shape, "identity", x.dtype)
            return x
        draw = self.fixed if self.fixed is not None else self.draw(x.shape)
        self._last = draw
        y = x
        for op in self.ops:
            y = _apply(op, y, draw[op], adjoint=False, offset=True)
        self._save(y.shape, draw, y.dtype)
        return y

    def backward(self, dy):
        """Each operation's adjoint, last to first, with the forward's draw (steps 1-4)."""
        draw = self._pop_cache(dy)
        if isinstance(draw, str):
            return dy
        for op in reversed(self.ops):
            dy = _apply(op, dy, draw[op], adjoint=True)
        return dy

    def tangent(self, x, u, dy=None):
        """Forward tangent: the operations' linear parts on u, with the last forward's draw (step 5).

        Derivation: docs/derivations.md, "Differentiable augmentation". Tests: tests/nn/test_augment.py.
        """
        if not self.training:
            return u
        for op in self.ops:
            u = _apply(op, u, self._last[op], adjoint=False, offset=False)
        return u

    def __repr__(self):
        return f"Augment({', '.join(self.ops)}" + (f", p={self.p!r})" if self.p < 1.0 else ")")


def _identity_where(op, draw, unchanged, size):
    """``draw`` with the identity drawn for the images where ``unchanged`` (host bool (N,)): step 6."""
    if op == "brightness":
        return draw * ~unchanged
    if op == "contrast":
        return draw + unchanged * (1.0 - draw)     # exactly 1 where unchanged (1 - c_n is exact for c_n in [0.5, 1.5])
    if op == "translation":
        return tuple(shift * ~unchanged for shift in draw)
    lo_i = draw[0].copy()
    lo_i[unchanged] = size[0]                      # a square starting below the last row removes nothing
    return (lo_i, draw[1], draw[2])


def _apply(op, x, draw, adjoint, offset=True):
    """One operation (or its adjoint) on x with its draw; ``offset=False`` drops brightness's constant."""
    xp = backend.xp_of(x)
    N = x.shape[0]
    per_sample = (N,) + (1,) * (x.ndim - 1)
    if op == "brightness":                                                     # step 1
        return x + xp.asarray(draw, dtype=x.dtype).reshape(per_sample) if offset and not adjoint else x
    if op == "contrast":                                                       # step 2 (self-adjoint)
        c = xp.asarray(draw, dtype=x.dtype).reshape(per_sample)
        mean = x.reshape(N, -1).mean(axis=1).reshape(per_sample)
        return c * x + (1.0 - c) * mean
    if op == "translation":                                                    # step 3
        s, t = (draw[0], draw[1]) if not adjoint else (-draw[0], -draw[1])
        return _shift(x, s, t)
    lo_i, lo_j, size = (xp.asarray(draw[0])[:, None], xp.asarray(draw[1])[:, None], draw[2])   # step 4 (self-adjoint)
    H, W = x.shape[2:]
    i, j = xp.arange(H), xp.arange(W)
    rows = (i >= lo_i) & (i < lo_i + size[0])                                  # (N, H)
    cols = (j >= lo_j) & (j < lo_j + size[1])                                  # (N, W)
    keep = ~(rows[:, :, None] & cols[:, None, :])                              # (N, H, W)
    return x * keep[:, None].astype(x.dtype)


def _shift(x, s, t):
    """y[n, :, i, j] = x[n, :, i + s_n, j + t_n], zero outside (s, t host int arrays)."""
    xp = backend.xp_of(x)
    N, C, H, W = x.shape
    P = max(int(abs(s).max()), int(abs(t).max()))                             # host arrays
    xpad = xp.zeros((N, C, H + 2 * P, W + 2 * P), dtype=x.dtype)
    xpad[:, :, P:P + H, P:P + W] = x
    rows = P + xp.asarray(s)[:, None] + xp.arange(H)                           # (N, H)
    cols = P + xp.asarray(t)[:, None] + xp.arange(W)                           # (N, W)
    n = xp.arange(N)[:, None, None]
    y = xpad[n, :, rows[:, :, None], cols[:, None, :]]                          # (N, H, W, C)
    return xp.ascontiguousarray(y.transpose(0, 3, 1, 2))

