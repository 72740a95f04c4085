"""Conv2d and ConvTranspose2d (minigan/nn/conv.py): equal to their loop-form definitions
(minigan/nn/reference.py) forward and backward, and proven by the gradient check.

Confirms docs/derivations.md, "Conv2d" and "ConvTranspose2d".
"""
import numpy as np
import pytest
from helpers import away_from_zero

import minigan as mg
from minigan.gradcheck import check_layer
from minigan.nn import _im2col, reference

# (C_in, C_out, kernel, stride, padding, (N, H, W)): strides 1-3, padding 0-2, kernels 1-5,
# odd and non-square sizes, channel counts of 1, a batch of 1.
CONV_CONFIGS = [
    (1, 1, 1, 1, 0, (1, 4, 4)),
    (2, 3, 3, 1, 1, (2, 5, 5)),
    (1, 2, 4, 2, 1, (3, 7, 6)),
    (2, 2, 5, 1, 2, (2, 5, 7)),
    (3, 2, 2, 3, 0, (2, 8, 7)),
    (2, 1, 3, 3, 2, (1, 5, 4)),
    (1, 2, (2, 3), (2, 1), (1, 0), (2, 5, 6)),
]

CONV_T_CONFIGS = [
    (1, 1, 1, 1, 0, (1, 3, 3)),
    (2, 3, 3, 1, 1, (2, 4, 4)),
    (3, 1, 4, 2, 1, (2, 3, 4)),
    (2, 2, 5, 1, 2, (1, 3, 5)),
    (2, 2, 2, 3, 0, (2, 3, 2)),
    (1, 2, 3, 3, 1, (2, 2, 3)),
    (2, 1, (3, 2), (1, 2), (0, 1), (2, 3, 4)),
]


def _layer_and_input(cls, rng, C_in, C_out, k, s, p, NHW):
    layer = cls(C_in, C_out, k, s, p, init="torch", rng=0).astype("float64")
    return layer, rng.standard_normal((NHW[0], C_in) + NHW[1:])


def _assert_same(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)


@pytest.fixture(params=["whole batch", "one image per chunk"])
def col2im_chunks(request, monkeypatch):
    """matmul_col2im (Conv2d's dx, ConvTranspose2d's y) on the whole batch, and one image per chunk."""
    if request.param == "one image per chunk":
        monkeypatch.setattr(_im2col, "CHUNK_BYTES", 1)


DEFINITIONS = {mg.nn.Conv2d: (reference.conv2d, reference.conv2d_backward),
               mg.nn.ConvTranspose2d: (reference.conv_transpose2d, reference.conv_transpose2d_backward)}


@pytest.mark.parametrize("cls, C_in, C_out, k, s, p, NHW", [(mg.nn.Conv2d, *c) for c in CONV_CONFIGS]
                         + [(mg.nn.ConvTranspose2d, *c) for c in CONV_T_CONFIGS])
def test_the_layers_equal_their_definitions_forward_and_backward(rng, col2im_chunks, cls, C_in, C_out, k, s, p, NHW):
    layer, x = _layer_and_input(cls, rng, C_in, C_out, k, s, p, NHW)
    forward, backward = DEFINITIONS[cls]
    y = layer(x)
    _assert_same(y, forward(x, layer.W.data, layer.b.data, layer.stride, layer.padding))
    dy = rng.standard_normal(y.shape)
    dx, dW, db = backward(x, layer.W.data, dy, layer.stride, layer.padding)
    _assert_same(layer.backward(dy), dx)
    _assert_same(layer.W.grad, dW)
    _assert_same(layer.b.grad, db)


@pytest.mark.parametrize("C_in, C_out, k, s, p, NHW", CONV_CONFIGS)
def test_conv2d_gradients(rng, col2im_chunks, C_in, C_out, k, s, p, NHW):
    layer = mg.nn.Conv2d(C_in, C_out, k, s, p, init="torch", rng=0)
    errors = check_layer(layer, rng.standard_normal((NHW[0], C_in) + NHW[1:]))
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) < 1e-6


@pytest.mark.parametrize("C_in, C_out, k, s, p, NHW", CONV_T_CONFIGS)
def test_conv_transpose2d_output_size(rng, C_in, C_out, k, s, p, NHW):
    layer, x = _layer_and_input(mg.nn.ConvTranspose2d, rng, C_in, C_out, k, s, p, NHW)
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    assert layer(x).shape == (NHW[0], C_out, (NHW[1] - 1) * sh - 2 * ph + kh, (NHW[2] - 1) * sw - 2 * pw + kw)


@pytest.mark.parametrize("C_in, C_out, k, s, p, NHW", CONV_T_CONFIGS)
def test_conv_transpose2d_gradients(rng, col2im_chunks, C_in, C_out, k, s, p, NHW):
    layer = mg.nn.ConvTranspose2d(C_in, C_out, k, s, p, init="torch", rng=0)
    errors = check_layer(layer, rng.standard_normal((NHW[0], C_in) + NHW[1:]))
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) < 1e-6


