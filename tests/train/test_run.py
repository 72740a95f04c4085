import json

import numpy as np
import pytest

import minigan as mg
import minigan.errors  # noqa: F401
from minigan.train.checkpoint import CheckpointError, load_checkpoint
from minigan.train import TrainConfig, TrainingDiverged, gan_step, resume, train


def _quiet(*_):
    pass


def _config(tmp_path, **overrides):
    settings = dict(model="mlp", epochs=2, batch_size=16, limit=64, out=str(tmp_path / "run"), log_every=2,
                    n_samples=16, eval_n=0)
    settings.update(overrides)
    return TrainConfig(**settings)


def _weights(result):
    return {**{"G/" + k: v for k, v in result["G"].state_dict().items()},
            **{"D/" + k: v for k, v in result["D"].state_dict().items()}}


def test_tiny_run_trains_and_writes_every_output(tmp_path):
    G0, D0 = mg.models.build("mlp", rng=0)
    result = train(_config(tmp_path), log=_quiet)
    out = result["out"]
    assert result["status"] == "finished" and result["step"] == 8 and result["epoch"] == 2
    for name in ["grid_epoch_001.png", "grid_epoch_002.png", "samples.png", "progress.gif", "curves.png",
                 "metrics.jsonl", "config.json", "checkpoint.npz", "real_samples.png", "generator_epoch_001.npz",
                 "generator_epoch_002.npz"]:
        assert (out / name).stat().st_size > 0, name
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 9))
    for r in records:
        assert all(np.isfinite(r[k]) for k in ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"))
    assert json.loads((out / "config.json").read_text())["model"] == "mlp"
    changed = [not np.array_equal(a.data, b) for a, b in zip(G0.parameters(), result["G"].state_dict().values())]
    assert all(changed)
    assert (out / "samples.png").read_bytes()[:4] == b"\x89PNG" and (out / "progress.gif").read_bytes()[:3] == b"GIF"


def test_same_seed_same_run(tmp_path):
    a = train(_config(tmp_path, out=str(tmp_path / "a"), epochs=1), log=_quiet)
    b = train(_config(tmp_path, out=str(tmp_path / "b"), epochs=1), log=_quiet)
    wa, wb = _weights(a), _weights(b)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_resume_mid_epoch_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    settings = dict(model="dcgan", epochs=2, batch_size=8, limit=32, log_every=100)
    straight = train(_config(tmp_path, out=str(tmp_path / "straight"), **settings), log=_quiet)
    stopped = train(_config(tmp_path, out=str(tmp_path / "split"), max_steps=5, **settings), log=_quiet)
    assert stopped["status"] == "stopped at max_steps" and stopped["step"] == 5
    meta = load_checkpoint(stopped["checkpoint"])["meta"]
    assert (meta["epoch"], meta["batch"], meta["step"]) == (1, 1, 5)                 # mid-epoch 2
    resumed = resume(stopped["checkpoint"], log=_quiet)
    assert resumed["status"] == "finished" and resumed["step"] == straight["step"] == 8
    ws, wr = _weights(straight), _weights(resumed)
    assert set(ws) == set(wr) and any("running_var" in k for k in ws)
    for k in ws:
        assert np.array_equal(ws[k], wr[k]), k
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))


def test_gan_step_keeps_the_roles_apart(rng):
    def setup():
        G, D = mg.models.build("mlp", z_dim=8, rng=0)
        return G, D, mg.optim.Adam(G.parameters()), mg.optim.Adam(D.parameters())

    loss = mg.losses.get("nonsaturating")
    real = rng.random((4, 1, 28, 28)).astype(np.float32)
    z = rng.standard_normal((4, 8)).astype(np.float32)
    G, D, opt_g, opt_d = setup()
    G_before, D_before = G.state_dict(), D.state_dict()
    record = gan_step(G, D, loss, opt_g, opt_d, real, z, update_g=False)
    assert all(np.array_equal(v, G.state_dict()[k]) for k, v in G_before.items())   # the D step leaves G alone
    assert not all(np.array_equal(v, D.state_dict()[k]) for k, v in D_before.items())
    assert "loss_g" not in record and 0.0 < record["d_real"] < 1.0
    d_step_grads = [p.grad.copy() for p in D.parameters()]

    G2, D2, opt_g2, opt_d2 = setup()
    record = gan_step(G2, D2, loss, opt_g2, opt_d2, real, z, layer_norms=True)
    for p, g in zip(D2.parameters(), d_step_grads):                                 # G's pass through a frozen
        np.testing.assert_array_equal(p.grad, g)                                    # D left D's grads alone
    assert not D2.frozen and not any(layer.frozen for layer in D2)
    assert not all(np.array_equal(v, G2.state_dict()[k]) for k, v in G_before.items())
    assert set(record["layer_norms_g"]) == {"0 Dense", "2 Dense", "4 Dense"} and record["grad_norm_g"] > 0


