"""The convolutions by their definitions: one output element at a time, as a textbook writes them.

These functions are written to be read, not run on real data: plain loops over NCHW arrays,
no im2col, no layouts. They are the definitions that the fast layers in ``minigan.nn.conv``
(matrix products on im2col windows) must equal, and tests/nn/test_conv.py and tests/nn/test_im2col.py
prove that they do, forward and backward, in float64. docs/derivations.md quotes them.

Conventions: x (N, C, H, W); stride = (sh, sw) and padding = (ph, pw) pairs; ``xpad`` is x
with ph rows of zeros above and below and pw columns left and right. The loops run over
``indices(*shape)``, every index of an array in order: ``for n, o, i, j in indices(*y.shape)``
reads "for every element y[n, o, i, j]".

Each backward is written with the adjoint said in code: Conv2d's input gradient *is* a
ConvTranspose2d forward with the same weights, and ConvTranspose2d's input gradient *is* a
Conv2d forward. The weight gradients share one loop (``weight_gradient``) with the roles of the
input and the upstream gradient swapped.
"""
import itertools

from .. import backend
from .sizes import conv_output_size, conv_transpose_output_size


def indices(*sizes):
    """Every index tuple of an array of shape ``sizes``, in row-major order (NumPy's ndindex)."""
    return itertools.product(*(range(n) for n in sizes))


def _zeros(shape, like):
    return backend.xp_of(like).zeros(shape, dtype=like.dtype)


def pad(x, padding):
    """xpad: x (N, C, H, W) with ph zero rows above and below and pw zero columns on each side."""
    ph, pw = padding
    N, C, H, W = x.shape
    xpad = _zeros((N, C, H + 2 * ph, W + 2 * pw), x)
    xpad[:, :, ph:ph + H, pw:pw + W] = x
    return xpad


def conv2d(x, W, b, stride, padding):
    """y[n, o, i, j] = b[o] + sum over c, a, e of W[o, c, a, e] * xpad[n, c, i*sh + a, j*sw + e].

    Shapes: x (N, C_in, H, W), W (C_out, C_in, kh, kw), b (C_out,) -> y (N, C_out, Hout, Wout).
    """
    (sh, sw), (kh, kw) = stride, W.shape[2:]
    xpad = pad(x, padding)
    N, C_in = x.shape[:2]
    Hout = conv_output_size(x.shape[2], kh, sh, padding[0])
    Wout = conv_output_size(x.shape[3], kw, sw, padding[1])
    y = _zeros((N, W.shape[0], Hout, Wout), x)
    for n, o, i, j in indices(*y.shape):
        total = b[o]
        for c, a, e in indices(C_in, kh, kw):
            total += W[o, c, a, e] * xpad[n, c, i * sh + a, j * sw + e]
        y[n, o, i, j] = total
    return y


def conv_transpose2d(x, W, b, stride, padding, out_size=None):
    """y[n, o, p, q] = b[o] + sum of x[n, c, i, j] * W[c, o, a, e] over all c, i, j, a, e
    with i*sh + a - ph = p and j*sw + e - pw = q.

    Read the other way round, each input pixel x[n, c, i, j] stamps its kernel W[c], scaled by
    its value, onto the output at (i*sh - ph, j*sw - pw). For one output pixel the kernel
    offsets that reach it are a = p + ph - i*sh, for each input row i that puts a in [0, kh).
    ``out_size`` (Hout, Wout) defaults to ((H - 1)*sh - 2*ph + kh, likewise); a larger one adds
    rows and columns that no stamp reaches (b alone), as a Conv2d input can have rows that no
    window reads.
    Shapes: x (N, C_in, H, W), W (C_in, C_out, kh, kw), b (C_out,) -> y (N, C_out, Hout, Wout).
    """
    (sh, sw), (ph, pw), (kh, kw) = stride, padding, W.shape[2:]
    N, C_in, H, Wd = x.shape
    if out_size is None:
        out_size = (conv_transpose_output_size(H, kh, sh, ph), conv_transpose_output_size(Wd, kw, sw, pw))
    y = _zeros((N, W.shape[1], *out_size), x)
    for n, o, p, q in indices(*y.shape):
        total = b[o]
        for c, i, j in indices(C_in, H, Wd):
            a, e = p + ph - i * sh, q + pw - j * sw
            if 0 <= a < kh and 0 <= e < kw:
                total += x[n, c, i, j] * W[c, o, a, e]
        y[n, o, p, q] = total
    return y


