"""The GAN losses and softmax cross-entropy (minigan/losses.py): values, gradients, extremes.

Confirms docs/derivations.md, "GAN losses" with its subsections "Working on logits",
"minimax (saturating)", "nonsaturating", "One-sided label smoothing",
"lsgan (least squares, a = 0, b = 1, c = 1)", "hinge" and "wasserstein";
and "Softmax cross-entropy (the evaluator's loss)".
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import minigan as mg
from minigan import losses
from minigan.gradcheck import check_loss


def _sigmoid(s):
    return 1.0 / (1.0 + math.exp(-s))


ALL = [losses.get(name) for name in losses.NAMES] + [losses.get("minimax", real_label=0.9),
                                                     losses.get("nonsaturating", real_label=0.9)]


@pytest.mark.parametrize("loss", ALL, ids=repr)
@pytest.mark.parametrize("shape", [(5,), (4, 1)])
def test_gradients_at_ordinary_scores(rng, loss, shape):
    real = rng.standard_normal(shape) * 2.0
    fake = rng.standard_normal(shape) * 2.0
    real[np.abs(np.abs(real) - 1.0) < 0.05] += 0.2        # keep hinge scores off its kinks at +-1
    fake[np.abs(np.abs(fake) - 1.0) < 0.05] += 0.2
    errors = check_loss(loss, real, fake)
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("loss", ALL, ids=repr)
@pytest.mark.parametrize("magnitude", [40.0, 1e4])
def test_gradients_at_extreme_scores(loss, magnitude):
    real = np.array([magnitude, -magnitude, 0.5 * magnitude])
    fake = np.array([-magnitude, magnitude, -0.5 * magnitude])
    errors = check_loss(loss, real, fake, eps=1e-2 if magnitude > 100 else 1e-6)
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("loss", ALL, ids=repr)
def test_extreme_float32_scores_are_finite_exact_and_keep_dtype(loss):
    real = np.array([[1e4], [-1e4], [0.0]], dtype=np.float32)
    fake = np.array([[-1e4], [1e4], [0.0]], dtype=np.float32)
    value, (_, d_real), (_, d_fake) = loss.d_loss(real, fake), loss.d_loss_real(real), loss.d_loss_fake(fake)
    g_value, g_fake = loss.g_loss(fake)
    for grad in (d_real, d_fake, g_fake):
        assert grad.dtype == np.float32 and grad.shape == (3, 1) and np.all(np.isfinite(grad))
    assert value.shape == () and value.dtype == np.float32          # a device scalar: nothing is read back
    assert math.isfinite(value) and math.isfinite(g_value)


@pytest.mark.parametrize("loss", ALL, ids=repr)
def test_a_mean_of_huge_scores_does_not_overflow_before_it_divides(loss):
    """Scores whose loss fits in float32 give that loss, not inf (NumPy's mean adds before it divides)."""
    huge = 2.2e19 if loss.name == "lsgan" else 1.5e38           # lsgan: 0.5 * s² just fits
    for s in (np.full((4, 1), huge, np.float32), np.full((4, 1), -huge, np.float32)):
        value = loss.d_loss(s, -s if loss.name != "lsgan" else np.zeros_like(s))
        g_value, _ = loss.g_loss(s)
        assert math.isfinite(value) and math.isfinite(g_value) and value.dtype == np.float32
    s = np.full((4, 1), huge, np.float64)
    g_value, _ = loss.g_loss(s)
    assert float(g_value) == pytest.approx({"lsgan": 0.5 * (huge - 1.0) ** 2, "minimax": -huge,
                                           "nonsaturating": 0.0}.get(loss.name, -huge), rel=1e-12)


def test_exact_limits_of_the_sigmoid_losses():
    ns = losses.get("nonsaturating")
    s = np.array([-1e4, 1e4], dtype=np.float32)
    value, d = ns.g_loss(s)
    assert value == pytest.approx(0.5e4)                     # softplus(1e4) = 1e4, softplus(-1e4) = 0
    np.testing.assert_array_equal(d, [-0.5, 0.0])            # (sigma(s) - 1) / N exactly
    (_, d_real), (_, d_fake) = losses.get("minimax").d_loss_real(s), losses.get("minimax").d_loss_fake(s)
    np.testing.assert_array_equal(d_real, [-0.5, 0.0])
    np.testing.assert_array_equal(d_fake, [0.0, 0.5])


def test_hand_computed_values():
    s_r, s_f = np.array([2.0, -1.0]), np.array([0.5, -3.0])
    bce_real = np.mean([-math.log(_sigmoid(x)) for x in s_r])
    bce_fake = np.mean([-math.log(1 - _sigmoid(x)) for x in s_f])
    assert losses.get("minimax").d_loss(s_r, s_f) == pytest.approx(bce_real + bce_fake, rel=1e-12)
    assert losses.get("minimax").g_loss(s_f)[0] == pytest.approx(np.mean([math.log(1 - _sigmoid(x)) for x in s_f]))
    assert losses.get("nonsaturating").g_loss(s_f)[0] == pytest.approx(np.mean([-math.log(_sigmoid(x)) for x in s_f]))
    smooth = np.mean([-(0.9 * math.log(_sigmoid(x)) + 0.1 * math.log(1 - _sigmoid(x))) for x in s_r])
    assert losses.get("nonsaturating", real_label=0.9).d_loss(s_r, s_f) == pytest.approx(smooth + bce_fake)
    assert losses.get("lsgan").d_loss(s_r, s_f) == pytest.approx(0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2)
    assert losses.get("lsgan").g_loss(s_f)[0] == pytest.approx(0.5 * (0.25 + 16) / 2)
    assert losses.get("hinge").d_loss(s_r, s_f) == pytest.approx((0 + 2) / 2 + (1.5 + 0) / 2)
    assert losses.get("hinge").g_loss(s_f)[0] == pytest.approx(1.25)
    assert losses.get("wasserstein").d_loss(s_r, s_f) == pytest.approx(-1.25 - 0.5)
    assert losses.get("wasserstein").g_loss(s_f)[0] == pytest.approx(1.25)


def test_label_smoothing_moves_the_real_target():
    _, d_real = losses.get("minimax", real_label=0.9).d_loss_real(np.zeros(2))
    np.testing.assert_allclose(d_real, [(0.5 - 0.9) / 2] * 2)
    _, d_real_plain = losses.get("minimax").d_loss_real(np.zeros(2))
    np.testing.assert_allclose(d_real_plain, [-0.25, -0.25])


def test_why_the_nonsaturating_loss_exists():
    """As D(G(z)) = sigma(s) -> 0, the minimax generator gradient vanishes; the non-saturating one does not."""
    minimax, nonsat = losses.get("minimax"), losses.get("nonsaturating")
    previous = np.inf
    for s in [-1.0, -3.0, -6.0, -10.0, -20.0]:
        _, d_mm = minimax.g_loss(np.array([s]))
        _, d_ns = nonsat.g_loss(np.array([s]))
        assert abs(d_mm[0]) < previous and abs(d_mm[0]) == pytest.approx(_sigmoid(s), rel=1e-9)
        assert abs(d_ns[0]) == pytest.approx(1.0 - _sigmoid(s), rel=1e-9) and abs(d_ns[0]) > 0.73
        previous = abs(d_mm[0])
    assert previous < 3e-9
    assert abs(nonsat.g_loss(np.array([-20.0]))[1][0]) > 0.999999


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.integers(1, 8), elements=st.floats(-1e4, 1e4, width=32)),
       arrays(np.float32, st.integers(1, 8), elements=st.floats(-1e4, 1e4, width=32)))
