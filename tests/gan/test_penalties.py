"""minigan.gan.penalties: the gradient penalties' second-order gradients, proven and refused where they cannot hold.

Derivation: docs/derivations.md, "Gradient penalties"; the torch oracle is in tests/test_torch_parity.py.
"""
import copy

import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.gan import penalties
from minigan.gradcheck import check_penalty, check_tangent

from helpers import away_from_zero


def dense_critic(rng):
    return nn.Sequential(nn.Flatten(), nn.Dense(12, 5, init="torch", rng=rng), nn.LeakyReLU(0.2),
                         nn.Dense(5, 4, init="torch", rng=rng), nn.ReLU(), nn.Dense(4, 1, init="torch", rng=rng))


def conv_critic(rng):
    return nn.Sequential(nn.Conv2d(1, 2, 4, 2, 1, init="torch", rng=rng), nn.LeakyReLU(0.2),
                         nn.Sequential(nn.Conv2d(2, 3, 3, 1, 1, init="torch", rng=rng), nn.LeakyReLU(0.2)),
                         nn.Flatten(), nn.Dense(27, 1, init="torch", rng=rng))


CRITICS = [(dense_critic, (3, 1, 3, 4)), (conv_critic, (3, 1, 6, 6))]


@pytest.mark.parametrize("make, shape", CRITICS)
@pytest.mark.parametrize("weight, center", [(5.0, 0.0), (10.0, 1.0), (0.7, 2.5)])
def test_the_penalty_gradient_matches_finite_differences(rng, make, shape, weight, center):
    errors = check_penalty(make(rng), rng.standard_normal(shape), weight, center)
    assert max(errors.values()) < 1e-7


def test_the_dcgan_critic_without_batchnorm_passes_the_check(rng):
    _, D = mg.models.build("dcgan", z_dim=2, rng=0, width=2, d_norm=False)
    errors = check_penalty(D, rng.uniform(0, 1, (2, 1, 28, 28)), 10.0, 1.0)
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("label, layer, shape", [
    ("Dense", nn.Dense(4, 3, init="torch", rng=0), (3, 4)),
    ("Conv2d", nn.Conv2d(2, 3, 3, 2, 1, init="torch", rng=0), (2, 2, 5, 5)),
    ("ConvTranspose2d", nn.ConvTranspose2d(2, 3, 4, 2, 1, init="torch", rng=0), (2, 2, 3, 4)),
    ("LeakyReLU", nn.LeakyReLU(0.2), (3, 2, 3, 3)),
    ("ReLU", nn.ReLU(), (3, 5)),
    ("Flatten", nn.Flatten(), (2, 3, 2, 2)),
    ("Reshape", nn.Reshape(3, 4), (2, 12)),
])
def test_every_tangent_matches_finite_differences_of_its_forward(rng, label, layer, shape):
    errors = check_tangent(layer, away_from_zero(rng, shape))
    assert "tangent" in errors and max(errors.values()) < 1e-8


def test_the_checks_fail_on_a_tangent_through_leaky_relu_without_its_mask(rng, monkeypatch):
    monkeypatch.setattr(nn.LeakyReLU, "tangent", lambda self, x, u, dy=None: u)      # the planted bug
    with pytest.raises(AssertionError, match="tangent"):
        check_tangent(nn.LeakyReLU(0.2), away_from_zero(rng, (3, 5)))
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_penalty(conv_critic(rng), rng.standard_normal((3, 1, 6, 6)), 10.0, 1.0)


def test_the_checks_fail_on_a_weight_gradient_of_the_wrong_size(rng, monkeypatch):
    tangent = nn.Dense.tangent

    def scaled(self, x, u, dy=None):
        return tangent(self, x, 1.01 * u, dy) / 1.01 if dy is not None else tangent(self, x, u)

    monkeypatch.setattr(nn.Dense, "tangent", scaled)          # dW 1% too large, the tangent right
    with pytest.raises(AssertionError, match="gradient check failed for 'W'"):
        check_tangent(nn.Dense(4, 3, rng=0), rng.standard_normal((3, 4)))


def test_the_penalty_adds_into_the_gradients_and_returns_its_value(rng):
    D, x = conv_critic(rng), rng.standard_normal((3, 1, 6, 6)).astype(np.float32)
    alone = copy.deepcopy(D)
    alone.zero_grad()
    P = penalties.gradient_penalty(alone, x, 10.0, 1.0)
    for p in D.parameters():
        p.grad[...] = 1.0
    assert penalties.gradient_penalty(D, x, 10.0, 1.0) == P
    for (name, a), (_, b) in zip(alone.named_parameters(), D.named_parameters()):
        np.testing.assert_allclose(b.grad, a.grad + 1.0, rtol=1e-6, err_msg=name)
    g = penalties.input_gradient(D, x)
    norms = np.sqrt((g.astype(np.float64) ** 2).reshape(3, -1).sum(axis=1))
    assert float(P) == pytest.approx(10.0 * np.mean((norms - 1.0) ** 2), rel=1e-5)
    assert P.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in D.parameters())


def test_the_first_pass_touches_no_gradient_and_restores_the_flags(rng):
    D = dense_critic(rng)
    D.zero_grad()
    D[0].needs_dx = False
    g = penalties.input_gradient(D, rng.standard_normal((2, 1, 3, 4)).astype(np.float32))
    assert g.shape == (2, 1, 3, 4)
    assert all(not p.grad.any() for p in D.parameters())
    assert D[0].needs_dx is False and not any(layer.frozen for layer in D)


