"""minigan.gan.graph: a step replayed from a CUDA graph trains exactly as the eager step (skips without a GPU)."""
import numpy as np
import pytest

import minigan as mg
from minigan.gan.game import gan_step
from minigan.gan.graph import CapturedStep, CaptureError


def _game(model):
    G, D = mg.models.build(model, rng=0)
    opt_g, opt_d = mg.optim.Adam(G.parameters(), lr=2e-3), mg.optim.Adam(D.parameters(), lr=1e-3)
    return G, D, opt_g, opt_d


def _batches(steps, batch, seed=0):
    rng = np.random.default_rng(seed)
    return [(mg.backend.asarray(rng.random((batch, 1, 28, 28)), "float32"),
             mg.backend.asarray(rng.standard_normal((batch, 100)), "float32")) for _ in range(steps)]


def _weights(*nets):
    return [mg.to_numpy(p.data) for net in nets for p in net.parameters()]


@pytest.mark.gpu
@pytest.mark.parametrize("model", ["dcgan", "mlp"])
@pytest.mark.parametrize("d_steps", [1, 2])
def test_replayed_steps_train_as_the_eager_steps(cupy, model, d_steps):
    loss = mg.losses.get("nonsaturating")
    eager, graphed = _game(model), _game(model)
    step = CapturedStep(*graphed[:2], loss, *graphed[2:])
    records = {"eager": [], "graph": []}
    for i, (real, z) in enumerate(_batches(6, 16)):
        update_g = (i + 1) % d_steps == 0
        records["eager"].append(gan_step(*eager[:2], loss, *eager[2:], real, z, update_g=update_g))
        records["graph"].append(step(real, z, update_g=update_g))
    assert len(step.graphs) == (1 if d_steps == 1 else 2)
    for ours, reference in zip(_weights(*graphed[:2]), _weights(*eager[:2])):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)
    for ours, reference in zip(mg.train.telemetry.to_host(records["graph"]), mg.train.telemetry.to_host(records["eager"])):
        assert set(ours) == set(reference)
        for key in reference:
            assert ours[key] == pytest.approx(reference[key], rel=1e-4, abs=1e-6), key
    assert (graphed[2].t, graphed[3].t) == (eager[2].t, eager[3].t)


@pytest.mark.gpu
def test_rebinding_the_weights_records_the_step_again(cupy):
    loss = mg.losses.get("nonsaturating")
    eager, graphed = _game("dcgan"), _game("dcgan")
    step = CapturedStep(*graphed[:2], loss, *graphed[2:])
    batches = _batches(5, 8)
    for i, (real, z) in enumerate(batches):
        if i == 3:                                   # as a resume would: new arrays for every weight
            for net_e, net_g in zip(eager[:2], graphed[:2]):
                net_g.load_state_dict(net_e.state_dict())
        gan_step(*eager[:2], loss, *eager[2:], real, z)
        step(real, z)
    for ours, reference in zip(_weights(*graphed[:2]), _weights(*eager[:2])):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)


def test_capture_needs_the_cupy_backend():
    G, D, opt_g, opt_d = _game("mlp")
    with pytest.raises(CaptureError, match="need the cupy backend"):
        CapturedStep(G, D, mg.losses.get("nonsaturating"), opt_g, opt_d)


@pytest.mark.gpu
def test_minigan_train_on_cupy_replays_the_step_and_matches_the_eager_run(cupy, tmp_path):
    results = {}
    for eager in (False, True):
        config = mg.train.TrainConfig(model="dcgan", epochs=2, batch_size=16, limit=64, backend="cupy", eager=eager,
                                      eval_n=0, n_samples=4, log_every=3, out=str(tmp_path / f"run-{eager}"))
        results[eager] = mg.train.train(config, log=lambda *_: None)
    assert results[False]["status"] == results[True]["status"] == "finished"
    for ours, reference in zip(_weights(results[False]["G"], results[False]["D"]),
                               _weights(results[True]["G"], results[True]["D"])):
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_a_step_that_cannot_be_recorded_runs_eagerly_and_says_why(cupy, monkeypatch):
    monkeypatch.setattr(mg.backend.cuda, "_cublas", lambda: None)     # CuPy's own @ refuses during a capture
    loss, said = mg.losses.get("nonsaturating"), []
    eager, graphed = _game("mlp"), _game("mlp")
    step = CapturedStep(*graphed[:2], loss, *graphed[2:], log=said.append)
    for real, z in _batches(3, 8):
        gan_step(*eager[:2], loss, *eager[2:], real, z)
        step(real, z)
    assert step.unavailable and len(said) == 1 and "runs eagerly" in said[0]
    for ours, reference in zip(_weights(*graphed[:2]), _weights(*eager[:2])):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)
