"""The array backend: NumPy by default, CuPy for NVIDIA GPUs, chosen once.

Compute code never imports numpy. It asks this module for the array module of
the arrays it was given (``xp = backend.xp_of(x)``), so one layer runs unchanged
on NumPy or CuPy. Code that *creates* arrays (initial weights, noise, data) asks
for the active module with ``backend.xp()``.

The backend is chosen, in order of precedence, by:

1. ``minigan.set_backend("numpy" | "cupy")`` (the ``--backend`` CLI flag calls it);
2. the environment variable ``MINIGAN_BACKEND``, read the first time it is needed;
3. the default, ``"numpy"``.

CuPy is imported only inside ``set_backend("cupy")``; ``xp_of`` recognises CuPy
arrays without importing CuPy. Randomness lives on the host: ``as_rng(seed)``
gives a ``numpy.random.Generator`` and ``asarray`` moves what it draws to the
device, so one seed gives the same weights on both backends.
"""
import os
import sys

import numpy as np

from . import cuda
from ..checks import is_int
from ..errors import UserError

BACKENDS = ("numpy", "cupy")
DTYPES = ("float32", "float64")
ENV_VAR = "MINIGAN_BACKEND"

_INSTALL_HINT = (
    "install CuPy for your CUDA version, e.g. `pip install \"minigan[gpu]\"` "
    "(CUDA 12, cupy-cuda12x) or `pip install cupy-cuda13x` (CUDA 13)"
)

_state = {"name": None, "xp": None, "dtype": "float32"}


class BackendError(UserError):
    """The backend cannot be used: an unknown name, CuPy not installed, or no usable GPU."""


class UnknownBackend(BackendError, ValueError):
    """A backend name (or MINIGAN_BACKEND value) that is not one of BACKENDS."""


class CupyMissing(BackendError, ImportError):
    """CuPy is not installed; the message says how to install it."""


class NoDevice(BackendError, RuntimeError):
    """CuPy is installed but sees no usable CUDA device."""


def set_backend(name):
    """Choose the array backend for everything created from now on.

    Parameters
    ----------
    name : {"numpy", "cupy"}
        ``"cupy"`` imports CuPy and checks that a CUDA device is visible.

    Raises ValueError for an unknown name, ImportError when CuPy is missing and
    RuntimeError when CuPy finds no GPU; each message says what to install or check.
    """
    if name not in BACKENDS:
        raise UnknownBackend(f"set_backend: name must be one of {BACKENDS}, got {name!r}")
    _state["xp"] = np if name == "numpy" else _import_cupy()
    _state["name"] = name


def _import_cupy():
    try:
        import cupy
    except ImportError as error:
        raise CupyMissing(f"set_backend('cupy'): CuPy is not installed ({_INSTALL_HINT})") from error
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDARuntimeError without a driver, among others
        raise NoDevice(
            f"set_backend('cupy'): CuPy is installed but no CUDA device is usable ({error}); "
            "check the NVIDIA driver and that the CuPy wheel matches your CUDA version, "
            "or use set_backend('numpy')"
        ) from error
    if count < 1:
        raise NoDevice("set_backend('cupy'): CuPy found no CUDA device (use set_backend('numpy'))")
    return cupy


def get_backend():
    """The name of the active backend, ``"numpy"`` or ``"cupy"``."""
    xp()
    return _state["name"]


def xp():
    """The active array module (numpy or cupy), for code that creates arrays."""
    if _state["xp"] is None:
        name = os.environ.get(ENV_VAR, "numpy").strip().lower() or "numpy"
        if name not in BACKENDS:
            raise UnknownBackend(f"{ENV_VAR} must be one of {BACKENDS}, got {name!r} (unset it or fix its value)")
        set_backend(name)
    return _state["xp"]


def is_cupy_array(a):
    """True when ``a`` is a CuPy array; never imports CuPy."""
    cupy = sys.modules.get("cupy")
    return cupy is not None and isinstance(a, cupy.ndarray)


def xp_of(*arrays):
    """The array module that owns ``arrays``: cupy if any is a CuPy array, else numpy."""
    return sys.modules["cupy"] if any(is_cupy_array(a) for a in arrays) else np


