"""The gradient checker and its table (minigan/gradcheck/): it passes on every layer, loss and
player of the game, and fails on planted bugs.

Confirms docs/derivations.md, "How the checker proves a derivation" and "The whole game".
"""
import subprocess
import sys

import numpy as np
import pytest

import minigan as mg
from minigan.gradcheck import check_game, check_layer, numerical_gradient, rel_error
from minigan.gradcheck.suite import TOLERANCE, _checks, cases, game_cases, run_suite


def test_numerical_gradient_of_a_known_function(rng):
    x = rng.standard_normal((3, 4))
    g = numerical_gradient(lambda v: float((v ** 3).sum()), x)
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-8, atol=1e-9)


def test_numerical_gradient_restores_its_input_exactly(rng):
    x = rng.standard_normal(5)
    before = x.copy()
    numerical_gradient(lambda v: float(np.sin(v).sum()), x)
    assert np.array_equal(x, before)


def test_rel_error_is_normwise():
    assert rel_error(np.array([1.0, 1e-12]), np.array([1.0, 2e-12])) == pytest.approx(1e-12)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([2.0]), np.array([1.0])) == pytest.approx(0.5)
    assert rel_error(np.array([2.0]), np.array([1.0]), scale=10.0) == pytest.approx(0.1)


class ScaledDense(mg.nn.Dense):
    """A deliberately wrong layer: its dx is 1.01 times the true one."""

    def backward(self, dy):
        return 1.01 * super().backward(dy)


class WrongWeightGradient(mg.nn.Dense):
    """A deliberately wrong layer: it forgets to accumulate dW."""

    def backward(self, dy):
        W_grad = self.W.grad.copy()
        dx = super().backward(dy)
        self.W.grad[...] = W_grad
        return dx


@pytest.mark.parametrize("method", ["elementwise", "directional"])
def test_checker_catches_a_wrong_input_gradient(rng, method):
    layer = ScaledDense(4, 3, rng=0)
    with pytest.raises(AssertionError, match=r"ScaledDense: gradient check failed for 'x"):
        check_layer(layer, rng.standard_normal((3, 4)), method=method)


def test_checker_catches_a_missing_parameter_gradient_and_names_the_index(rng):
    with pytest.raises(AssertionError, match=r"failed for 'W' at index \(\d, \d\)"):
        check_layer(WrongWeightGradient(4, 3, rng=0), rng.standard_normal((3, 4)))


def test_check_layer_returns_tiny_errors_and_leaves_the_layer_untouched(rng):
    layer = mg.nn.Sequential(mg.nn.Dense(4, 5, rng=0), mg.nn.BatchNorm1d(5), mg.nn.Tanh())
    before = layer.state_dict()
    errors = check_layer(layer, rng.standard_normal((6, 4)).astype(np.float32))
    assert set(errors) == {"x", "0.W", "0.b", "1.gamma", "1.beta"}
    assert max(errors.values()) < TOLERANCE
    after = layer.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert layer[0].W.dtype == np.float32 and float(np.abs(layer[0].W.grad).max()) == 0.0


def test_directional_check_on_a_large_tensor(rng):
    layer = mg.nn.Conv2d(8, 16, 3, 1, 1, rng=0)
    errors = check_layer(layer, rng.standard_normal((4, 8, 16, 16)), method="directional", n_directions=4)
    assert max(errors.values()) < TOLERANCE


def test_check_layer_rejects_an_unknown_method(rng):
    with pytest.raises(ValueError, match="method must be"):
        check_layer(mg.nn.Tanh(), rng.standard_normal((2, 2)), method="forward")


def test_suite_covers_every_layer_and_passes():
    names = " ".join(label for label, _ in _checks(0))
    for layer in mg.nn.__all__:
        if layer not in ("Layer", "Parameter", "init"):
            assert layer in names, f"the gradcheck suite has no case for {layer}"
    lines = []

    class Collect:
        def write(self, text):
            lines.append(text)

    assert run_suite(out=Collect()) == 0
    table = "".join(lines)
    assert "layer, loss or player" in table and "loss Hinge()" in table and "max rel error" in table
    assert "FAIL" not in table
    for model in mg.models.MODELS:
        for loss in mg.losses.NAMES:
            assert f"GAN {model} {loss}: D on real and fake" in table
            assert f"GAN {model} {loss}: G through D" in table
        assert f"GAN {model} conditional: G through D" in table
        assert f"GAN {model} conditional r1: D with its penalty" in table


class _OffByOnePercent(mg.losses.NonSaturating):
    """A planted bug: G's loss gradient 1% too large."""

    def g_loss(self, s_fake):
        value, d_fake = super().g_loss(s_fake)
        return value, 1.01 * d_fake


def _small_game(rng):
    for model, loss, G, D, real, z in game_cases():
        if model == "dcgan" and loss.name == "nonsaturating":
            return G, D, real, z


def test_the_game_check_passes_and_catches_a_wrong_generator_gradient(rng):
    G, D, real, z = _small_game(rng)
    errors = check_game(G, D, mg.losses.get("nonsaturating"), real, z)
    assert set(errors["G"]) == {name for name, _ in G.named_parameters()}
    assert set(errors["D"]) == {name for name, _ in D.named_parameters()}
    assert max(errors["G"].values()) < 1e-6 and max(errors["D"].values()) < 1e-6
    with pytest.raises(AssertionError, match=r"G in .*gradient check failed for '0\.W'"):
        check_game(G, D, _OffByOnePercent(), real, z)


def test_the_game_check_catches_a_wrong_layer_inside_the_discriminator(rng, monkeypatch):
    G, D, real, z = _small_game(rng)
    original = mg.nn.LeakyReLU.backward
    monkeypatch.setattr(mg.nn.LeakyReLU, "backward", lambda self, dy: 1.01 * original(self, dy))
    with pytest.raises(AssertionError, match="D in .*gradient check failed"):
        check_game(G, D, mg.losses.get("nonsaturating"), real, z)


def test_module_command_prints_the_table():
    out = subprocess.run([sys.executable, "-m", "minigan.gradcheck"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "ConvTranspose2d(3, 1, k=4, s=2, p=1)" in out.stdout
    assert "all gradients match" in out.stdout
    assert out.stderr == ""
