"""Index gymnastics for the convolutions: padding, im2col and its adjoint col2im, all channels-last.

The conv layers take and return NCHW arrays, but compute on the channels-last
(NHWC) view ``x.transpose(0, 2, 3, 1)``. Their outputs are NCHW views of NHWC
memory, so the next conv's transpose is free and every product below is one
2-D matrix product whose result is already in the next layer's layout.

For a padded input xpad (N, Hp, Wp, C), kernel (kh, kw) and stride (sh, sw) (every size
argument below is such a (height, width) pair):

    im2col:  cols[n, i, j, a, b, c] = xpad[n, i*sh + a, j*sw + b, c]
             as a matrix (N*Hout*Wout, kh*kw*C), built from a strided view and one copy.
    col2im:  out[n, i*sh + a, j*sw + b, c] += cols[n, i, j, a, b, c]
             a loop over the kh*kw offsets (a, b), each adding one strided slice.

col2im is the adjoint (transpose) of im2col: <im2col(x), c> = <x, col2im(c)> for
all x and c, which is why it is both Conv2d's backward and ConvTranspose2d's forward.
Both layers need it applied to a product, col2im(A @ W_mat), and ``matmul_col2im``
computes that offset by offset: the columns of W_mat for offset (a, b) are the weight
slice W[:, :, a, b], so each offset is one small matrix product whose result is added
while still in cache, and the full (rows, kh*kw*C) product is never stored.
"""
from .. import backend
from ..backend import cpu, cuda


def pad_hw(x, padding):
    """Zero-pad the two spatial axes of an NHWC array by padding = (ph, pw): (N, H, W, C) -> (N, H+2ph, W+2pw, C)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    N, H, W, C = x.shape
    out = backend.xp_of(x).zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=x.dtype)
    out[:, ph:ph + H, pw:pw + W, :] = x
    return out


def crop_hw(xpad, padding, size):
    """The inverse of pad_hw: the (H, W) = size interior of an NHWC array padded by (ph, pw); a view."""
    (ph, pw), (H, W) = padding, size
    return xpad[:, ph:ph + H, pw:pw + W, :]


def window_view(xpad, kernel, stride, out_size):
    """A read-only strided view (N, Hout, Wout, kh, kw, C) of every kernel window of xpad; no copy."""
    xp = backend.xp_of(xpad)
    N, _, _, C = xpad.shape
    sN, sH, sW, sC = xpad.strides
    return xp.lib.stride_tricks.as_strided(
        xpad, shape=(N, *out_size, *kernel, C), strides=(sN, sH * stride[0], sW * stride[1], sH, sW, sC)
    )


def im2col(xpad, kernel, stride, out_size):
    """Every kernel window of an NHWC array as one row: (N*Hout*Wout, kh*kw*C), a new array."""
    N, _, _, C = xpad.shape
    return window_view(xpad, kernel, stride, out_size).reshape(N * out_size[0] * out_size[1], -1)


def _offset(a, b, stride, grid):
    """The slice of the padded array that kernel offset (a, b) reaches from a grid of (Hg, Wg) windows."""
    (sh, sw), (Hg, Wg) = stride, grid
    return slice(a, a + sh * (Hg - 1) + 1, sh), slice(b, b + sw * (Wg - 1) + 1, sw)


def col2im(cols, padded_shape, stride):
    """Adjoint of im2col: scatter-add windows (N, Hout, Wout, kh, kw, C) into a zero (N, Hp, Wp, C) array.

    A loop over the kh*kw kernel offsets, each adding one strided slice. The layers call
    ``matmul_col2im``, which computes col2im(A @ W_mat) without storing the product; the tests
    check both against the loop-form definition ``minigan.nn.reference.col2im``.
    """
    N, Hout, Wout, kh, kw, C = cols.shape
    out = backend.xp_of(cols).zeros(padded_shape, dtype=cols.dtype)
    for a in range(kh):
        for b in range(kw):
            rows, columns = _offset(a, b, stride, (Hout, Wout))
            out[:, rows, columns, :] += cols[:, :, :, a, b, :]
    return out


CHUNK_BYTES = 2 * 2**20    # the most output one chunk of images writes: small enough to stay in cache
MIN_COMPILED_CHANNELS = 8  # below this many output channels NumPy's strided add beats the compiled loop


def matmul_col2im(A, W, grid, padded_shape, stride):
    """col2im(A @ W_mat) without forming A @ W_mat: out[n, i*sh + a, j*sw + b, :] += (A @ W[:, :, a, b])[n, i, j, :].

    Shapes: A (N*Hg*Wg, K) with rows ordered (n, i, j) over the grid (N, Hg, Wg); W (K, C, kh, kw);
    out (N, Hp, Wp, C) = padded_shape. Images never mix, so the batch goes in chunks of images
    whose output is at most ``CHUNK_BYTES``: each offset's product is then added into memory
    still in cache (the DCGAN's ConvTranspose2d(128, 64) at batch 128: about a quarter faster).
    On CuPy: ``minigan.backend.cuda.matmul_col2im``, one GEMM and one gather kernel.
    """
    if backend.is_cupy_array(A):
        return cuda.matmul_col2im(A, W, grid, padded_shape, stride)
    N, Hg, Wg = grid
    xp = backend.xp_of(A)
    out = xp.zeros(padded_shape, dtype=A.dtype)
    per_chunk = max(1, CHUNK_BYTES // max(1, out[0].nbytes))           # images
    rows = Hg * Wg                                                     # of A, per image
    part = xp.empty((min(per_chunk, N) * rows, W.shape[1]), dtype=A.dtype)
    for n in range(0, N, per_chunk):
        m = min(per_chunk, N - n)
        _add_offset_products(A[n * rows:(n + m) * rows], W, (m, Hg, Wg), out[n:n + m], part[:m * rows], stride)
    return out


def _add_offset_products(A, W, grid, out, part, stride):
    """out[n, i*sh + a, j*sw + b, :] += (A @ W[:, :, a, b])[n, i, j, :], one offset (a, b) at a time, via ``part``."""
    _, C, kh, kw = W.shape
    xp = backend.xp_of(A)
    compiled = C >= MIN_COMPILED_CHANNELS and cpu.handles(part, out)
    for a in range(kh):
        for b in range(kw):
            xp.matmul(A, W[:, :, a, b], out=part)                      # (m*Hg*Wg, C)
            if compiled:                                               # the same sums, added faster
                cpu.add_offset(part.reshape(*grid, -1), out, (a, b), stride)
                continue
            rows, columns = _offset(a, b, stride, grid[1:])
            out[:, rows, columns, :] += part.reshape(*grid, -1)