def to_numpy(a):
    """A NumPy copy (or view) of ``a``, wherever it lives; for logging, saving and plotting."""
    return a.get() if is_cupy_array(a) else np.asarray(a)


def matmul(a, b):
    """The matrix product a @ b, on either backend.

    On NumPy a 2-D product over an inner dimension of 1 (an outer product) is the broadcast a * b:
    the same numbers (one multiplication each), made ~20x faster than OpenBLAS's GEMM makes them.
    On CuPy a 2-D float product calls cuBLAS directly (``minigan.backend.cuda.gemm``): the same library
    CuPy uses, but callable while a CUDA graph is being recorded, which CuPy's own ``@`` refuses.
    """
    if is_cupy_array(a):
        return cuda.matmul(a, b)
    if a.ndim == b.ndim == 2 and a.shape[1] == 1:      # an outer product, e.g. Dense(n, 1)'s dx
        return a * b
    return a @ b


def sum_rows(X):
    """The sum over every axis but the last, ``X.sum(axis=(0, ..., X.ndim - 2))``: a bias gradient.

    On CuPy it is one cuBLAS product with a row of ones (``minigan.backend.cuda.sum_rows``): CuPy's own
    reduction over a long leading axis runs each of the few columns on one thread block.
    """
    if is_cupy_array(X):
        return cuda.sum_rows(X.reshape(-1, X.shape[-1]))
    return X.sum(axis=tuple(range(X.ndim - 1)))


def asarray(a, dtype=None):
    """Move host data ``a`` onto the active backend, optionally casting to ``dtype``."""
    return xp().asarray(a, dtype=dtype)


def set_default_dtype(dtype):
    """Set the dtype of newly created parameters: ``"float32"`` (default) or ``"float64"``."""
    try:
        name = None if dtype is None else np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"set_default_dtype: dtype must be one of {DTYPES}, got {dtype!r}")
    _state["dtype"] = name


def get_default_dtype():
    """The dtype name used for newly created parameters."""
    return _state["dtype"]


def as_rng(seed=None):
    """A host ``numpy.random.Generator`` from a seed, a Generator (returned as is) or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed < 0:
        raise ValueError(f"rng must be None, an int seed >= 0 or a numpy.random.Generator, got {seed}")
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(seed).__name__}")


_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024      # glibc's largest M_MMAP_THRESHOLD on 64-bit systems


def tune_allocator(top_pad_mb=256):
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the OS.

    Training allocates and frees the same large temporaries every step (im2col windows,
    activations). By default glibc hands big freed blocks back to the operating system, so
    every step page-faults them in again: on a 2-core machine a DCGAN forward + backward
    took about 100 ms with the default and about 58 ms after this call (bench/bench_layers.py).

    Two process-wide glibc settings: M_TOP_PAD (each heap growth reserves an extra
    ``top_pad_mb`` MiB and keeps that much free memory on trimming) and M_MMAP_THRESHOLD at
    its maximum, 32 MiB (blocks up to that size come from the heap, not from a fresh mmap each
    time). glibc's own threshold starts at 128 KiB and rises as the program frees large blocks,
    but setting M_TOP_PAD freezes it wherever it stands: with the first setting alone, a process
    that had freed no large block yet page-faulted every temporary of every step (75,000 faults
    per DCGAN step at batch 128, twice the step's time), which the second prevents.

    Because the settings are process-wide, minigan never applies them on import: the trainer
    and the command line call this and say so, and scripts may call it themselves. It only
    affects CPU memory. Returns True when applied, False where the C library is not glibc
    (macOS, Windows, musl), where it does nothing.
    """
    import ctypes
    import ctypes.util

    if not is_int(top_pad_mb, 0):
        raise ValueError(f"tune_allocator: top_pad_mb must be a non-negative int, got {top_pad_mb!r}")
    M_TOP_PAD, M_MMAP_THRESHOLD = -2, -3
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    settings = ((M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX), (M_TOP_PAD, int(top_pad_mb) * 1024 * 1024))
    return all([bool(mallopt(option, value)) for option, value in settings])    # both, in this order
