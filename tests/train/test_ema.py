"""The moving average of G's weights: its update rule, its place in checkpoints, and what samples use it."""
import numpy as np
import pytest

import minigan as mg
from minigan.train.ema import WeightAverage


def test_the_update_rule_with_its_warm_up(rng):
    net = mg.nn.Sequential(mg.nn.Dense(3, 2, rng=0), mg.nn.BatchNorm1d(2))
    average = WeightAverage(net, 0.9)
    start = net.parameters()[0].data.copy()
    targets = []
    for n in range(3):
        net.parameters()[0].data[...] = rng.standard_normal((3, 2)).astype(np.float32)
        net[1].running_mean[...] = float(n)
        targets.append(net.parameters()[0].data.copy())
        average.update(net)
    expected, mean = start, np.zeros(2)
    for n, target in enumerate(targets):
        d = min(0.9, (1 + n) / (10 + n))
        expected, mean = d * expected + (1 - d) * target, d * mean + (1 - d) * n
    np.testing.assert_allclose(average.model.parameters()[0].data, expected, rtol=1e-6)
    np.testing.assert_allclose(average.model[1].running_mean, mean, rtol=1e-6)
    assert average.updates == 3 and not average.model.training
    with pytest.raises(ValueError, match="decay must be a float in"):
        WeightAverage(net, 1.0)


def _config(tmp_path, **overrides):
    settings = dict(model="dcgan", epochs=2, batch_size=8, limit=32, log_every=100, n_samples=4, eval_n=0,
                    ema=0.9, out=str(tmp_path / "run"))
    settings.update(overrides)
    return mg.train.TrainConfig(**settings)


def test_a_resumed_run_with_an_average_is_bit_identical(tmp_path):
    quiet = lambda *_: None   # noqa: E731
    straight = mg.train.train(_config(tmp_path, out=str(tmp_path / "a")), log=quiet)
    stopped = mg.train.train(_config(tmp_path, out=str(tmp_path / "b"), max_steps=5), log=quiet)
    mg.train.resume(stopped["checkpoint"], log=quiet)
    a = mg.train.checkpoint.load_checkpoint(straight["checkpoint"])
    b = mg.train.checkpoint.load_checkpoint(tmp_path / "b" / "checkpoint.npz")
    assert any(k.startswith("E/") for k in a["arrays"]) and a["meta"]["ema_updates"] == 8
    for k, v in a["arrays"].items():
        assert np.array_equal(v, b["arrays"][k]), k


def test_samples_come_from_the_average(tmp_path):
    result = mg.train.train(_config(tmp_path), log=lambda *_: None)
    saved = mg.train.checkpoint.load_checkpoint(result["checkpoint"])
    G, _ = mg.models.build("dcgan")
    G.load_state_dict({k[2:]: v for k, v in saved["arrays"].items() if k.startswith("E/")})
    z = np.random.default_rng(0).standard_normal((3, 100)).astype(np.float32)
    np.testing.assert_array_equal(mg.train.generate(result["checkpoint"], 3), G.eval()(z))
    snapshot = mg.train.checkpoint.load_checkpoint(tmp_path / "run" / "generator_epoch_002.npz")
    assert all(np.array_equal(snapshot["arrays"]["G/" + k[2:]], v) for k, v in saved["arrays"].items()
               if k.startswith("E/"))


def test_spectral_norms_vectors_are_copied_not_averaged(rng):
    G, _ = mg.models.build("mlp", z_dim=4, rng=0, spectral_norm="G")
    average = WeightAverage(G, 0.9)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    for _ in range(3):
        for p in G.parameters():
            p.data += 0.1 * rng.standard_normal(p.shape).astype(np.float32)
        G(x)                                                   # a training-mode forward moves u and v
        average.update(G)
    for (name, a), (_, b) in zip(average.model.named_buffers(), G.named_buffers()):
        assert np.array_equal(a, b), name
        assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5, name


def test_the_dcgan_keeps_an_average_by_default_and_the_mlp_does_not(tmp_path):
    dcgan, mlp = (mg.train.TrainConfig(model=m).validate() for m in ("dcgan", "mlp"))
    assert (dcgan.ema, mlp.ema) == (0.999, 0.0)
    settings = dict(epochs=1, limit=64, log_every=100, n_samples=4, eval_n=0)
    kept = mg.train.train(mg.train.TrainConfig(out=str(tmp_path / "d"), **settings), log=lambda *_: None)
    plain = mg.train.train(mg.train.TrainConfig(model="mlp", out=str(tmp_path / "m"), **settings), log=lambda *_: None)
    assert mg.train.checkpoint.has_average(mg.train.checkpoint.load_checkpoint(kept["checkpoint"]))
    assert not mg.train.checkpoint.has_average(mg.train.checkpoint.load_checkpoint(plain["checkpoint"]))


def test_an_older_checkpoint_without_an_average_keeps_sampling_g(tmp_path):
    """A run saved with ema 0 (the DCGAN's default before 2026-12-06) resumes and samples as it was."""
    quiet = lambda *_: None   # noqa: E731
    old = mg.train.train(_config(tmp_path, ema=0.0, max_steps=3), log=quiet)
    resumed = mg.train.resume(old["checkpoint"], log=quiet)
    saved = mg.train.checkpoint.load_checkpoint(resumed["checkpoint"])
    assert mg.train.checkpoint.config_of(saved).ema == 0.0 and not mg.train.checkpoint.has_average(saved)


def test_a_config_saved_before_the_average_existed_reads_as_none():
    """Checkpoints from before 2026-11-25 have no ``ema`` in their config: they kept no average."""
    saved = mg.train.TrainConfig().validate().__dict__.copy()
    del saved["ema"]
    assert mg.train.TrainConfig.from_dict(saved).ema == 0.0
