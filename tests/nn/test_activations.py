"""LeakyReLU, ReLU, Sigmoid and Tanh (minigan/nn/activations.py): values, gradients, errors.

Confirms docs/derivations.md, "Elementwise activations".
"""
import numpy as np
import pytest
from helpers import away_from_zero

import minigan as mg
from minigan.gradcheck import check_layer

LAYERS = [mg.nn.LeakyReLU, mg.nn.ReLU, mg.nn.Sigmoid, mg.nn.Tanh]


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("shape", [(1, 4), (3, 5), (2, 3, 2, 2)])
def test_gradients(rng, cls, shape):
    errors = check_layer(cls(), away_from_zero(rng, shape))
    assert list(errors) == ["x"] and errors["x"] < 1e-6


@pytest.mark.parametrize("cls, reference", [
    (mg.nn.LeakyReLU, lambda x: np.where(x > 0, x, 0.2 * x)),
    (mg.nn.ReLU, lambda x: np.maximum(x, 0.0)),
    (mg.nn.Sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x))),
    (mg.nn.Tanh, np.tanh),
])
def test_forward_values_and_dtypes(rng, cls, reference):
    x64 = 3.0 * rng.standard_normal((4, 6))
    np.testing.assert_allclose(cls()(x64), reference(x64), rtol=1e-12, atol=1e-15)
    x32 = x64.astype(np.float32)
    layer = cls()
    y = layer(x32)
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32


def test_leaky_relu_slope_and_backward():
    layer = mg.nn.LeakyReLU(negative_slope=0.1)
    x = np.array([[-2.0, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(layer(x), [[-0.2, 3.0]], rtol=1e-6)
    np.testing.assert_allclose(layer.backward(np.array([[1.0, 1.0]], dtype=np.float32)), [[0.1, 1.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="negative_slope must be in"):
        mg.nn.LeakyReLU(1.5)


def test_sigmoid_never_overflows_in_float32():
    x = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], dtype=np.float32)
    y = mg.nn.Sigmoid()(x)       # pytest turns an overflow warning into an error
    assert y.dtype == np.float32 and np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[0, [0, 2, 4]], [0.0, 0.5, 1.0])


def test_backward_before_forward_names_the_layer():
    with pytest.raises(RuntimeError, match=r"LeakyReLU\(negative_slope=0.2\): backward called before forward"):
        mg.nn.LeakyReLU().backward(np.zeros((1, 1), dtype=np.float32))


def test_non_float_input_is_rejected():
    with pytest.raises(TypeError, match="Tanh\\(\\): x must be a floating-point array"):
        mg.nn.Tanh()(np.zeros((2, 2), dtype=np.int32))
