"""NumPy <-> CuPy parity: the same seed and input give the same outputs and gradients (float32 tolerance).

Gradients are proven by the float64 checks on NumPy; these tests show that the CuPy
backend computes the same functions. They skip cleanly without CuPy or a GPU.
"""
import numpy as np
import pytest

import minigan as mg
from minigan import backend
from minigan.gradcheck.suite import cases

pytestmark = pytest.mark.gpu


def _run(label, seed, dtype):
    """Build case ``label`` on the active backend, run forward and backward; return host arrays."""
    _, layer, x = next(c for c in cases(seed) if c[0] == label)
    layer = layer.astype(dtype)
    x = x.astype(dtype)
    y = layer(x)
    dy = backend.asarray(np.random.default_rng(seed).standard_normal(y.shape), dtype)
    dx = layer.backward(dy)
    out = {"y": mg.to_numpy(y), "x": mg.to_numpy(dx)}
    out.update({name: mg.to_numpy(p.grad) for name, p in layer.named_parameters()})
    return out


@pytest.mark.parametrize("label", [c[0] for c in cases()])
def test_every_layer_matches_numpy(cupy, label):
    mg.set_backend("numpy")
    expected = _run(label, 0, "float32")
    mg.set_backend("cupy")
    got = _run(label, 0, "float32")
    assert set(got) == set(expected)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=2e-4, atol=2e-5, err_msg=f"{label}: {name}")


def test_same_seed_same_weights_on_both_backends(cupy):
    mg.set_backend("numpy")
    w_numpy = mg.nn.Conv2d(3, 8, 4, rng=11).W.data
    mg.set_backend("cupy")
    layer = mg.nn.Conv2d(3, 8, 4, rng=11)
    assert isinstance(layer.W.data, cupy.ndarray)
    np.testing.assert_array_equal(mg.to_numpy(layer.W.data), w_numpy)


def test_gradcheck_runs_on_cupy(cupy):
    mg.set_backend("cupy")
    _, layer, x = next(c for c in cases(0) if c[0].startswith("Conv2d"))
    errors = mg.gradcheck.check_layer(layer, x)
    assert max(errors.values()) < 1e-6


def test_a_tiny_training_run_on_cupy(cupy, tmp_path):
    config = mg.train.TrainConfig(model="dcgan", epochs=1, batch_size=8, limit=32, backend="cupy",
                                  out=str(tmp_path / "run"), n_samples=4)
    result = mg.train.train(config, log=lambda *_: None)
    assert result["status"] == "finished"
    assert isinstance(result["G"][0].W.data, cupy.ndarray)
    assert (tmp_path / "run" / "samples.png").exists()
    record = result["last"]
    assert all(np.isfinite(record[k]) for k in ("loss_d", "loss_g", "d_real", "d_fake"))


def _penalty(label, dtype):
    """P and every gradient of a penalty case (``suite.penalty_cases``) on the active backend, on the host."""
    from minigan.gradcheck.suite import penalty_cases
    _, D, x, weight, center = next(c for c in penalty_cases(0) if c[0] == label)
    D = D.astype(dtype)
    D.zero_grad()
    P = mg.penalties.gradient_penalty(D, backend.asarray(mg.to_numpy(x), dtype), weight, center)
    return {"P": mg.to_numpy(P), **{name: mg.to_numpy(p.grad) for name, p in D.named_parameters()}}


def test_gradient_penalties_match_numpy(cupy):
    from minigan.gradcheck.suite import penalty_cases
    for label in [c[0] for c in penalty_cases(0)]:
        mg.set_backend("numpy")
        expected = _penalty(label, "float32")
        mg.set_backend("cupy")
        got = _penalty(label, "float32")
        for name in expected:
            np.testing.assert_allclose(got[name], expected[name], rtol=2e-4, atol=2e-5, err_msg=f"{label}: {name}")


def test_a_penalised_spectrally_normalised_run_on_cupy(cupy, tmp_path):
    config = mg.train.TrainConfig(model="dcgan", loss="wgan-gp", r1=1.0, spectral_norm="D", epochs=1, limit=64,
                                  batch_size=16, eval_n=0, n_samples=16, backend="cupy", out=str(tmp_path / "run"))
    logged = []
    result = mg.train.train(config, log=logged.append)
    assert result["status"] == "finished" and any("runs op by op on the GPU" in line for line in logged)
