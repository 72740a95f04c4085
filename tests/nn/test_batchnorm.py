"""BatchNorm1d and BatchNorm2d (minigan/nn/batchnorm.py): both modes, running statistics, gradients.

Confirms docs/derivations.md, "BatchNorm".
"""
import numpy as np
import pytest

import minigan as mg
from minigan.gradcheck import check_layer
from minigan.gradcheck.suite import randomize


def _bn(cls, C, rng, training):
    return randomize(cls(C), rng).train(training)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(2, 3), (5, 4), (7, 1)])
def test_batchnorm1d_gradients(rng, shape, training):
    errors = check_layer(_bn(mg.nn.BatchNorm1d, shape[1], rng, training), rng.standard_normal(shape))
    assert set(errors) == {"x", "gamma", "beta"} and max(errors.values()) < 1e-6


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(1, 2, 3, 3), (3, 2, 3, 4), (2, 1, 5, 1)])
def test_batchnorm2d_gradients(rng, shape, training):
    errors = check_layer(_bn(mg.nn.BatchNorm2d, shape[1], rng, training), rng.standard_normal(shape))
    assert max(errors.values()) < 1e-6


def test_eval_mode_gradient_with_batch_of_one(rng):
    errors = check_layer(_bn(mg.nn.BatchNorm1d, 3, rng, False), rng.standard_normal((1, 3)))
    assert max(errors.values()) < 1e-6


def test_all_ones_upstream_gives_zero_input_gradient(rng):
    """Why gradchecks use a random dy: with dy = 1 the true dx of BatchNorm is exactly zero."""
    layer = mg.nn.BatchNorm1d(3).astype("float64")
    y = layer(rng.standard_normal((6, 3)))
    assert np.abs(layer.backward(np.ones_like(y))).max() < 1e-12


def test_training_forward_normalises_and_updates_running_stats_like_pytorch(rng):
    layer = mg.nn.BatchNorm2d(2).astype("float64")
    x = 3.0 + 2.0 * rng.standard_normal((4, 2, 3, 3))
    y = layer(x)
    mu, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    m = 4 * 3 * 3
    np.testing.assert_allclose(y, (x - mu.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + 1e-5),
                               rtol=1e-12)
    np.testing.assert_allclose(layer.running_mean, 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, 0.9 + 0.1 * var * m / (m - 1), rtol=1e-12)


def test_eval_forward_uses_running_stats(rng):
    layer = randomize(mg.nn.BatchNorm1d(3), rng).astype("float64").eval()
    x = rng.standard_normal((4, 3))
    expected = (x - layer.running_mean) / np.sqrt(layer.running_var + 1e-5) * layer.gamma.data + layer.beta.data
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)
    before = layer.running_mean.copy()
    layer(x)
    assert np.array_equal(layer.running_mean, before)


def test_float32_in_float32_out(rng):
    layer = mg.nn.BatchNorm2d(4)
    x = rng.standard_normal((8, 4, 5, 5)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32 and layer.running_var.dtype == np.float32
    assert layer.backward(y).dtype == np.float32 and layer.gamma.grad.dtype == np.float32


def test_training_with_one_value_per_channel_is_an_error():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*more than one value per channel.*\(1, 3\)"):
        mg.nn.BatchNorm1d(3)(np.zeros((1, 3), dtype=np.float32))


@pytest.mark.parametrize("cls, shape, message", [
    (mg.nn.BatchNorm1d, (4, 5), r"x must be \(N, 3\), got \(4, 5\)"),
    (mg.nn.BatchNorm2d, (4, 3), r"x must be \(N, 3, H, W\), got \(4, 3\)"),
    (mg.nn.BatchNorm2d, (4, 2, 5, 5), r"x must be \(N, 3, H, W\), got \(4, 2, 5, 5\)"),
])
def test_bad_shapes(cls, shape, message):
    with pytest.raises(ValueError, match=message):
        cls(3)(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_features=0), "num_features must be a positive int"),
    (dict(num_features=3, momentum=1.5), "momentum must be in"),
    (dict(num_features=3, eps=0.0), "eps must be positive"),
])
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mg.nn.BatchNorm1d(**kwargs)


def test_running_stats_are_buffers_not_parameters():
    layer = mg.nn.BatchNorm2d(3)
    assert [name for name, _ in layer.named_parameters()] == ["gamma", "beta"]
    assert set(layer.state_dict()) == {"gamma", "beta", "running_mean", "running_var"}


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_batch_leaves_that_channels_running_stats_alone(rng, bad):
    bn = mg.nn.BatchNorm2d(3)
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    bn(x)
    before_mean, before_var = bn.running_mean.copy(), bn.running_var.copy()
    x[1, 2, 0, 1] = bad                                              # one bad value in channel 2
    with np.errstate(invalid="ignore"):                              # inf - inf: NumPy's own warning
        y = bn(x)
    assert np.isnan(y[:, 2]).any() and np.all(np.isfinite(y[:, :2]))   # the caller sees it
    np.testing.assert_array_equal(bn.running_mean[2], before_mean[2])
    np.testing.assert_array_equal(bn.running_var[2], before_var[2])
    assert np.all(bn.running_mean[:2] != before_mean[:2])            # the other channels still learn
    assert np.all(np.isfinite(bn.eval()(np.nan_to_num(x))))
