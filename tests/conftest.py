"""Shared fixtures: the array module under test, a seeded generator, and a clean backend state."""
import numpy as np
import pytest

from minigan import backend
from minigan.backend import cpu


def _cupy_or_skip():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("CuPy is installed but sees no CUDA device")
    except Exception as error:  # no driver: CUDARuntimeError
        pytest.skip(f"CuPy is installed but no CUDA device is usable: {error}")
    return cupy


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module for a test that must run on both backends; the cupy case skips without a GPU."""
    module = np if request.param == "numpy" else _cupy_or_skip()
    backend.set_backend(request.param)
    return module


@pytest.fixture
def cupy():
    """The cupy module, with the backend set to it; skips without CuPy or a GPU."""
    module = _cupy_or_skip()
    backend.set_backend("cupy")
    return module


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _restore_backend():
    """Every test starts and ends on the NumPy backend with float32 parameters, the CPU fast path as it was."""
    saved, saved_cpu = dict(backend._state), dict(cpu._state)
    backend.set_backend("numpy")
    backend.set_default_dtype("float32")
    yield
    backend._state.clear()
    backend._state.update(saved)
    cpu._state.update(saved_cpu)


@pytest.fixture(autouse=True, scope="session")
def _own_trainer_registry(tmp_path_factory):
    """The tests' minigan trainers count only each other when they share the cores (train/sharing.py):
    a run of the user's beside the tests must not change their BLAS threads, and so their numbers."""
    import os
    from minigan.train import sharing
    saved = os.environ.get(sharing.ENV)
    os.environ[sharing.ENV] = str(tmp_path_factory.mktemp("registry"))
    yield
    if saved is None:
        os.environ.pop(sharing.ENV, None)
    else:
        os.environ[sharing.ENV] = saved
