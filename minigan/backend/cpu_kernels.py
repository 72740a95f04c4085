"""The loops of the CPU fast path, compiled by numba; ``minigan.backend.cpu`` calls them.

Each loop does in one pass over memory what the NumPy reference does in several, with the same
floating-point operations in the same order on every element: one rounding per operation, no
fused multiply-add (numba contracts nothing unless asked with ``fastmath``), scalars in the
arrays' dtype. The results are therefore bit for bit the reference's, which
tests/backend/test_cpu.py asserts. Sums over many elements (BatchNorm's per-channel sums) are not
here: the callers take them with the same BLAS products as the reference.

Compiled machine code is cached on disk beside this file (numba's ``cache=True``; in
``NUMBA_CACHE_DIR`` where that is set), so only the first process on a machine pays the compile
time. Shapes: flat loops take 1-D arrays; the others say theirs; all C-contiguous, one dtype.
"""
import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")   # x / 0 is inf or nan, as in NumPy


@_jit
def leaky_relu(x, above, below, y, scale):
    """scale = above where x > 0, else below, and y = x * scale, elementwise over flat arrays."""
    for i in range(x.size):
        s = above if x[i] > 0 else below
        scale[i] = s
        y[i] = x[i] * s


@_jit
def center(X, mu, xc, sq):
    """xc = X - mu and sq = xc * xc for X (m, C) and mu (C,): BatchNorm's step 1 before the variance."""
    m, C = X.shape
    for r in range(m):
        for c in range(C):
            d = X[r, c] - mu[c]
            xc[r, c] = d
            sq[r, c] = d * d


@_jit
def normalize(xhat, inv_std, gamma, beta, Y):
    """xhat *= inv_std in place, then Y = xhat * gamma + beta (two roundings): the rest of step 1."""
    m, C = xhat.shape
    for r in range(m):
        for c in range(C):
            h = xhat[r, c] * inv_std[c]
            xhat[r, c] = h
            t = h * gamma[c]
            Y[r, c] = t + beta[c]


@_jit
def multiply(a, b, out):
    """out = a * b for arrays of one 2-D shape (BatchNorm's dY * xhat before its column sums)."""
    m, C = a.shape
    for r in range(m):
        for c in range(C):
            out[r, c] = a[r, c] * b[r, c]


@_jit
def batchnorm_dx(dY, xhat, scale, per_xhat, shift, dX):
    """dX = dY * scale - xhat * per_xhat - shift, per column, in the reference's order: BatchNorm's step 4."""
    m, C = dY.shape
    for r in range(m):
        for c in range(C):
            t = dY[r, c] * scale[c]
            t = t - xhat[r, c] * per_xhat[c]
            dX[r, c] = t - shift[c]


@_jit
def adam(p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, bias2_sqrt, eps):
    """Adam's steps 2-3 over flat arrays, each element's operations in the reference's order."""
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * beta1
        mi = mi + one_minus_beta1 * gi
        vi = v[i] * beta2
        vi = vi + one_minus_beta2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        denom = np.sqrt(vi) / bias2_sqrt
        denom = denom + eps
        p[i] = p[i] - step_size * (mi / denom)


@_jit
def add_offset(part, out, a, b, sh, sw):
    """out[n, i*sh + a, j*sw + b, :] += part[n, i, j, :]: one kernel offset of col2im."""
    m, Hg, Wg, C = part.shape
    for n in range(m):
        for i in range(Hg):
            for j in range(Wg):
                o = out[n, i * sh + a, j * sw + b]
                q = part[n, i, j]
                for c in range(C):
                    o[c] += q[c]
