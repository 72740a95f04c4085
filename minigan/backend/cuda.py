"""The GPU fast paths: CuPy kernels that do in one launch what the NumPy reference does in several.

On a GPU a small step is bound by kernel launches, not arithmetic: the NumPy code of a layer,
run on CuPy, launches one kernel per array operation. Each function here computes exactly what
a named piece of the reference code computes, in as few launches as possible; the layers call
the reference function, which hands CuPy arrays to the function here
(``minigan.nn._im2col.matmul_col2im`` -> ``matmul_col2im``, and so on). tests/backend/test_cuda.py
compares every one with its reference, on the GPU (it skips without one).

- ``matmul``: a 2-D matrix product through cuBLAS, called directly (``gemm``), so that it can be
  recorded in a CUDA graph: CuPy 14 refuses any cuBLAS call while a stream is being captured.
- ``matmul_col2im``: one GEMM for all kernel offsets, then one gather kernel that sums the
  offsets reaching each output element (the reference adds kh*kw strided slices).
- ``leaky_relu``: the output and the saved slope in one pass.
- ``batchnorm_forward`` / ``batchnorm_backward``: training-mode BatchNorm in five or six launches
  each (two of them cuBLAS sums), instead of about twenty and twelve.
- ``adam_update``: Adam's step 2-3 over a flat buffer in one kernel, its bias corrections
  computed on the device from a device step counter, so that a captured step stays right on
  every replay.
- ``grad_norm``: the global gradient norm of a flat buffer in one reduction.

This module never imports CuPy: it uses the module that the arrays it is given come from.
"""
import ctypes
import functools
import os
import sys

from .layout import in_memory_order


_CUBLAS_OP_N, _CUBLAS_OP_T = 0, 1
_CUDA_TYPE = {"float32": 0, "float64": 1}              # CUDA_R_32F, CUDA_R_64F
_COMPUTE_TYPE = {"float32": 68, "float64": 70}         # CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_64F
_SCALAR = {"float32": ctypes.c_float, "float64": ctypes.c_double}
_GEMM_DEFAULT = -1                                     # CUBLAS_GEMM_DEFAULT


def _cupy():
    return sys.modules["cupy"]


@functools.cache
def _cublas():
    """The cuBLAS library CuPy has loaded (read from /proc/self/maps), with the two entry points used."""
    _cupy().cuda.device.get_cublas_handle()            # makes CuPy load it
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:
        return None
    path = next((p for p in sorted(paths) if os.path.basename(p).startswith("libcublas.so")), None)
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    lib.cublasSetStream_v2.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    ints = [ctypes.c_int] * 5
    lib.cublasGemmEx.argtypes = ([ctypes.c_void_p] + ints + [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                 ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int])
    return lib