def test_any_finite_scores_give_finite_results(real, fake):
    for loss in ALL:
        value, (_, d_real), (_, d_fake) = loss.d_loss(real, fake), loss.d_loss_real(real), loss.d_loss_fake(fake)
        g_value, g_fake = loss.g_loss(fake)
        assert math.isfinite(value) and math.isfinite(g_value)
        assert all(np.all(np.isfinite(g)) and g.dtype == np.float32 for g in (d_real, d_fake, g_fake))
        assert d_real.shape == real.shape and d_fake.shape == fake.shape


def test_wasserstein_says_it_needs_a_lipschitz_constraint():
    assert losses.get("wasserstein").needs_lipschitz and not losses.get("hinge").needs_lipschitz


def test_get_errors():
    with pytest.raises(ValueError, match=r"name must be one of \('minimax'"):
        losses.get("banana")
    with pytest.raises(ValueError, match=r"real_label must be in \(0, 1\]"):
        losses.get("minimax", real_label=1.5)
    with pytest.raises(TypeError, match=r"losses.get\('lsgan'\)"):
        losses.get("lsgan", real_label=0.9)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 2)), r"real_scores must be \(N,\) or \(N, 1\) with N >= 1, got \(3, 2\)"),
    (np.zeros(0), r"got \(0,\)"),
])
def test_bad_score_shapes(bad, message):
    with pytest.raises(ValueError, match=message):
        losses.get("hinge").d_loss(bad, np.zeros(3))


def test_integer_scores_rejected():
    with pytest.raises(TypeError, match="fake_scores must be a floating-point array"):
        losses.get("lsgan").g_loss(np.zeros(3, dtype=np.int64))


def test_public_namespace():
    assert mg.losses is losses
    assert set(losses.NAMES) == {"minimax", "nonsaturating", "lsgan", "hinge", "wasserstein"}


@pytest.mark.parametrize("loss", ALL, ids=repr)
def test_d_loss_is_the_sum_of_its_real_and_fake_terms_and_hands_back_no_gradient(rng, loss):
    real, fake = rng.standard_normal(5), rng.standard_normal(3)
    value = loss.d_loss(real, fake)
    assert value == pytest.approx(loss.d_loss_real(real)[0] + loss.d_loss_fake(fake)[0], rel=1e-15)
    assert np.ndim(value) == 0                     # the value alone: each gradient comes with its own batch


def test_softmax_cross_entropy_value_gradient_and_errors(rng):
    s = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, size=6)
    loss, ds = mg.losses.softmax_cross_entropy(s, y)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(6), y]).mean())
    np.testing.assert_allclose(ds, (p - np.eye(4)[y]) / 6, atol=1e-15)
    errors = mg.gradcheck.check_function(lambda v: mg.losses.softmax_cross_entropy(v, y), s)
    assert errors["x"] < 1e-8
    big = np.array([[1e4, -1e4, 0.0]], np.float32)                 # no overflow, no warning
    loss, ds = mg.losses.softmax_cross_entropy(big, np.array([1]))
    assert loss == pytest.approx(2e4) and ds.dtype == np.float32
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        mg.losses.softmax_cross_entropy(s, y + 4)
    with pytest.raises(ValueError, match="logits must be a float array"):
        mg.losses.softmax_cross_entropy(s[0], y)