def test_a_sample_with_a_zero_gradient_adds_nothing_and_keeps_its_value(rng):
    D = dense_critic(rng).astype("float64")
    D[5].W.data[...] = 0.0                                    # every input gradient is 0
    D.zero_grad()
    P = penalties.gradient_penalty(D, rng.standard_normal((4, 1, 3, 4)), 3.0, 1.0)
    assert float(P) == pytest.approx(3.0)                     # weight * (0 - center)²
    assert all(np.isfinite(p.grad).all() for p in D.parameters())


def test_batch_of_one_and_frozen_critics(rng):
    D = conv_critic(rng)
    x = rng.standard_normal((1, 1, 6, 6)).astype(np.float32)
    D.zero_grad()
    penalties.gradient_penalty(D.freeze(), x, 10.0, 1.0)
    assert all(not p.grad.any() for p in D.parameters())      # a frozen critic keeps its gradients
    penalties.gradient_penalty(D.unfreeze(), x, 10.0, 1.0)
    assert any(p.grad.any() for p in D.parameters())


@pytest.mark.parametrize("layer, why", [
    (nn.BatchNorm1d(5), "depends on the whole batch"),
    (nn.Sigmoid(), "second-derivative terms"),
    (nn.Tanh(), "second-derivative terms"),
])
def test_layers_the_penalty_cannot_pass_are_refused_by_name(rng, layer, why):
    D = nn.Sequential(nn.Flatten(), nn.Dense(12, 5, rng=0), layer, nn.Dense(5, 1, rng=1))
    with pytest.raises(ValueError, match=rf"layer 2, {type(layer).__name__}.*{why}"):
        penalties.gradient_penalty(D, rng.standard_normal((3, 1, 3, 4)).astype(np.float32), 10.0, 1.0)


@pytest.mark.parametrize("weight, center, field", [(-1.0, 1.0, "weight"), (float("nan"), 1.0, "weight"),
                                                   (1.0, float("inf"), "center"), (True, 0.0, "weight")])
def test_bad_weights_and_centers_are_refused_before_any_work(rng, weight, center, field):
    D = dense_critic(rng)
    with pytest.raises(ValueError, match=f"{field} must be a finite number >= 0"):
        penalties.gradient_penalty(D, rng.standard_normal((3, 1, 3, 4)).astype(np.float32), weight, center)
    assert D[1]._cache is None


def test_an_input_that_does_not_fit_the_critic_is_named(rng):
    with pytest.raises(ValueError, match=r"Dense\(12, 5\): x must be \(N, 12\)"):
        penalties.gradient_penalty(dense_critic(rng), rng.standard_normal((3, 1, 5, 5)).astype(np.float32), 1.0)
    wide = nn.Sequential(nn.Flatten(), nn.Dense(12, 2, rng=0))
    with pytest.raises(ValueError, match=r"one score per sample, \(N, 1\) = \(3, 1\), got \(3, 2\)"):
        penalties.gradient_penalty(wide, rng.standard_normal((3, 1, 3, 4)).astype(np.float32), 1.0)


def test_interpolates_lie_between_real_and_fake_and_follow_the_seed(rng):
    real = np.ones((5, 1, 2, 2), np.float32)
    fake = np.zeros((5, 1, 2, 2), np.float32)
    a = penalties.interpolates(real, fake, np.random.default_rng(3))
    b = penalties.interpolates(real, fake, np.random.default_rng(3))
    assert a.dtype == np.float32 and a.shape == real.shape and np.array_equal(a, b)
    assert ((a >= 0) & (a <= 1)).all() and len(np.unique(a)) == 5           # one ε per sample
    with pytest.raises(ValueError, match="one shape"):
        penalties.interpolates(real, fake[:4], np.random.default_rng(3))


def test_the_named_terms(rng):
    assert penalties.wgan_gp() == penalties.Penalty("gp", "interpolates", 10.0, 1.0)
    assert penalties.r1(10) == penalties.Penalty("r1", "real", 5.0, 0.0)
    assert penalties.r2(4).on == "fake" and penalties.r1(10).scaled(4).weight == 20.0
    with pytest.raises(ValueError, match="interpolates need a random generator"):
        penalties.wgan_gp().apply(dense_critic(rng), np.ones((2, 1, 3, 4), np.float32),
                                  np.zeros((2, 1, 3, 4), np.float32))
    with pytest.raises(ValueError, match="on must be"):
        penalties.Penalty("x", "everywhere", 1.0, 0.0)


def test_a_zero_gradient_sample_leaves_the_other_samples_gradient_as_it_was(rng):
    D = nn.Sequential(nn.Dense(2, 3, init="torch", rng=0), nn.ReLU(), nn.Dense(3, 1, init="torch", rng=1))
    D = D.astype("float64")
    D[0].b.data[...] = [-0.5, -0.5, -0.5]
    x = np.array([[-5.0, -5.0], [1.0, 2.0], [2.0, 0.5]])
    D[0].W.data[...] = np.abs(D[0].W.data)                    # sample 0: every ReLU input < 0, so g_0 = 0
    assert np.all(penalties.input_gradient(D, x)[0] == 0) and np.all(penalties.input_gradient(D, x)[1:] != 0)
    D.zero_grad()
    P_all = penalties.gradient_penalty(D, x, 4.0, 1.0)
    full = [p.grad.copy() for p in D.parameters()]
    D.zero_grad()
    P_rest = penalties.gradient_penalty(D, x[1:], 4.0, 1.0)
    assert float(P_all) == pytest.approx((4.0 * 1.0 + 2 * float(P_rest)) / 3)     # sample 0 adds weight·center²
    for a, b in zip(full, (p.grad for p in D.parameters())):
        np.testing.assert_allclose(a, 2.0 / 3.0 * b, rtol=1e-12, atol=1e-15)   # its row of u_0 is 0
