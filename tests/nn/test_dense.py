"""Dense (minigan/nn/dense.py): shapes, dtypes, errors and the gradient check.

Confirms docs/derivations.md, "Dense".
"""
import numpy as np
import pytest

import minigan as mg
from minigan.gradcheck import check_layer


def test_forward_is_x_at_W_plus_b(rng):
    layer = mg.nn.Dense(4, 3, init="torch", rng=0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = layer(x)
    assert y.shape == (5, 3) and y.dtype == np.float32
    np.testing.assert_allclose(y, x @ layer.W.data + layer.b.data, rtol=1e-6)
    assert layer.W.shape == (4, 3) and layer.b.shape == (3,)


@pytest.mark.parametrize("N, fan_in, fan_out", [(1, 1, 1), (3, 4, 5), (7, 2, 9)])
def test_gradients(rng, N, fan_in, fan_out):
    errors = check_layer(mg.nn.Dense(fan_in, fan_out, init="torch", rng=1), rng.standard_normal((N, fan_in)))
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) < 1e-6


def test_backward_adds_into_grad(rng):
    layer = mg.nn.Dense(3, 2, rng=0)
    x, dy = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    layer(x)
    layer.backward(dy)
    once = layer.W.grad.copy()
    layer(x)
    layer.backward(dy)
    np.testing.assert_allclose(layer.W.grad, 2 * once, rtol=1e-6)
    layer.zero_grad()
    assert not layer.W.grad.any() and not layer.b.grad.any()


def test_float64_in_float64_out_with_float64_parameters(rng):
    layer = mg.nn.Dense(3, 2, rng=0).astype("float64")
    y = layer(rng.standard_normal((2, 3)))
    assert y.dtype == np.float64
    assert layer.backward(np.ones_like(y)).dtype == np.float64


def test_dtype_mismatch_is_an_error_not_a_silent_upcast(rng):
    layer = mg.nn.Dense(3, 2, rng=0)
    with pytest.raises(TypeError, match=r"x has dtype float64 but the parameters are float32"):
        layer(rng.standard_normal((2, 3)))


@pytest.mark.parametrize("shape, message", [
    ((2, 5), r"Dense\(4, 3\): x must be \(N, 4\), got \(2, 5\)"),
    ((2, 4, 1), r"x must be \(N, 4\), got \(2, 4, 1\)"),
    ((4,), r"x must be \(N, 4\), got \(4,\)"),
    ((0, 4), r"at least one sample"),
])
def test_bad_input_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        mg.nn.Dense(4, 3)(np.zeros(shape, dtype=np.float32))


def test_integer_input_is_rejected():
    with pytest.raises(TypeError, match="floating-point array"):
        mg.nn.Dense(2, 2)(np.ones((1, 2), dtype=np.int64))


@pytest.mark.parametrize("args", [(0, 3), (3, -1), (2.5, 3), (True, 2)])
def test_bad_sizes(args):
    with pytest.raises(ValueError, match="must be a positive int"):
        mg.nn.Dense(*args)


def test_backward_errors():
    layer = mg.nn.Dense(2, 3)
    with pytest.raises(RuntimeError, match=r"Dense\(2, 3\): backward called before forward"):
        layer.backward(np.zeros((1, 3), dtype=np.float32))
    layer(np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"dy must have the output's shape \(4, 3\), got \(4, 2\)"):
        layer.backward(np.zeros((4, 2), dtype=np.float32))


def test_large_batch(rng):
    layer = mg.nn.Dense(784, 128, rng=0)
    x = rng.standard_normal((256, 784)).astype(np.float32)
    y = layer(x)
    dx = layer.backward(np.ones_like(y))
    assert y.shape == (256, 128) and dx.shape == x.shape and dx.dtype == np.float32
