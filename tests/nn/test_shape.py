"""Flatten and Reshape (minigan/nn/shape.py): values, gradients, layouts, errors.

Confirms docs/derivations.md, "Flatten and Reshape".
"""
import numpy as np
import pytest

import minigan as mg
from minigan.gradcheck import check_layer


def test_flatten_and_its_gradient(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    assert mg.nn.Flatten()(x).shape == (2, 60)
    assert check_layer(mg.nn.Flatten(), x)["x"] < 1e-6


def test_reshape_and_its_gradient(rng):
    x = rng.standard_normal((3, 12))
    layer = mg.nn.Reshape(3, 2, 2)
    y = layer(x)
    assert y.shape == (3, 3, 2, 2)
    np.testing.assert_array_equal(y.reshape(3, 12), x)
    assert check_layer(mg.nn.Reshape(3, 2, 2), x)["x"] < 1e-6
    assert mg.nn.Reshape((3, 4))(x).shape == (3, 3, 4)


def test_flatten_needs_two_axes():
    with pytest.raises(ValueError, match=r"Flatten\(\): x must be \(N, d1, ...\)"):
        mg.nn.Flatten()(np.zeros(4, dtype=np.float32))


def test_reshape_size_mismatch_names_the_sizes():
    with pytest.raises(ValueError, match=r"Reshape\(128, 7, 7\): x must be \(N, ...\) with 6272 values per sample, got \(2, 100\)"):
        mg.nn.Reshape(128, 7, 7)(np.zeros((2, 100), dtype=np.float32))


@pytest.mark.parametrize("shape", [(), (0, 3), (2, -1), (1.5,)])
def test_reshape_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="shape must be one or more positive ints"):
        mg.nn.Reshape(*shape)


def test_flatten_names_itself_on_an_empty_batch():
    with pytest.raises(ValueError, match=r"Flatten\(\): x must be .* N >= 1, got \(0, 3, 2\)"):
        mg.nn.Flatten()(np.zeros((0, 3, 2), np.float32))