def _operand(a):
    """(op, ld) for cuBLAS, which reads a's memory column-major, i.e. as a.T: op N if a is row-major, T if column-major."""
    rows, columns = a.shape
    s0, s1 = (s // a.itemsize for s in a.strides)
    if (s1 == 1 or columns == 1) and (rows == 1 or s0 >= columns):
        return _CUBLAS_OP_N, max(s0 if rows > 1 else columns, 1)
    if (s0 == 1 or rows == 1) and (columns == 1 or s1 >= rows):
        return _CUBLAS_OP_T, max(s1 if columns > 1 else rows, 1)
    return None


def gemm(a, b):
    """a @ b for 2-D CuPy arrays of one float dtype, by cublasGemmEx on CuPy's handle and stream.

    Row-major C (m, n) = A (m, k) @ B (k, n) is, read column-major, C.T = B.T @ A.T, so cuBLAS is
    asked for that product (the two operands swapped). Returns None where this path does not
    apply (no cuBLAS found, other dtypes, strides cuBLAS cannot read): the caller falls back.
    """
    lib = _cublas()
    dtype = a.dtype.name
    if lib is None or dtype not in _CUDA_TYPE or b.dtype != a.dtype or a.ndim != 2 or b.ndim != 2:
        return None
    (m, k), n = a.shape, b.shape[1]
    layout_a, layout_b = _operand(a), _operand(b)
    if layout_a is None or layout_b is None or min(m, n, k) == 0:
        return None
    cupy = _cupy()
    out = cupy.empty((m, n), dtype=a.dtype)
    handle = cupy.cuda.device.get_cublas_handle()
    _check(lib.cublasSetStream_v2(handle, cupy.cuda.get_current_stream().ptr))
    one, zero, kind = _SCALAR[dtype](1.0), _SCALAR[dtype](0.0), _CUDA_TYPE[dtype]
    _check(lib.cublasGemmEx(handle, layout_b[0], layout_a[0], n, m, k, ctypes.byref(one), b.data.ptr, kind,
                            layout_b[1], a.data.ptr, kind, layout_a[1], ctypes.byref(zero), out.data.ptr, kind, n,
                            _COMPUTE_TYPE[dtype], _GEMM_DEFAULT))
    return out


def _check(status):
    if status != 0:
        raise RuntimeError(f"cuBLAS returned status {status}")


def matmul(a, b):
    """a @ b on CuPy: ``gemm`` where it applies, else CuPy's own product."""
    out = gemm(a, b)
    return a @ b if out is None else out


@functools.cache
def _kernels():
    cupy = _cupy()
    elementwise, reduction = cupy.ElementwiseKernel, cupy.ReductionKernel
    exact = ("--fmad=false",)                          # round after every operation, as NumPy does
    return {
        "col2im": elementwise(
            "raw T P, int32 Hg, int32 Wg, int32 kh, int32 kw, int32 C, int32 Hp, int32 Wp, int32 sh, int32 sw",
            "T out",
            """
            const int c = i % C; ptrdiff_t r = i / C;
            const int x = r % Wp; r /= Wp;
            const int y = r % Hp; const ptrdiff_t n = r / Hp;
            T s = 0;
            for (int a = y % sh; a < kh && a <= y; a += sh) {
                const int gi = (y - a) / sh;
                if (gi >= Hg) continue;
                for (int b = x % sw; b < kw && b <= x; b += sw) {
                    const int gj = (x - b) / sw;
                    if (gj >= Wg) continue;
                    s += P[(((n * Hg + gi) * Wg + gj) * kh * kw + a * kw + b) * C + c];
                }
            }
            out = s;
            """, "minigan_col2im"),
        "leaky_relu": elementwise(
            "T x, T one_minus_slope, T slope", "T y, T scale",
            "scale = (x > (T)0 ? (T)1 : (T)0) * one_minus_slope + slope; y = x * scale;",
            "minigan_leaky_relu", options=exact),
        "square_deviation": elementwise("T x, T mu", "T y", "y = (x - mu) * (x - mu);", "minigan_square_deviation",
                                        options=exact),
        "product": elementwise("T x, T y", "T z", "z = x * y;", "minigan_product", options=exact),
        "bn_statistics": elementwise(
            "T mu, T sum_sq, T m, T eps, T keep, T momentum, T unbiased_momentum",
            "T var, T inv_std, T running_mean, T running_var",
            """
            var = sum_sq / m;
            inv_std = (T)1 / sqrt(var + eps);
            if (isfinite(mu) && isfinite(var)) {
                running_mean = keep * running_mean + momentum * mu;
                running_var = keep * running_var + unbiased_momentum * var;
            }
            """, "minigan_bn_statistics", options=exact),
        "bn_normalize": elementwise(
            "T x, T mu, T inv_std, T gamma, T beta", "T xhat, T y",
            "xhat = (x - mu) * inv_std; y = xhat * gamma + beta;", "minigan_bn_normalize", options=exact),
        "bn_backward": elementwise(
            "T dy, T xhat, T gamma, T inv_std, T dgamma, T dbeta, T m", "T dx",
            "const T scale = gamma * inv_std; dx = dy * scale - xhat * (scale * dgamma / m) - scale * dbeta / m;",
            "minigan_bn_backward", options=exact),
        "accumulate2": elementwise("T da, T db", "T a, T b", "a += da; b += db;", "minigan_accumulate2"),
        "adam_corrections": elementwise(
            "float64 lr, float64 beta1, float64 beta2", "float64 t, float64 step_size, float64 bias2",
            "t += 1; step_size = lr / (1 - pow(beta1, t)); bias2 = sqrt(1 - pow(beta2, t));",
            "minigan_adam_corrections"),
        "adam": elementwise(
            "T g, raw float64 step_size, raw float64 bias2, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, "
            "T eps", "T p, T m, T v",
            """
            m = m * beta1 + one_minus_beta1 * g;
            v = v * beta2 + one_minus_beta2 * (g * g);
            const T denom = sqrt(v) / (T)bias2[0] + eps;
            p = p - (T)step_size[0] * (m / denom);
            """, "minigan_adam", options=exact),
        "norm": reduction("T x", "T y", "x * x", "a + b", "y = sqrt(a)", "0", "minigan_norm"),
    }


def sum_rows(X):
    """X.sum(axis=0) of a matrix X (m, C) as one product ones (1, m) @ X: cuBLAS reads the long axis at
    full speed, where a CuPy reduction over axis 0 gives each of the C columns to one thread block."""
    out = gemm(_ones(X.shape[0], X.dtype.name), X)
    return X.sum(axis=0) if out is None else out.reshape(X.shape[1])


_ONES = {}


def _ones(m, dtype):
    """A cached row of m ones (1, m) on the current device, made outside any graph's memory pool."""
    cupy = _cupy()
    key = (m, dtype, cupy.cuda.Device().id)
    if key not in _ONES:
        with _kept_memory():
            _ONES[key] = cupy.ones((1, m), dtype=dtype)
    return _ONES[key]


def _kept_memory():
    """Allocate from CuPy's default pool: for arrays kept across steps, which must never come from the
    private pool of a CUDA graph (``minigan.gan.graph``), whose blocks the graph reuses for its temporaries."""
    cupy = _cupy()
    return cupy.cuda.using_allocator(cupy.get_default_memory_pool().malloc)


def matmul_col2im(A, W, grid, padded_shape, stride):
    """``nn._im2col.matmul_col2im`` in two launches: P = A @ W_mat for all offsets, then a gather.

    out[n, y, x, c] = sum over offsets (a, b) with y = i*sh + a, x = j*sw + b of P[n, i, j, a, b, c],
    added in the reference's order (a, then b), so only the GEMM's rounding differs.
    """
    N, Hg, Wg = grid
    K, C, kh, kw = W.shape
    P = matmul(A, W.transpose(0, 2, 3, 1).reshape(K, kh * kw * C))      # (N*Hg*Wg, kh*kw*C)
    out = _cupy().empty(padded_shape, dtype=A.dtype)
    _kernels()["col2im"](P, Hg, Wg, kh, kw, C, padded_shape[1], padded_shape[2], stride[0], stride[1], out)
    return out


def leaky_relu(x, slope):
    """(y, scale) of ``nn.LeakyReLU.forward``: scale = 1 where x > 0 else slope, y = x * scale; one launch."""
    kind = x.dtype.type
    return in_memory_order(_kernels()["leaky_relu"], x, kind(1.0 - slope), kind(slope))


def multiply(a, b):
    """a * b for two arrays of one shape, laid out in memory as a is (``nn.LeakyReLU.backward``)."""
    return in_memory_order(_kernels()["product"], a, b)


def batchnorm_forward(X, gamma, beta, eps, momentum, running_mean, running_var):
    """Training-mode ``BatchNorm`` on rows X (m, C): (Y, xhat, inv_std), running statistics updated in place.

    Steps 1-3 of nn/batchnorm.py: mu and var (biased) per column, xhat = (X - mu) * inv_std,
    Y = xhat * gamma + beta; a channel whose statistics are not finite keeps its running ones.
    """
    k, kind = _kernels(), X.dtype.type
    m = X.shape[0]
    mu = sum_rows(X)
    mu /= kind(m)
    sum_sq = sum_rows(k["square_deviation"](X, mu))
    var, inv_std = _cupy().empty_like(mu), _cupy().empty_like(mu)
    k["bn_statistics"](mu, sum_sq, kind(m), kind(eps), kind(1.0 - momentum), kind(momentum),
                       kind(momentum * m / (m - 1)), var, inv_std, running_mean, running_var)
    xhat, Y = k["bn_normalize"](X, mu, inv_std, gamma, beta)
    return Y, xhat, inv_std


def batchnorm_backward(dY, xhat, inv_std, gamma, grads):
    """Training-mode ``BatchNorm.backward`` on rows: dX; dgamma and dbeta added into ``grads`` (or None if frozen)."""
    k = _kernels()
    dbeta = sum_rows(dY)
    dgamma = sum_rows(k["product"](dY, xhat))
    if grads is not None:
        k["accumulate2"](dgamma, dbeta, *grads)
    return k["bn_backward"](dY, xhat, gamma, inv_std, dgamma, dbeta, dY.dtype.type(dY.shape[0]))


def adam_update(p, g, m, v, t, lr, betas, eps):
    """Adam's steps 2-3 (minigan/optim/optimizers.py) on flat arrays, in place; ``t`` (float64, shape (1,)) is advanced.

    The bias corrections lr / (1 - beta1^t) and sqrt(1 - beta2^t) are computed on the device from
    the device counter ``t``, so a step recorded in a CUDA graph uses the right t on every replay.
    """
    k, kind = _kernels(), p.dtype.type
    beta1, beta2 = betas
    step_size, bias2 = _cupy().empty(1, "float64"), _cupy().empty(1, "float64")
    k["adam_corrections"](lr, beta1, beta2, t, step_size, bias2)
    k["adam"](g, step_size, bias2, kind(beta1), kind(1.0 - beta1), kind(beta2), kind(1.0 - beta2), kind(eps), p, m, v)


def grad_norm(flat_grad):
    """sqrt(sum(g²)) of a flat gradient buffer, as a 0-d device array; one reduction."""
    return _kernels()["norm"](flat_grad)


def step_counter(t):
    """A device copy of an optimizer's step count, for ``adam_update``; made outside any graph's memory pool."""
    with _kept_memory():
        return _cupy().full(1, float(t), dtype="float64")