def test_d_steps_updates_g_every_kth_iteration(tmp_path):
    result = train(_config(tmp_path, d_steps=2, epochs=1), log=_quiet)
    records = [json.loads(line) for line in (result["out"] / "metrics.jsonl").read_text().splitlines()]
    assert [("loss_g" in r) for r in records] == [False, True, False, True]


def test_wasserstein_clips_the_critic_by_default(tmp_path):
    result = train(_config(tmp_path, loss="wasserstein", epochs=1), log=_quiet)
    assert max(float(np.abs(p.data).max()) for p in result["D"].parameters()) <= 0.01


def test_a_nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    config = _config(tmp_path)
    real_step = mg.train.gan_step
    calls = []

    def failing_step(*args, **kwargs):
        record = real_step(*args, **kwargs)
        calls.append(1)
        if len(calls) == 6:
            record["loss_g"] = float("nan")
        return record

    monkeypatch.setattr(mg.train.run, "gan_step", failing_step)
    with pytest.raises(TrainingDiverged, match=r"loss_g became nan at step 6 \(epoch 2\).*last good checkpoint"):
        train(config, log=_quiet)
    assert all(line.strip() for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
    meta = load_checkpoint(tmp_path / "run" / "checkpoint.npz")["meta"]
    assert meta["epoch"] == 1 and meta["step"] == 4


def test_corrupt_and_incompatible_checkpoints(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="bad.npz: not a minigan checkpoint"):
        resume(str(bad), log=_quiet)
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.npz")
    result = train(_config(tmp_path, epochs=1), log=_quiet)
    G, D = mg.models.build("dcgan")
    with pytest.raises(CheckpointError, match="does not fit this model"):
        mg.train.checkpoint.restore(load_checkpoint(result["checkpoint"]), G, D)


def test_sample_from_a_checkpoint(tmp_path):
    result = train(_config(tmp_path, epochs=1), log=_quiet)
    out, = mg.train.sample(result["checkpoint"], n=9, out=str(tmp_path / "nine.png"))
    picture = mg.train.plots.load_png(out)
    assert picture.shape == (2 * (3 * 30 + 2), 2 * (3 * 30 + 2))


@pytest.mark.parametrize("overrides, message", [
    (dict(model="vae"), "model must be one of"),
    (dict(loss="l1"), "loss must be one of"),
    (dict(epochs=0), "epochs must be a positive int"),
    (dict(width=0), "width must be a positive int"),
    (dict(width=2.5), "width must be a positive int"),
    (dict(loss="hinge", real_label=0.9), "real_label applies to"),
])
def test_bad_configs(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        train(_config(tmp_path, **overrides), log=_quiet)


def test_progress_bar_draws_only_on_a_terminal():
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen, lines = Terminal(), []
    bar = mg.train.progress.ProgressBar(6, log=lines.append, file=screen, every_s=0)
    bar.update(1, 2, "loss_d 0.5")
    bar.write("step 1 | loss_d 0.5")
    bar.close()
    assert "epoch 1/2" in screen.getvalue() and "loss_d 0.5" in screen.getvalue() and "1/6" in screen.getvalue()
    assert lines == ["step 1 | loss_d 0.5"]
    pipe = io.StringIO()
    quiet = mg.train.progress.ProgressBar(6, log=lines.append, file=pipe)
    quiet.update(1, 2, "x")
    quiet.close()
    assert pipe.getvalue() == ""


def test_a_non_finite_adam_moment_stops_the_run_at_the_next_check(tmp_path, monkeypatch):
    real_step = mg.optim.Adam.step
    calls = []

    def poisoned_step(self):                                  # G's v overflows at step 6; losses stay finite
        real_step(self)
        calls.append(1)
        if len(calls) == 2 * 6:
            self.state[0]["v"][0, 0] = np.inf

    monkeypatch.setattr(mg.optim.Adam, "step", poisoned_step)
    with pytest.raises(TrainingDiverged, match=r"G's Adam v of 0.W became non-finite by step 6 .*"
                                               r"last good checkpoint is .*checkpoint.npz \(step 4\).*--resume"):
        train(_config(tmp_path), log=_quiet)
    saved = load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    assert saved["meta"]["step"] == 4
    assert all(np.isfinite(a).all() for a in saved["arrays"].values() if a.dtype.kind == "f")


def test_a_resume_into_another_folder_branches_the_run(tmp_path):
    first = train(_config(tmp_path, epochs=1), log=_quiet)
    before = (first["out"] / "metrics.jsonl").read_text()
    branch = resume(first["checkpoint"], {"epochs": 2, "out": str(tmp_path / "branch"), "lr_d": 1e-4}, log=_quiet)
    assert branch["out"] == tmp_path / "branch" and branch["step"] == 8
    assert (first["out"] / "metrics.jsonl").read_text() == before
    steps = [json.loads(line)["step"] for line in (tmp_path / "branch" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))


def test_resume_with_another_batch_size_continues_where_it_stopped(tmp_path):
    stopped = train(_config(tmp_path, max_steps=3), log=_quiet)              # 3 batches of 16 in epoch 1
    logged = []
    resumed = resume(stopped["checkpoint"], {"batch_size": 8}, log=logged.append)
    assert "minigan: resuming with batch_size 8 (was 16)" in logged
    assert any("epoch 1, batch 6" in line for line in logged)               # 48 images = 6 batches of 8
    assert resumed["epoch"] == 2 and resumed["step"] == 3 + 2 + 8


def test_resume_refuses_what_cannot_change(tmp_path):
    result = train(_config(tmp_path, epochs=1), log=_quiet)
    before = result["checkpoint"].read_bytes()
    with pytest.raises(mg.errors.ConfigError, match="z_dim cannot change when resuming"):
        resume(result["checkpoint"], {"z_dim": 8, "epochs": 2}, log=_quiet)
    with pytest.raises(mg.errors.ConfigError, match="width cannot change when resuming"):
        resume(result["checkpoint"], {"width": 8, "epochs": 2}, log=_quiet)
    with pytest.raises(mg.errors.ConfigError, match="already trained 1 epoch: nothing to do"):
        resume(result["checkpoint"], log=_quiet)
    assert result["checkpoint"].read_bytes() == before


def test_a_float32_run_logs_plain_numbers_and_real_samples(tmp_path):
    result = train(_config(tmp_path, epochs=1, layer_norms=True), log=_quiet)
    record = json.loads((result["out"] / "metrics.jsonl").read_text().splitlines()[-1])
    assert all(isinstance(v, (int, float)) for k, v in record.items() if not k.startswith("layer_norms"))
    assert mg.train.plots.load_png(result["out"] / "real_samples.png").shape == (2 * (4 * 30 + 2), 2 * (4 * 30 + 2))


def test_each_epoch_is_scored_on_fixed_noise(tmp_path):
    logged = []
    result = train(_config(tmp_path, epochs=2, eval_n=40), log=logged.append)
    records = [json.loads(line) for line in (result["out"] / "metrics.jsonl").read_text().splitlines()]
    scores = [r for r in records if "fid" in r]
    assert [(r["epoch"], r["step"]) for r in scores] == [(1, 4), (2, 8)]
    assert all(r["fid"] > 0 and 1.0 <= r["score"] <= 10.0 and 0 <= r["coverage"] <= 10 for r in scores)
    assert sum(line.startswith("epoch 2 scores | FID") for line in logged) == 1
    assert mg.train.plots.load_png(result["out"] / "curves.png").shape[1] == 2200     # the scores, fourth
    again = train(_config(tmp_path, epochs=2, eval_n=40, out=str(tmp_path / "again")), log=_quiet)
    assert [json.loads(line) for line in (again["out"] / "metrics.jsonl").read_text().splitlines()
            if "fid" in line][0]["fid"] == scores[0]["fid"]


def test_no_scores_for_other_data_without_a_classifier(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    x, y = mg.data.load_mnist(limit=64)
    mg.data.write_idx(data / "train-images-idx3-ubyte", (255 * x[:, 0]).astype(np.uint8))
    mg.data.write_idx(data / "train-labels-idx1-ubyte", y.astype(np.uint8))
    logged = []
    train(_config(tmp_path, epochs=1, eval_n=40, data=str(data)), log=logged.append)
    assert any("no per-epoch scores" in line and "train-classifier" in line for line in logged)
    with pytest.raises(mg.errors.ConfigError, match="classifier"):
        train(_config(tmp_path, epochs=1, eval_n=40, classifier=str(tmp_path / "none.npz"),
                      out=str(tmp_path / "other")), log=_quiet)
    assert not (tmp_path / "other").exists()


def test_a_drop_in_coverage_is_a_warning_naming_the_better_epoch(tmp_path):
    class Reference:
        kinds = "digits"

        def __init__(self, coverages):
            self.coverages = iter(coverages)

        def evaluate(self, images, labels=None):
            covered = next(self.coverages)
            return {"fid": 1.0, "score": 2.0, "coverage": covered, "missing": list(range(covered, 10)),
                    "precision": 0.5, "recall": 0.5}

    G, _ = mg.models.build("mlp", z_dim=8, rng=0)
    scorer = mg.train.scoring.EpochScorer(Reference([8, 10, 6, 10, 5]), n=10, z_dim=8, seed=0)
    snapshots = {2: tmp_path / "generator_epoch_002.npz"}
    warnings = [scorer.score(G, epoch, snapshots.get)[2] for epoch in (1, 2, 3, 4, 5)]
    assert warnings[:2] == [None, None] and warnings[3] is None
    assert "epoch 3 show 6 of 10 digits (missing: 6, 7, 8, 9)" in warnings[2]
    assert "G of epoch 2 covered 10: " + str(snapshots[2]) in warnings[2]
    assert "so early in a run this often clears within an epoch or two" in warnings[2]   # epoch 3: early
    assert "epoch 5 show 5 of 10" in warnings[4] and "early" not in warnings[4]


@pytest.mark.parametrize("model", ["dcgan", "mlp"])
def test_a_float32_step_stays_float32(rng, model):
    """No float64 leaks in: layers refuse a dy or x of another dtype, so a float64 intermediate would
    raise; and everything the step leaves behind (records, gradients, Adam state) is float32."""
    G, D = mg.models.build(model, z_dim=100, rng=0)
    opt_g, opt_d = mg.optim.Adam(G.parameters()), mg.optim.Adam(D.parameters())
    real = rng.random((4, 1, 28, 28)).astype(np.float32)
    z = rng.standard_normal((4, 100)).astype(np.float32)
    for loss in mg.losses.NAMES:
        record = gan_step(G, D, mg.losses.get(loss), opt_g, opt_d, real, z, layer_norms=True)
        values = [v for k, v in record.items() if not k.startswith("layer_norms")]
        values += [v for k in ("layer_norms_d", "layer_norms_g") for v in record[k].values()]
        assert all(v.dtype == np.float32 for v in values), loss
    arrays = [p.data for p in G.parameters() + D.parameters()] + [p.grad for p in G.parameters() + D.parameters()]
    arrays += [opt.flat.data for opt in (opt_g, opt_d)] + [a for opt in (opt_g, opt_d) for a in opt.flat_state.values()]
    arrays += [b for _, b in G.named_buffers()] + [b for _, b in D.named_buffers()]
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}


def test_a_penalised_run_resumes_bit_identical_and_records_its_penalties(tmp_path):
    settings = dict(model="dcgan", loss="wgan-gp", r1=2.0, reg_every=2, epochs=2, batch_size=8, limit=32,
                    log_every=100, d_steps=2)
    straight = train(_config(tmp_path, out=str(tmp_path / "straight"), **settings), log=_quiet)
    stopped = train(_config(tmp_path, out=str(tmp_path / "split"), max_steps=5, **settings), log=_quiet)
    resumed = resume(stopped["checkpoint"], log=_quiet)
    ws, wr = _weights(straight), _weights(resumed)
    assert not any("running" in k and k.startswith("D/") for k in ws)             # a BatchNorm-free critic
    for k in ws:
        assert np.array_equal(ws[k], wr[k]), k
    records = [json.loads(line) for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    penalised = [r["step"] for r in records if "gp" in r]
    assert penalised == [1, 3, 5, 7] and all("r1" in r and r["gp_norm"] > 0 for r in records if "gp" in r)
    assert all(np.isfinite(r["gp"]) and r["r1"] >= 0 for r in records if "gp" in r)


def test_wgan_gp_trains_with_its_papers_settings_and_no_clipping(tmp_path):
    logged = []
    result = train(_config(tmp_path, loss="wgan-gp", epochs=1, batch_size=8), log=logged.append)
    c = TrainConfig(**json.loads((result["out"] / "config.json").read_text()))
    assert (c.lr_g, c.lr_d, c.beta1, c.beta2, c.d_steps, c.gp, c.clip_value) == (1e-4, 1e-4, 0.0, 0.9, 5, 10.0, None)
    assert "wgan-gp loss with gp 10" in logged[0]


def test_resume_refuses_to_add_a_penalty(tmp_path):
    result = train(_config(tmp_path, model="dcgan", batch_size=8, limit=16, epochs=1), log=_quiet)
    with pytest.raises(mg.errors.ConfigError, match="r1 is 10.0, but a gradient penalty cannot be added when resuming"):
        resume(result["checkpoint"], {"r1": 10.0, "epochs": 2}, log=_quiet)
    with pytest.raises(mg.errors.ConfigError, match="loss cannot change to or from wgan-gp when resuming"):
        resume(result["checkpoint"], {"loss": "wgan-gp", "epochs": 2}, log=_quiet)


@pytest.mark.parametrize("augment_p", [1.0, 0.5])
def test_a_spectrally_normalised_augmented_run_resumes_bit_identical_and_samples(tmp_path, augment_p):
    settings = dict(model="dcgan", spectral_norm="GD", r1=1.0, augment="all", augment_p=augment_p, epochs=2,
                    batch_size=8, limit=32, log_every=100)
    straight = train(_config(tmp_path, out=str(tmp_path / "straight"), **settings), log=_quiet)
    stopped = train(_config(tmp_path, out=str(tmp_path / "split"), max_steps=5, **settings), log=_quiet)
    resumed = resume(stopped["checkpoint"], log=_quiet)
    ws, wr = _weights(straight), _weights(resumed)
    assert {"D/0.u", "D/0.v", "G/0.u"} <= set(ws)
    for k in ws:
        assert np.array_equal(ws[k], wr[k]), k
    images = mg.train.generate(resumed["checkpoint"], 4, seed=0)
    assert images.shape == (4, 1, 28, 28) and np.isfinite(images).all()
    with pytest.raises(mg.errors.ConfigError, match="spectral_norm cannot change when resuming"):
        resume(resumed["checkpoint"], {"spectral_norm": "", "epochs": 3}, log=_quiet)


def test_augmentation_changes_the_run_and_follows_the_seed(tmp_path):
    plain = train(_config(tmp_path, out=str(tmp_path / "plain"), epochs=1), log=_quiet)
    a = train(_config(tmp_path, out=str(tmp_path / "a"), epochs=1, augment="translation,cutout"), log=_quiet)
    b = train(_config(tmp_path, out=str(tmp_path / "b"), epochs=1, augment="translation,cutout"), log=_quiet)
    wp, wa, wb = _weights(plain), _weights(a), _weights(b)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa) and not all(np.array_equal(wa[k], wp[k]) for k in wa)


def test_a_discriminator_that_wins_outright_is_a_warning_even_without_scores(tmp_path):
    logged = []
    train(_config(tmp_path, lr_g=10.0, lr_d=10.0, epochs=3, limit=640, batch_size=32), log=logged.append)
    warnings = [line for line in logged if line.startswith("minigan: warning: D tells every fake")]
    assert warnings and "start again with lower --lr-g and --lr-d" in warnings[-1]
    quiet = []
    train(_config(tmp_path, out=str(tmp_path / "quiet"), epochs=2), log=quiet.append)
    assert not any("D tells every fake" in line for line in quiet)            # a healthy run: no warning