def conv2d_backward(x, W, dy, stride, padding):
    """(dx, dW, db) of y = conv2d(x, W, b, stride, padding) for the upstream gradient dy.

    dx = conv_transpose2d(dy, W, 0): the adjoint of the input map, with the same weights
         (W (C_out, C_in, kh, kw) read as a transposed convolution from C_out to C_in channels).
    dW[o, c, a, e] = sum over n, i, j of dy[n, o, i, j] * xpad[n, c, i*sh + a, j*sw + e].
    db[o] = sum over n, i, j of dy[n, o, i, j].
    """
    dx = conv_transpose2d(dy, W, _zeros(W.shape[1], dy), stride, padding, out_size=x.shape[2:])
    dW = weight_gradient(x, dy, W.shape, stride, padding)
    db = dy.sum(axis=(0, 2, 3))                       # one sum per output channel
    return dx, dW, db


def conv_transpose2d_backward(x, W, dy, stride, padding):
    """(dx, dW, db) of y = conv_transpose2d(x, W, b, stride, padding) for the upstream gradient dy.

    dx = conv2d(dy, W, 0): the adjoint of the input map, with the same weights
         (W (C_in, C_out, kh, kw) read as a convolution from C_out to C_in channels).
    dW[c, o, a, e] = sum over n, i, j of x[n, c, i, j] * dypad[n, o, i*sh + a, j*sw + e]:
         Conv2d's weight gradient with the roles of x and dy swapped.
    db[o] = sum over n, p, q of dy[n, o, p, q].
    """
    dx = conv2d(dy, W, _zeros(W.shape[0], dy), stride, padding)
    dW = weight_gradient(dy, x, W.shape, stride, padding)
    db = dy.sum(axis=(0, 2, 3))
    return dx, dW, db


def weight_gradient(inp, upstream, shape, stride, padding):
    """dW[o, c, a, e] = sum over n, i, j of upstream[n, o, i, j] * inpad[n, c, i*sh + a, j*sw + e].

    Each weight meets every pair of an upstream entry and the input pixel its window puts under
    it. Conv2d's dW is this with (inp, upstream) = (x, dy); ConvTranspose2d's with (dy, x).
    Shapes: inp (N, C, H, W), padded here; upstream (N, O, H', W') -> dW of ``shape`` (O, C, kh, kw).
    """
    sh, sw = stride
    inpad = pad(inp, padding)
    N, _, H, Wd = upstream.shape
    dW = _zeros(shape, upstream)
    for o, c, a, e in indices(*shape):
        for n, i, j in indices(N, H, Wd):
            dW[o, c, a, e] += upstream[n, o, i, j] * inpad[n, c, i * sh + a, j * sw + e]
    return dW


def im2col(xpad, kernel, stride, out_size):
    """cols[(n, i, j), (a, e, c)] = xpad[n, i*sh + a, j*sw + e, c]: every kernel window of a
    channels-last array as one row.

    Shapes: xpad (N, Hp, Wp, C) -> cols (N*Hout*Wout, kh*kw*C).
    """
    (kh, kw), (sh, sw), (Hout, Wout) = kernel, stride, out_size
    N, C = xpad.shape[0], xpad.shape[3]
    cols = _zeros((N, Hout, Wout, kh, kw, C), xpad)
    for n, i, j, a, e, c in indices(*cols.shape):
        cols[n, i, j, a, e, c] = xpad[n, i * sh + a, j * sw + e, c]
    return cols.reshape(N * Hout * Wout, kh * kw * C)


def col2im(cols, padded_shape, stride):
    """out[n, i*sh + a, j*sw + e, c] += cols[n, i, j, a, e, c] for every element: the adjoint of im2col.

    A pixel covered by several windows receives the sum of their entries.
    Shapes: cols (N, Hout, Wout, kh, kw, C) -> out padded_shape (N, Hp, Wp, C).
    """
    sh, sw = stride
    out = _zeros(padded_shape, cols)
    for n, i, j, a, e, c in indices(*cols.shape):
        out[n, i * sh + a, j * sw + e, c] += cols[n, i, j, a, e, c]
    return out
