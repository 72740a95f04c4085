import numpy as np
import pytest

import minigan as mg


def test_same_seed_same_weights_and_generator_accepted():
    a, b = mg.nn.Conv2d(3, 8, 4, rng=7), mg.nn.Conv2d(3, 8, 4, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.W.data, b.W.data)
    assert not np.array_equal(a.W.data, mg.nn.Conv2d(3, 8, 4, rng=8).W.data)


def test_float32_and_float64_draw_the_same_values():
    w32 = mg.nn.Dense(10, 5, rng=3).W.data
    w64 = mg.nn.Dense(10, 5, rng=3, dtype="float64").W.data
    assert w32.dtype == np.float32 and w64.dtype == np.float64
    np.testing.assert_array_equal(w32, w64.astype(np.float32))


@pytest.mark.parametrize("scheme, expected_std", [
    ("dcgan", 0.02),
    ("he", np.sqrt(2.0 / 400)),
    ("glorot", np.sqrt(2.0 / (400 + 300))),          # U(-a, a) has std a / sqrt(3)
    ("torch", 1.0 / np.sqrt(3 * 400)),
])
def test_scheme_statistics(scheme, expected_std):
    layer = mg.nn.Dense(400, 300, init=scheme, rng=0, dtype="float64")
    assert abs(layer.W.data.std() / expected_std - 1.0) < 0.02
    assert abs(layer.W.data.mean()) < 0.05 * expected_std
    if scheme == "torch":
        assert np.abs(layer.b.data).max() <= 1.0 / np.sqrt(400) and layer.b.data.any()
    else:
        assert not layer.b.data.any()


def test_conv_fan_in_follows_pytorch():
    layer = mg.nn.Conv2d(16, 32, 3, init="he", rng=0, dtype="float64")
    assert abs(layer.W.data.std() / np.sqrt(2.0 / (16 * 9)) - 1.0) < 0.05


def test_unknown_scheme_is_named():
    with pytest.raises(ValueError, match=r"Conv2d: init must be one of .*got 'xavier'"):
        mg.nn.Conv2d(1, 1, 3, init="xavier")
