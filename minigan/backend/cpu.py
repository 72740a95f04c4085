"""The CPU fast path: numba-compiled loops that compute, bit for bit, what the NumPy reference computes.

On a CPU, the part of a training step that is not a matrix product (BatchNorm, LeakyReLU,
col2im's scatter-adds, Adam) is bound by memory, not arithmetic: NumPy makes one pass over the
data per array operation and allocates a temporary for most. Each function here does what a
named piece of the reference code does in fewer passes, with the same operations on every
element in the same order, so the numbers are the same to the last bit and a run is the same run
with or without it. The layers call their reference function, which hands NumPy arrays here when
``handles`` says so (``nn.activations.leaky_relu`` -> ``leaky_relu``, and so on), as it hands
CuPy arrays to ``minigan.backend.cuda``. tests/backend/test_cpu.py compares every one with its
reference, bit for bit.

- ``leaky_relu``: the output and the saved slope in one pass (the reference makes four).
- ``batchnorm_forward`` / ``batchnorm_backward``: training-mode BatchNorm with the reference's
  BLAS column sums and two elementwise passes each (the reference makes five).
- ``adam_update``: Adam's steps 2-3 in one pass (the reference makes about ten).
- ``add_offset``: one kernel offset of col2im's scatter-add.

Where numba cannot be imported, or the environment sets ``MINIGAN_CPU_KERNELS=numpy``, or a
program calls ``set_enabled(False)``, everything runs on the NumPy reference: the same numbers,
more slowly. ``status()`` says which, in one line (``minigan train`` prints it when the fast path
is off). numba caches the compiled loops beside their source (``cpu_kernels.py``), so only a
machine's first process compiles them (README, "Install"). One difference from NumPy, in
warnings only: the loops raise no floating-point warnings (NumPy warns of an invalid value where
BatchNorm meets an infinity; the numbers, NaN, are the same).
"""
import functools
import os

import numpy as np

from ..errors import UserError
from .layout import in_memory_order, is_dense

ENV_VAR = "MINIGAN_CPU_KERNELS"
CHOICES = ("numba", "numpy")
DTYPES = (np.dtype("float32"), np.dtype("float64"))

_state = {"choice": None, "chosen_by": None, "failed": {}}


class UnknownChoice(UserError, ValueError):
    """A MINIGAN_CPU_KERNELS value that is not one of CHOICES."""


@functools.cache
def _loops():
    """The compiled loops (``minigan.backend.cpu_kernels``), each run once on tiny float32 arrays, or the
    error that stopped them: numba missing or refusing this NumPy (ImportError), or unable to compile or
    cache them here."""
    try:
        from . import cpu_kernels
        _try_each(cpu_kernels, "float32")
    except Exception as error:     # ImportError, or numba refusing this NumPy, platform or cache folder
        return error
    return cpu_kernels


@functools.cache
def _ready(dtype):
    """True once every loop has run on tiny arrays of ``dtype`` (float64 compiles its own set, once);
    False, with the error kept for ``status``, where that failed: those arrays then stay with NumPy."""
    try:
        _try_each(_loops(), dtype)
    except Exception as error:
        _state["failed"][str(dtype)] = error
        return False
    return True


def _try_each(loops, dtype):
    """Compile (or load from numba's cache) and run every loop once, so that a failure falls back here."""
    x, c = np.ones((2, 2), dtype), np.ones(2, dtype)
    one = c[0]
    loops.leaky_relu(c, one, one, c.copy(), c.copy())
    loops.center(x, c, x.copy(), x.copy())
    loops.normalize(x.copy(), c, c, c, x.copy())
    loops.multiply(x, x, x.copy())
    loops.batchnorm_dx(x, x, c, c, c, x.copy())
    loops.adam(c.copy(), c, c.copy(), c.copy(), one, one, one, one, one, one, one)
    loops.add_offset(x.reshape(1, 1, 2, 2), np.zeros((1, 2, 4, 2), dtype), 0, 0, 1, 2)


def set_enabled(flag):
    """Use the compiled loops (True, where numba loads) or the NumPy reference alone (False) from now on."""
    _state["choice"] = "numba" if flag else "numpy"
    _state["chosen_by"] = f"set_enabled({bool(flag)})"


def _choice():
    if _state["choice"] is None:
        value = os.environ.get(ENV_VAR, "numba").strip().lower() or "numba"
        if value not in CHOICES:
            raise UnknownChoice(f"{ENV_VAR} must be numba or numpy, got {value!r} (unset it or fix its value)")
        _state["choice"], _state["chosen_by"] = value, f"{ENV_VAR}={value}"
    return _state["choice"]


def enabled():
    """True when the compiled loops are chosen and numba has loaded them."""
    return _choice() == "numba" and not isinstance(_loops(), Exception)


def status():
    """One line: what runs the CPU step's elementwise work, and if it is NumPy alone, why and what to do."""
    if _choice() == "numpy":
        return f"the CPU step runs on NumPy alone, without its compiled loops ({_state['chosen_by']})"
    loops = _loops()
    slow, why = "the CPU step runs on NumPy alone, more slowly", f"({type(loops).__name__}: {loops})"
    if isinstance(loops, ModuleNotFoundError) and loops.name in ("numba", "llvmlite"):
        return f"{slow}: numba is not installed {why}; `pip install numba` gives it its compiled loops"
    if isinstance(loops, ImportError):
        return (f"{slow}: numba is installed but refused to load {why}; each numba release supports the "
                "NumPy versions of its time (`pip install -U numba`, or a NumPy it supports)")
    if isinstance(loops, Exception):
        return f"{slow}: numba could not compile or load its loops {why}; NUMBA_CACHE_DIR may name a writable folder"
    import numba
    failed = "".join(f"; {dtype} arrays stay with NumPy ({type(e).__name__}: {e})"
                     for dtype, e in _state["failed"].items())
    return f"the CPU step's elementwise work runs in loops compiled by numba {numba.__version__}{failed}"


