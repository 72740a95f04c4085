"""SpectralNorm: W / σ(W) by power iteration, its backward through σ with u and v held, against
finite differences and against torch.nn.utils.parametrizations.spectral_norm from the same u and v.

Derivation: docs/derivations.md, "Spectral normalisation".
"""
import copy

import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.gradcheck import check_layer, check_penalty, check_tangent

LAYERS = [
    (lambda: nn.Dense(5, 3, init="torch", rng=0), (4, 5)),
    (lambda: nn.Conv2d(2, 3, 3, 2, 1, init="torch", rng=0), (2, 2, 5, 5)),
    (lambda: nn.ConvTranspose2d(2, 3, 4, 2, 1, init="torch", rng=0), (2, 2, 3, 3)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_the_backward_and_the_tangent_match_finite_differences_with_u_and_v_fixed(rng, make, shape):
    layer = nn.SpectralNorm(make(), rng=1).eval()            # eval: no power iteration, a fixed function
    x = rng.standard_normal(shape)
    assert max(check_layer(layer, x).values()) < 1e-8
    assert max(check_tangent(layer, x).values()) < 1e-8


@pytest.mark.parametrize("make, shape", LAYERS)
def test_sigma_converges_to_the_largest_singular_value(make, shape):
    layer = nn.SpectralNorm(make(), rng=1).astype("float64")
    M = layer._matrix(layer.W.data)
    layer._power_iteration(M, 100)
    assert float(layer.sigma()) == pytest.approx(np.linalg.svd(M, compute_uv=False)[0], rel=1e-8)


def test_power_iteration_runs_in_training_mode_only(rng):
    layer = nn.SpectralNorm(nn.Dense(5, 3, rng=0), rng=1)
    layer.W.data += rng.standard_normal(layer.W.shape).astype(np.float32)      # a step moved W: u is off
    x = rng.standard_normal((4, 5)).astype(np.float32)
    u = layer.u.copy()
    layer.eval()(x)
    assert np.array_equal(layer.u, u)
    layer.train()(x)
    assert not np.array_equal(layer.u, u)


def test_only_the_raw_weight_is_trained_and_u_v_are_saved(rng):
    layer = nn.SpectralNorm(nn.Conv2d(1, 2, 3, rng=0), rng=1)
    assert [name for name, _ in layer.named_parameters()] == ["W", "0.b"]
    assert set(layer.state_dict()) == {"W", "0.b", "u", "v"}
    copy_ = nn.SpectralNorm(nn.Conv2d(1, 2, 3, rng=5), rng=6)
    copy_.load_state_dict(layer.state_dict())
    x = rng.standard_normal((2, 1, 5, 5)).astype(np.float32)
    assert np.array_equal(copy_.eval()(x), layer.eval()(x))


def test_a_penalty_through_spectral_norm_matches_finite_differences(rng):
    D = nn.Sequential(nn.SpectralNorm(nn.Conv2d(1, 2, 3, 2, 1, init="torch", rng=0), rng=0), nn.LeakyReLU(0.2),
                      nn.Flatten(), nn.SpectralNorm(nn.Dense(18, 1, init="torch", rng=1), rng=1)).eval()
    assert max(check_penalty(D, rng.standard_normal((3, 1, 5, 5)), 10.0, 1.0).values()) < 1e-8


def test_the_checker_fails_when_the_correction_through_sigma_is_dropped(rng, monkeypatch):
    monkeypatch.setattr(nn.SpectralNorm, "_weight_grad", lambda self, dW_bar, W_bar, sigma, u, v: dW_bar / sigma)
    with pytest.raises(AssertionError, match="gradient check failed for 'W'"):
        check_layer(nn.SpectralNorm(nn.Dense(5, 3, rng=0), rng=1).eval(), rng.standard_normal((4, 5)))


@pytest.mark.parametrize("bad, message", [
    (lambda: nn.SpectralNorm(nn.LeakyReLU()), "must be a Dense, Conv2d or ConvTranspose2d"),
    (lambda: nn.SpectralNorm(nn.Dense(2, 2), n_power_iterations=0), "n_power_iterations must be a positive int"),
    (lambda: nn.SpectralNorm(nn.Dense(2, 2), eps=-1.0), "eps must be a positive number"),
])
def test_bad_arguments_are_named(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        bad()


@pytest.mark.torch
@pytest.mark.parametrize("make, shape", LAYERS)
def test_against_torch_parametrizations_spectral_norm_from_the_same_u_and_v(rng, make, shape):
    torch = pytest.importorskip("torch")
    ours = nn.SpectralNorm(make(), rng=1).astype("float64")
    inner = ours.layer
    if isinstance(inner, nn.Dense):
        theirs = torch.nn.Linear(*ours.W.shape).double()
        weight = ours.W.data.T
    else:
        cls = torch.nn.Conv2d if isinstance(inner, nn.Conv2d) else torch.nn.ConvTranspose2d
        C_a, C_b = ours.W.shape[:2]
        theirs = cls(*((C_b, C_a) if cls is torch.nn.Conv2d else (C_a, C_b)), ours.W.shape[2:], inner.stride,
                     inner.padding).double()
        weight = ours.W.data
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(weight))
        theirs.bias.copy_(torch.tensor(inner.b.data))
    torch.nn.utils.parametrizations.spectral_norm(theirs)
    sn = theirs.parametrizations.weight[0]
    with torch.no_grad():
        sn._u.copy_(torch.tensor(ours.u))
        sn._v.copy_(torch.tensor(ours.v))
    x = rng.standard_normal(shape)
    for _ in range(2):                                       # two training steps' power iterations
        y = ours.train()(x)
        dy = rng.standard_normal(y.shape)
        ours.zero_grad()
        ours.backward(dy)
        theirs.zero_grad()
        yt = theirs(torch.tensor(x))
        yt.backward(torch.tensor(dy))
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.u, sn._u.numpy(), rtol=1e-10, atol=1e-12)
        grad = theirs.parametrizations.weight.original.grad.numpy()
        np.testing.assert_allclose(ours.W.grad, grad.T if isinstance(inner, nn.Dense) else grad, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(inner.b.grad, theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