def test_the_definitions_agree_with_finite_differences(rng):
    """The loop-form backward is itself right: its dx, dW and db are the derivatives of its forward."""
    x, W, b = rng.standard_normal((1, 2, 4, 3)), rng.standard_normal((2, 2, 2, 3)), rng.standard_normal(2)
    stride, padding = (2, 1), (1, 0)
    dy = rng.standard_normal(reference.conv2d(x, W, b, stride, padding).shape)
    dx, dW, db = reference.conv2d_backward(x, W, dy, stride, padding)
    for array, grad in ((x, dx), (W, dW), (b, db)):
        index = tuple(rng.integers(0, n) for n in array.shape)
        array[index] += 1e-6
        up = float((reference.conv2d(x, W, b, stride, padding) * dy).sum())
        array[index] -= 2e-6
        down = float((reference.conv2d(x, W, b, stride, padding) * dy).sum())
        array[index] += 1e-6
        assert (up - down) / 2e-6 == pytest.approx(grad[index], rel=1e-6, abs=1e-8)


def test_conv_transpose2d_is_the_adjoint_of_conv2d(rng):
    """<conv(x), y> = <x, conv_transpose(y)> with shared weights and no bias."""
    conv = mg.nn.Conv2d(2, 3, 4, 2, 1, rng=0).astype("float64")
    convT = mg.nn.ConvTranspose2d(3, 2, 4, 2, 1).astype("float64")
    convT.W.data = conv.W.data.copy()              # (C_out, C_in, k, k) of conv = (C_in, C_out, k, k) of convT
    x, y = rng.standard_normal((2, 2, 8, 8)), rng.standard_normal((2, 3, 4, 4))
    assert float((conv(x) * y).sum()) == pytest.approx(float((x * convT(y)).sum()), rel=1e-12)


def test_dcgan_shapes_and_dtypes(rng):
    x = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    conv = mg.nn.Conv2d(1, 64, 4, 2, 1, rng=0)
    y = conv(x)
    assert y.shape == (8, 64, 14, 14) and y.dtype == np.float32
    assert conv.W.shape == (64, 1, 4, 4) and conv.b.shape == (64,)
    up = mg.nn.ConvTranspose2d(64, 1, 4, 2, 1, rng=0)
    z = up(y)
    assert z.shape == (8, 1, 28, 28) and z.dtype == np.float32
    assert up.W.shape == (64, 1, 4, 4)
    dy = up.backward(np.ones_like(z))
    dx = conv.backward(dy)
    assert dy.shape == y.shape and dx.shape == x.shape and dx.dtype == np.float32


def test_large_batch(rng):
    x = rng.standard_normal((256, 1, 28, 28)).astype(np.float32)
    D = mg.nn.Sequential(mg.nn.Conv2d(1, 16, 4, 2, 1, rng=0), mg.nn.LeakyReLU(),
                         mg.nn.Conv2d(16, 32, 4, 2, 1, rng=1))
    y = D(x)
    assert y.shape == (256, 32, 7, 7)
    assert D.backward(np.ones_like(y)).shape == x.shape


def test_directional_check_on_dcgan_sized_layers(rng):
    layer = mg.nn.ConvTranspose2d(16, 8, 4, 2, 1, rng=0)
    errors = check_layer(layer, away_from_zero(rng, (4, 16, 7, 7)), method="directional")
    assert max(errors.values()) < 1e-6


@pytest.mark.parametrize("cls", [mg.nn.Conv2d, mg.nn.ConvTranspose2d])
def test_bad_input_is_named(cls):
    layer = cls(3, 2, 3)
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name}\(3, 2, .*\): x must be \(N, 3, H, W\), got \(8, 1, 28, 28\)"):
        layer(np.zeros((8, 1, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match=r"x must be \(N, 3, H, W\), got \(3, 28, 28\)"):
        layer(np.zeros((3, 28, 28), dtype=np.float32))


def test_empty_outputs_are_errors():
    with pytest.raises(ValueError, match=r"would be empty \(0 x 0\)"):
        mg.nn.Conv2d(1, 1, 5)(np.zeros((1, 1, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="would be empty"):
        mg.nn.ConvTranspose2d(1, 1, 2, 1, 1)(np.zeros((1, 1, 1, 1), dtype=np.float32))


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel_size=0), "kernel_size must be a positive int"),
    (dict(kernel_size=3, stride=0), "stride must be a positive int"),
    (dict(kernel_size=3, padding=-1), "padding must be an int >= 0"),
    (dict(kernel_size=(3, -1)), "kernel_size must be a positive int"),
])
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mg.nn.Conv2d(1, 1, **kwargs)


def test_zero_channels_rejected():
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        mg.nn.ConvTranspose2d(0, 1, 3)


def test_backward_checks_dy_shape(rng):
    layer = mg.nn.Conv2d(1, 2, 3)
    y = layer(rng.standard_normal((2, 1, 5, 5)).astype(np.float32))
    with pytest.raises(ValueError, match=r"dy must have the output's shape \(2, 2, 3, 3\), got \(2, 2, 3, 4\)"):
        layer.backward(np.zeros((2, 2, 3, 4), dtype=np.float32))
    assert y.shape == (2, 2, 3, 3)


def test_repr():
    assert repr(mg.nn.Conv2d(1, 64, 4, 2, 1)) == "Conv2d(1, 64, kernel_size=4, stride=2, padding=1)"
    assert repr(mg.nn.ConvTranspose2d(2, 1, (3, 2))) == \
        "ConvTranspose2d(2, 1, kernel_size=(3, 2), stride=1, padding=0)"
