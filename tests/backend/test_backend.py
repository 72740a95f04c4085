import sys
import types

import numpy as np
import pytest

import minigan as mg
from minigan import backend


def test_default_backend_is_numpy():
    assert mg.get_backend() == "numpy"
    assert backend.xp() is np


def test_unknown_backend_name_is_rejected():
    with pytest.raises(ValueError, match=r"one of \('numpy', 'cupy'\), got 'jax'"):
        mg.set_backend("jax")


def test_env_var_chooses_backend_when_set_backend_was_not_called(monkeypatch):
    backend._state["xp"] = backend._state["name"] = None
    monkeypatch.setenv("MINIGAN_BACKEND", "NumPy")
    assert mg.get_backend() == "numpy"


def test_env_var_with_unknown_name_is_an_error(monkeypatch):
    backend._state["xp"] = backend._state["name"] = None
    monkeypatch.setenv("MINIGAN_BACKEND", "torch")
    with pytest.raises(ValueError, match="MINIGAN_BACKEND must be one of"):
        backend.xp()


def test_missing_cupy_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)          # makes `import cupy` raise ImportError
    with pytest.raises(ImportError, match=r"pip install"):
        mg.set_backend("cupy")
    assert mg.get_backend() == "numpy"                       # a failed switch leaves the backend alone


def test_cupy_without_a_device_says_so(monkeypatch):
    fake = types.ModuleType("cupy")

    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(RuntimeError, match="no CUDA device is usable"):
        mg.set_backend("cupy")


def test_importing_minigan_does_not_import_cupy():
    import subprocess
    code = "import sys, minigan; minigan.nn.Dense(2, 2); print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_xp_of_and_to_numpy_on_numpy_arrays():
    a = np.ones(3, dtype=np.float32)
    assert backend.xp_of(a) is np
    assert backend.xp_of(a, 1.0) is np
    assert mg.to_numpy(a) is a
    assert isinstance(mg.to_numpy([1.0, 2.0]), np.ndarray)


def test_set_default_dtype_controls_new_parameters():
    assert mg.get_default_dtype() == "float32"
    assert mg.nn.Dense(2, 3).W.dtype == np.float32
    mg.set_default_dtype("float64")
    assert mg.nn.Dense(2, 3).W.dtype == np.float64
    assert mg.nn.BatchNorm1d(3).running_var.dtype == np.float64
    mg.set_default_dtype(np.float32)
    assert mg.get_default_dtype() == "float32"


@pytest.mark.parametrize("bad", ["float16", "int32", "banana", None])
def test_set_default_dtype_rejects_other_dtypes(bad):
    with pytest.raises(ValueError, match="set_default_dtype: dtype must be one of"):
        mg.set_default_dtype(bad)


def test_as_rng_accepts_seed_generator_or_none():
    g = np.random.default_rng(3)
    assert backend.as_rng(g) is g
    assert backend.as_rng(5).integers(1000) == np.random.default_rng(5).integers(1000)
    assert isinstance(backend.as_rng(None), np.random.Generator)
    with pytest.raises(TypeError, match="rng must be"):
        backend.as_rng("seed")


def test_backend_moves_parameters_to_the_device(xp):
    layer = mg.nn.Dense(3, 2, rng=0)
    assert backend.xp_of(layer.W.data) is xp
    assert isinstance(mg.to_numpy(layer.W.data), np.ndarray)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shapes", [((5, 1), (1, 7)), ((5, 3), (3, 7)), ((1, 1), (1, 4))])
def test_matmul_equals_the_matrix_product_bit_for_bit(shapes, dtype):
    """An inner dimension of 1 takes the broadcast path (an outer product): the same numbers as a @ b."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    product = backend.matmul(a, b.T.copy().T)            # b as a transposed view, as Dense passes W.T
    assert product.shape == (shapes[0][0], shapes[1][1]) and product.dtype == dtype
    np.testing.assert_array_equal(product, a @ b)


def test_a_negative_seed_is_named():
    with pytest.raises(ValueError, match="rng must be None, an int seed >= 0 or a numpy.random.Generator, got -1"):
        mg.nn.Dense(2, 2, rng=-1)