def handles(*arrays, any_order=False):
    """True when the compiled loops are on and take these arrays: NumPy, one float dtype, C-contiguous.

    ``any_order``: dense in some order of the axes is enough (an elementwise loop over memory).
    """
    first = arrays[0]                              # the arrays first: CuPy's never make numba load
    return (all(type(a) is np.ndarray and a.dtype == first.dtype for a in arrays) and first.dtype in DTYPES
            and all(is_dense(a) if any_order else a.flags.c_contiguous for a in arrays) and enabled()
            and _ready(first.dtype))


def leaky_relu(x, slope):
    """(y, scale) of ``nn.activations.leaky_relu``: scale = 1 where x > 0 else slope, y = x * scale; one pass.

    The reference rounds the slope above zero as (1 - slope) + slope in x's dtype; so does this.
    Shapes: x any, dense in some order of its axes; y and scale laid out as x.
    """
    kind = x.dtype.type
    above, below = kind(1.0 - slope) + kind(slope), kind(slope)

    def flat(x):
        y, scale = np.empty_like(x), np.empty_like(x)
        _loops().leaky_relu(x.reshape(-1), above, below, y.reshape(-1), scale.reshape(-1))
        return y, scale
    return in_memory_order(flat, x)


def batchnorm_forward(X, gamma, beta, eps):
    """(Y, xhat, mu, var, inv_std) of training-mode BatchNorm on rows X (m, C) (step 1 of nn/batchnorm.py).

    The column sums are the reference's BLAS products; xc = X - mu and its square come from one
    pass, xhat (xc scaled in place) and Y from another, Y written over the squares.
    Shapes: X, Y, xhat (m, C), C-contiguous; gamma, beta, mu, var, inv_std (C,).
    """
    m = X.shape[0]
    ones = np.ones(m, dtype=X.dtype)
    mu = (ones @ X) / m
    xc, sq = np.empty_like(X), np.empty_like(X)
    _loops().center(X, mu, xc, sq)
    var = (ones @ sq) / m
    inv_std = 1.0 / np.sqrt(var + eps)
    _loops().normalize(xc, inv_std, gamma, beta, sq)                 # xc becomes xhat, sq becomes Y
    return sq, xc, mu, var, inv_std


def batchnorm_backward(dY, xhat, scale):
    """(dX, dgamma, dbeta) of training-mode BatchNorm on rows (steps 2 and 4), scale = gamma * inv_std.

    dbeta and dgamma are the reference's BLAS column sums of dY and dY * xhat; then one pass
    writes dX = dY * scale - xhat * (scale * dgamma / m) - scale * dbeta / m.
    Shapes: dY, xhat, dX (m, C), C-contiguous; scale, dgamma, dbeta (C,).
    """
    m = dY.shape[0]
    ones = np.ones(m, dtype=dY.dtype)
    dbeta = ones @ dY
    dX = np.empty_like(dY)
    _loops().multiply(dY, xhat, dX)
    dgamma = ones @ dX
    _loops().batchnorm_dx(dY, xhat, scale, scale * dgamma / m, scale * dbeta / m, dX)
    return dX, dgamma, dbeta


def adam_update(p, g, m, v, step_size, bias2_sqrt, betas, eps):
    """Adam's steps 2-3 (minigan/optim/optimizers.py) in place, one pass over p, g, m and v.

    ``step_size`` = lr / (1 - beta1^t) and ``bias2_sqrt`` = sqrt(1 - beta2^t) are Python floats,
    as are betas and eps, rounded to p's dtype here as NumPy rounds Python scalars in the reference.
    Shapes: p, g, m, v alike, C-contiguous.
    """
    kind = p.dtype.type
    beta1, beta2 = betas
    _loops().adam(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), kind(beta1), kind(1.0 - beta1),
                  kind(beta2), kind(1.0 - beta2), kind(step_size), kind(bias2_sqrt), kind(eps))


def add_offset(part, out, offset, stride):
    """out[n, i*sh + a, j*sw + b, :] += part[n, i, j, :] for offset (a, b): one offset of col2im.

    Shapes: part (m, Hg, Wg, C), out (m, Hp, Wp, C) with every target inside it, which is checked
    here: the compiled loop does not check its indices.
    """
    (m, Hg, Wg, C), (a, b), (sh, sw) = part.shape, offset, stride
    if out.ndim != 4 or out.shape[0] != m or out.shape[3] != C or a + sh * (Hg - 1) >= out.shape[1] \
            or b + sw * (Wg - 1) >= out.shape[2] or min(a, b) < 0 or min(sh, sw) < 1:
        raise ValueError(f"add_offset: offset {offset} with stride {stride} takes part {part.shape} "
                         f"outside out {out.shape}")
    _loops().add_offset(part, out, a, b, sh, sw)
