"""The installed ``minigan`` command, run in a subprocess the way a user (or a careless one) runs it.

Every expected failure must be one line on stderr, ``minigan <command>: ...``, with exit code 2
(bad input), 3 (divergence) or 130 / 143 (interruption), and must change nothing of an earlier run.
"""
import gzip
import errno
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import minigan as mg
import minigan.cli  # noqa: F401  (the command line is not imported by the package)

TINY = ["--model", "mlp", "--limit", "64", "--batch-size", "16", "--log-every", "1000", "--keep-snapshots", "1",
        "--eval-n", "0"]


def _command():
    installed = pathlib.Path(sys.executable).parent / "minigan"
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "minigan"]


def _run(*args, cwd=None, env=None, **kwargs):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(_command() + [str(a) for a in args], capture_output=True, text=True, timeout=600,
                          cwd=cwd, env=full_env, **kwargs)


def _one_line(out, code, *phrases):
    """The command failed with ``code`` and said so in exactly one line naming each phrase."""
    lines = out.stderr.strip().splitlines()
    assert out.returncode == code, out.stderr
    assert len(lines) == 1 and lines[0].startswith("minigan "), out.stderr
    assert "Traceback" not in out.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


def _snapshot(folder):
    """{name: sha1} of every file in a folder, to show that nothing changed."""
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(pathlib.Path(folder).iterdir())}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 2-epoch MLP run (16 steps), shared by the tests that only read it."""
    run = tmp_path_factory.mktemp("runs") / "run"
    out = _run("train", *TINY, "--epochs", "2", "--out", run)
    assert out.returncode == 0, out.stderr
    return run


@pytest.fixture
def run_copy(finished_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


# -- conventions -------------------------------------------------------------------------------
def test_help_version_and_every_option_has_a_sentence_and_a_default():
    out = _run("--help")
    assert out.returncode == 0 and all(c in out.stdout for c in ("train", "sample", "gradcheck"))
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"minigan {mg.__version__}"
    parser = mg.cli.build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    options = [a for a in train._actions if a.option_strings and a.dest != "help"]
    for field in mg.train.config.TrainConfig.__dataclass_fields__:
        assert any(a.dest == field for a in options), field
    for action in options:
        assert action.help and action.help[0].isupper() and "." in action.help, action.option_strings
        takes_value = action.nargs != 0
        if takes_value and action.dest not in ("resume",):
            assert "default" in action.help, action.option_strings


def test_eval_prints_every_metric(finished_run):
    out = _run("eval", "--checkpoint", finished_run / "checkpoint.npz", "--n", "200")
    assert out.returncode == 0, out.stderr
    for word in ("FID", "classifier score", "coverage", "precision", "recall", "n = 200"):
        assert word in out.stdout
    out = _run("eval", "--checkpoint", finished_run / "generator_epoch_002.npz", "--n", "200", "--json")
    result = json.loads(out.stdout)
    assert result["n"] == 200 and set(result) >= {"fid", "score", "coverage", "missing", "precision", "recall"}
    _one_line(_run("eval", "--checkpoint", finished_run / "checkpoint.npz", "--n", "5"), 2, "--n")
    _one_line(_run("eval", "--checkpoint", finished_run / "checkpoint.npz", "--classifier",
                   finished_run / "config.json"), 2, "config.json", "not a readable minigan classifier")


def test_gradcheck_command_with_a_backend():
    out = _run("gradcheck", "--backend", "numpy")
    assert out.returncode == 0 and "all gradients match" in out.stdout and "backend numpy" in out.stdout


@pytest.mark.slow
def test_train_then_sample_from_the_command_line(tmp_path):
    run = tmp_path / "run"
    out = _run("train", *TINY, "--epochs", "1", "--out", run)
    assert out.returncode == 0, out.stderr
    assert "epoch 1/1" in out.stdout and "tune" not in out.stdout      # the malloc line only with --verbose
    for name in ("samples.png", "real_samples.png", "checkpoint.npz", "generator_epoch_001.npz", "curves.png"):
        assert (run / name).exists(), name
    grid = tmp_path / "new" / "folder" / "grid.png"
    out = _run("sample", "--checkpoint", run / "checkpoint.npz", "--n", "12", "--nrow", "4", "--out", grid,
               "--each", tmp_path / "each")
    assert out.returncode == 0, out.stderr
    assert mg.train.plots.load_png(grid).shape == (2 * (3 * 30 + 2), 2 * (4 * 30 + 2))
    assert sorted(p.name for p in (tmp_path / "each").iterdir())[:2] == ["sample_00000.png", "sample_00001.png"]
    assert mg.train.plots.load_png(tmp_path / "each" / "sample_00011.png").shape == (28, 28)
    out = _run("sample", "--checkpoint", run / "generator_epoch_001.npz", "--interpolate", "5", "--n", "10",
               "--out", tmp_path / "walk.png")
    assert out.returncode == 0, out.stderr
    assert mg.train.plots.load_png(tmp_path / "walk.png").shape == (2 * (2 * 30 + 2), 2 * (5 * 30 + 2))


# -- 1. a run folder belongs to one run ------------------------------------------------------
def test_a_second_run_into_the_same_folder_is_refused_and_changes_nothing(run_copy):
    before = _snapshot(run_copy)
    out = _run("train", *TINY, "--epochs", "1", "--out", run_copy)
    _one_line(out, 2, "already holds a run", "--resume", "--overwrite")
    out = _run("train", *TINY, "--batch-size", "10000", "--out", run_copy, "--overwrite")
    _one_line(out, 2, "--batch-size", "10000")
    assert _snapshot(run_copy) == before


def test_overwrite_removes_only_the_runs_own_files(run_copy):
    (run_copy / "notes.txt").write_text("mine")
    (run_copy / "grid_epoch_007.png").write_bytes((run_copy / "grid_epoch_001.png").read_bytes())
    out = _run("train", *TINY, "--epochs", "1", "--out", run_copy, "--overwrite")
    assert out.returncode == 0, out.stderr
    assert (run_copy / "notes.txt").read_text() == "mine"
    assert not (run_copy / "grid_epoch_007.png").exists() and not (run_copy / "grid_epoch_002.png").exists()
    assert [json.loads(line)["step"] for line in (run_copy / "metrics.jsonl").read_text().splitlines()][-1] == 4


@pytest.mark.slow
def test_runs_started_together_without_out_get_their_own_folders(tmp_path):
    args = _command() + ["train", *TINY, "--max-steps", "2"]
    processes = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    for p in processes:
        _, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 3
    for folder in folders:
        steps = [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()]
        assert steps == [1, 2]


# -- 2. a diverged run never passes for a finished one ---------------------------------------
@pytest.mark.parametrize("lr", ["1e8", "1e6"])
def test_a_diverging_run_exits_3_with_valid_json_and_no_bad_checkpoint(tmp_path, lr):
    run = tmp_path / "run"
    out = _run("train", *TINY, "--epochs", "3", "--lr-g", lr, "--lr-d", lr, "--out", run)
    line = _one_line(out, 3, "diverged", "--lr-g", "--lr-d", "--loss")
    assert "RuntimeWarning" not in out.stderr and "finished" not in out.stdout
    records = [json.loads(text) for text in (run / "metrics.jsonl").read_text().splitlines()]
    assert records and "Infinity" not in (run / "metrics.jsonl").read_text()
    if (run / "checkpoint.npz").exists():
        assert str(run / "checkpoint.npz") in line
        saved = mg.train.checkpoint.load_checkpoint(run / "checkpoint.npz")
        assert all(np.isfinite(a).all() for a in saved["arrays"].values() if a.dtype.kind == "f")


# -- 3. every expected failure is one line ----------------------------------------------------
def _renamed_npy(tmp_path):
    path = tmp_path / "weights.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    return path


def _random_bytes(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    return path


def _bad_meta(meta):
    def make(tmp_path):
        path = tmp_path / "meta.npz"
        np.savez(path, meta=np.array(json.dumps(meta)))
        return path
    return make


@pytest.mark.parametrize("make, phrases", [
    (lambda tmp_path: tmp_path / "missing.npz", ["missing.npz", "no such checkpoint"]),
    (lambda tmp_path: tmp_path, ["a folder with no checkpoint.npz", "give a run folder or a checkpoint file"]),
    (_renamed_npy, ["weights.npz", "not a minigan checkpoint"]),
    (_random_bytes, ["random.npz", "not a minigan checkpoint"]),
    (_bad_meta({"format": "minigan-checkpoint-1"}), ["malformed metadata", "config"]),
    (_bad_meta({"format": "minigan-checkpoint-1", "config": {"model": "mlp"}, "epoch": "1", "batch": 0,
                "step": 0}), ["malformed metadata", "epoch"]),
    (_bad_meta([1, 2]), ["unknown checkpoint format"]),
    (lambda tmp_path: mg.classifier.SHIPPED, ["mnist-classifier.npz", "a classifier", "--classifier"]),
    (_bad_meta({"format": "minigan-checkpoint-1", "kind": "generator", "config": {"model": "gan"}, "epoch": 0,
                "batch": 0, "step": 0}), ["malformed config", "model"]),
])
def test_sample_failures_are_one_line(tmp_path, make, phrases):
    out = _run("sample", "--checkpoint", make(tmp_path), "--out", tmp_path / "s.png")
    line = _one_line(out, 2, *phrases)
    assert "pickle" not in line and not (tmp_path / "s.png").exists()


def test_a_checkpoint_of_another_model_is_one_line_and_leaves_nothing_behind(finished_run, tmp_path):
    G, D = mg.models.build("mlp")
    saved = mg.train.checkpoint.load_checkpoint(finished_run / "checkpoint.npz")
    saved["arrays"]["G/0.W"] = saved["arrays"]["G/0.W"][:5]
    path = tmp_path / "cut.npz"
    np.savez(path, **saved["arrays"], meta=np.array(json.dumps(saved["meta"])))
    out = _run("sample", "--checkpoint", path, "--out", tmp_path / "s.png")
    _one_line(out, 2, "cut.npz", "does not fit", "0.W")


@pytest.mark.parametrize("args, env, phrases", [
    (["--lr-d", "-1"], {}, ["--lr-d", "-1"]),
    (["--lr-g", "nan"], {}, ["--lr-g", "nan"]),
    (["--seed", "-1"], {}, ["--seed", "-1"]),
    (["--max-steps", "0"], {}, ["--max-steps", "0"]),
    (["--beta1", "1.5"], {}, ["--beta1", "[0, 1)"]),
    (["--loss", "hinge", "--real-label", "0.9"], {}, ["--real-label", "hinge"]),
    (["--z-dim", "1000000000"], {}, ["--z-dim", "memory"]),
    (["--model", "dcgan", "--batch-size", "1"], {}, ["--batch-size", "is 1", "BatchNorm"]),
    (["--data", "nowhere"], {}, ["nowhere", "is not a directory"]),
    ([], {"MINIGAN_BACKEND": "foo"}, ["MINIGAN_BACKEND", "'foo'"]),
    (["--out", "/proc/minigan-cannot-be-here"], {}, ["--out", "cannot be created"]),
])
def test_bad_training_input_is_one_line_and_writes_nothing(tmp_path, args, env, phrases):
    out = _run("train", *TINY, "--out", tmp_path / "run", *args, env=env)
    _one_line(out, 2, *phrases)
    assert not (tmp_path / "run").exists()


def test_out_that_is_a_file_or_inside_one(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    _one_line(_run("train", *TINY, "--out", a_file), 2, "is a file, not a folder")
    _one_line(_run("train", *TINY, "--out", a_file / "run"), 2, "cannot be created")
    assert a_file.read_text() == "x"


def test_cupy_backend_without_cupy_is_one_line(tmp_path):
    if shutil.which("nvidia-smi") or _importable("cupy"):
        pytest.skip("CuPy is installed here")
    _one_line(_run("train", *TINY, "--backend", "cupy", "--out", tmp_path / "run"), 2, "CuPy is not installed",
              "pip install")
    _one_line(_run("gradcheck", "--backend", "cupy"), 2, "CuPy is not installed")


def _importable(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None


def test_bad_data_files_are_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03")[:-6] + b"broken")
    mg.data.write_idx(data / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    _one_line(_run("train", *TINY, "--data", data, "--out", tmp_path / "run"), 2, "train-images-idx3-ubyte.gz",
              "corrupt gzip")
    mg.data.write_idx(data / "train-images-idx3-ubyte.gz", np.zeros((40, 32, 32), np.uint8))
    mg.data.write_idx(data / "train-labels-idx1-ubyte", np.zeros(40, np.uint8))
    _one_line(_run("train", *TINY, "--data", data, "--out", tmp_path / "run"), 2, "32x32", "28x28")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_FSIZE to make the disk 'full'")
def test_a_full_disk_during_a_save_is_one_line_and_leaves_no_partial_file(tmp_path):
    import resource

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    run = tmp_path / "run"
    out = _run("train", *TINY, "--epochs", "1", "--out", run, preexec_fn=small_disk)
    _one_line(out, 2, "checkpoint.npz", "disk full")
    assert not list(run.glob("*.tmp")) and not (run / "checkpoint.npz").exists()


def test_d_steps_as_long_as_an_epoch_still_finishes(tmp_path):
    out = _run("train", *TINY, "--limit", "32", "--epochs", "1", "--d-steps", "2", "--out", tmp_path / "run")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "run" / "samples.png").exists()


# -- 4. --resume does what the user typed -----------------------------------------------------
def test_resume_applies_the_flags_typed_and_refuses_shape_changes(run_copy):
    before = _snapshot(run_copy)
    _one_line(_run("train", "--resume", run_copy / "checkpoint.npz"), 2, "already trained 2 epochs",
              "nothing to do", "--epochs")
    _one_line(_run("train", "--resume", run_copy / "checkpoint.npz", "--epochs", "3", "--model", "dcgan"), 2,
              "--model", "cannot change when resuming")
    _one_line(_run("train", "--resume", run_copy / "checkpoint.npz", "--epochs", "3", "--z-dim", "8"), 2, "--z-dim")
    assert _snapshot(run_copy) == before
    out = _run("train", "--resume", run_copy / "checkpoint.npz", "--epochs", "3", "--lr-d", "1e-4", "--loss",
               "hinge", "--batch-size", "8")
    assert out.returncode == 0, out.stderr
    for phrase in ("resuming with lr_d 0.0001 (was 0.0004)", "resuming with loss hinge (was nonsaturating)",
                   "resuming with batch_size 8 (was 16)", "resuming with epochs 3 (was 2)"):
        assert phrase in out.stdout
    config = json.loads((run_copy / "config.json").read_text())
    assert (config["lr_d"], config["loss"], config["batch_size"], config["epochs"]) == (1e-4, "hinge", 8, 3)
    saved = mg.train.checkpoint.load_checkpoint(run_copy / "checkpoint.npz")
    assert saved["meta"]["optimizers"]["opt_d"]["hyperparameters"]["lr"] == 1e-4
    assert saved["meta"]["step"] == 8 + 8                     # 2 epochs of 4 steps + 1 epoch of 8


def test_resume_without_epochs_finishes_the_runs_own_epochs(tmp_path):
    run = tmp_path / "run"
    assert _run("train", *TINY, "--epochs", "2", "--max-steps", "3", "--out", run).returncode == 0
    out = _run("train", "--resume", run / "checkpoint.npz")
    assert out.returncode == 0, out.stderr
    assert mg.train.checkpoint.load_checkpoint(run / "checkpoint.npz")["meta"]["epoch"] == 2


def test_resume_with_the_data_moved_and_a_torn_metrics_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    images, labels = mg.data.load_mnist(limit=64)
    mg.data.write_idx(data / "train-images-idx3-ubyte", (images[:, 0] * 255).round().astype(np.uint8))
    mg.data.write_idx(data / "train-labels-idx1-ubyte", labels.astype(np.uint8))
    run = tmp_path / "run"
    assert _run("train", *TINY, "--epochs", "2", "--max-steps", "6", "--data", data, "--out", run).returncode == 0
    data.rename(tmp_path / "moved")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"loss_d": 0.5, "st')                         # a crash in the middle of a line
    _one_line(_run("train", "--resume", run / "checkpoint.npz"), 2, "data", "not a directory")
    out = _run("train", "--resume", run / "checkpoint.npz", "--data", tmp_path / "moved")
    assert out.returncode == 0, out.stderr
    assert "resuming with data" in out.stdout
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))


# -- 5. interruptions --------------------------------------------------------------------------
def _start_long_run(run):
    process = subprocess.Popen(_command() + ["train", *TINY, "--limit", "256", "--epochs", "1000", "--out", str(run)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 20):
        time.sleep(0.2)
    return process


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_an_interrupted_run_saves_its_pictures_and_resumes(tmp_path, signum, code):
    run = tmp_path / "run"
    process = _start_long_run(run)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert "interrupted at step" in stdout and "--resume" in stdout and "Traceback" not in stderr
    assert (run / "samples.png").exists() and (run / "curves.png").exists()
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    out = _run("train", "--resume", run / "checkpoint.npz", "--epochs", str(steps[-1] // 16 + 2))
    assert out.returncode == 0, out.stderr
    assert "resumed from" in out.stdout
    resumed = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert resumed == list(range(1, len(resumed) + 1)) and len(resumed) > len(steps)


def test_ctrl_c_during_start_up_is_one_line(monkeypatch, capsys, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mg.data, "load_mnist", interrupted)
    assert mg.cli.main(["train", "--out", str(tmp_path / "run")]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minigan train: interrupted")
    assert not (tmp_path / "run").exists()


def test_an_unreadable_data_file_is_one_line(monkeypatch, capsys, tmp_path):
    def unreadable(path, memory_per_byte=2):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(mg.data.mnist, "read_idx", unreadable)
    assert mg.cli.main(["train", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "images-idx3-ubyte" in err[0] and "Permission denied" in err[0]


@pytest.mark.parametrize("args, phrase", [(["--n", "0"], "--n must be a positive int"),
                                          (["--interpolate", "1"], "--interpolate must be an int >= 2"),
                                          (["--nrow", "0"], "--nrow must be a positive int")])
def test_bad_sample_options_are_one_line_and_write_nothing(finished_run, tmp_path, args, phrase):
    out = _run("sample", "--checkpoint", finished_run / "checkpoint.npz", "--out", tmp_path / "s.png", *args)
    _one_line(out, 2, phrase)
    assert not (tmp_path / "s.png").exists()


def test_a_bad_sweep_is_refused_before_its_folder_is_made(tmp_path):
    _one_line(_run("sweep", "--seeds", "0", cwd=tmp_path), 2, "--seeds must be a positive int")
    _one_line(_run("sweep", "--jobs", "0", cwd=tmp_path), 2, "--jobs must be a positive int")
    _one_line(_run("sweep", "--augment-ps", "0.5", cwd=tmp_path), 2, "--augment-ps apply to an augmentation")
    _one_line(_run("sweep", "--ema", "1.5", cwd=tmp_path), 2, "--ema must be in [0, 1)")
    _one_line(_run("sweep", "--quick", "--classifier", "nope.npz", cwd=tmp_path), 2, "--classifier")
    _one_line(_run("sweep", "--quick", "--data", "missing", "--classifier", "nope.npz", cwd=tmp_path), 2,
              "--classifier")                                 # the classifier is checked before the data
    _one_line(_run("sweep", "--quick", "--data", "missing", cwd=tmp_path), 2, "--classifier is needed")
    shipped = pathlib.Path(mg.metrics.__file__).parent / "mnist-classifier.npz"
    _one_line(_run("sweep", "--quick", "--data", "missing", "--classifier", shipped, cwd=tmp_path), 2,
              "is not a directory")
    assert not (tmp_path / "sweeps").exists()


def test_a_negative_seed_is_one_line_in_every_command(finished_run, tmp_path):
    checkpoint = finished_run / "checkpoint.npz"
    _one_line(_run("sample", "--checkpoint", checkpoint, "--seed", "-1", "--out", tmp_path / "s.png"), 2,
              "--seed must be an int >= 0, got -1")
    _one_line(_run("eval", "--checkpoint", checkpoint, "--seed", "-1"), 2, "--seed must be an int >= 0, got -1")
    _one_line(_run("gradcheck", "--seed", "-1"), 2, "--seed must be an int >= 0, got -1")
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("out", ["", "folder", "grid", "grid.npz"])
def test_sample_out_must_be_a_png_file(finished_run, tmp_path, out):
    (tmp_path / "folder").mkdir()
    target = tmp_path / out if out else ""
    _one_line(_run("sample", "--checkpoint", finished_run / "checkpoint.npz", "--out", target, cwd=tmp_path), 2,
              "--out must be a .png file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_an_empty_out_and_too_many_d_steps_are_one_line(tmp_path):
    _one_line(_run("train", *TINY, "--out", "", cwd=tmp_path), 2, "--out must name a folder")
    _one_line(_run("train", *TINY, "--d-steps", "100", "--out", tmp_path / "run"), 2,     # G never trained, and
              "--d-steps is 100, more than the 4 steps of an epoch")                       # loss_g was logged as nan
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_checkpoint_holding_nan_is_refused_by_eval_sample_and_resume(finished_run, tmp_path):
    saved = mg.train.checkpoint.load_checkpoint(finished_run / "checkpoint.npz")
    arrays = dict(saved["arrays"], meta=np.array(json.dumps(saved["meta"])))
    name = next(k for k, v in arrays.items() if k.startswith("G/") and v.dtype.kind == "f")
    arrays[name] = np.full_like(arrays[name], np.nan)
    np.savez(tmp_path / "nan.npz", **arrays)
    for args in (["eval", "--checkpoint", tmp_path / "nan.npz"],
                 ["sample", "--checkpoint", tmp_path / "nan.npz", "--out", tmp_path / "s.png"],
                 ["train", "--resume", tmp_path / "nan.npz", "--epochs", "3", "--out", tmp_path / "run"]):
        _one_line(_run(*args), 2, "nan.npz", "holds NaN or infinite values", name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.npz"]


def test_classifier_failures_are_one_line(finished_run, tmp_path):
    shipped = mg.classifier.SHIPPED.read_bytes()
    (tmp_path / "torn.npz").write_bytes(shipped[: len(shipped) // 2])
    _one_line(_run("eval", "--checkpoint", finished_run / "checkpoint.npz", "--classifier", tmp_path / "torn.npz"),
              2, "torn.npz", "not a readable minigan classifier")
    _one_line(_run("train-classifier", "--heldout", "4990", "--epochs", "1", "--out", tmp_path / "c.npz"), 2,
              "heldout is 4990", "at most")
    assert not (tmp_path / "c.npz").exists()


def test_train_classifier_checks_its_out_before_training(finished_run, tmp_path):
    for out, phrase in ((tmp_path / "missing" / "c.npz", "which does not exist"),
                        (tmp_path, "must be a file to write"),
                        (finished_run / "checkpoint.npz", "is not a minigan classifier")):
        before = finished_run.joinpath("checkpoint.npz").read_bytes()
        result = _run("train-classifier", "--epochs", "1", "--out", out)
        _one_line(result, 2, "--out", phrase)
        assert "epoch" not in result.stdout                    # refused before any training
        assert finished_run.joinpath("checkpoint.npz").read_bytes() == before


def test_a_run_folder_stands_for_its_checkpoint_and_the_finish_says_what_next(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert mg.cli.main(["train", *map(str, TINY), "--epochs", "1", "--out", str(run)]) == 0
    said = capsys.readouterr().out
    assert f"checkpoint {run / 'checkpoint.npz'}; score it with minigan eval --checkpoint {run}" in said
    monkeypatch.chdir(tmp_path)
    assert mg.cli.main(["sample", "--checkpoint", str(run), "--n", "3", "--each", "each"]) == 0
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == [f"sample_0000{i}.png" for i in range(3)]
    assert not (tmp_path / "samples.png").exists()                     # --each alone writes no grid
    assert mg.cli.main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert not (run / ".minigan.lock").exists()


def test_an_unknown_option_is_reported_with_its_commands_usage(capsys):
    with pytest.raises(SystemExit) as stop:
        mg.cli.main(["train", "--lr-gg", "1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: minigan train") and "unrecognized arguments: --lr-gg 1" in err
    with pytest.raises(SystemExit):
        mg.cli.main(["--bogus", "sample", "--checkpoint", "x"])
    err = capsys.readouterr().err                            # before the command: the top-level usage
    assert err.startswith("usage: minigan [-h]") and "unrecognized arguments: --bogus" in err


def test_eval_against_a_datas_test_split(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    images, labels = mg.data.load_mnist(limit=200, seed=3)
    mg.data.write_idx(data / "t10k-images-idx3-ubyte", (images[:, 0] * 255).round().astype(np.uint8))
    mg.data.write_idx(data / "t10k-labels-idx1-ubyte", labels.astype(np.uint8))
    run = tmp_path / "run"
    assert mg.cli.main(["train", *map(str, TINY), "--epochs", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert mg.cli.main(["eval", "--checkpoint", str(run), "--n", "100", "--json"]) == 0
    held_out = json.loads(capsys.readouterr().out)
    assert mg.cli.main(["eval", "--checkpoint", str(run), "--n", "100", "--json", "--data", str(data)]) == 0
    test_split = json.loads(capsys.readouterr().out)
    assert test_split["fid"] != held_out["fid"] and test_split["n"] == held_out["n"] == 100
    assert mg.cli.main(["eval", "--checkpoint", str(run), "--data", str(tmp_path)]) == 2
    assert "t10k-images-idx3-ubyte" in capsys.readouterr().err


@pytest.mark.parametrize("garbage", [b"garbage\n", b"\xff\xfe\x00 binary\n"])
def test_a_resume_over_a_damaged_metrics_log_is_one_line_and_changes_nothing(tmp_path, capsys, garbage):
    run = tmp_path / "run"
    assert mg.cli.main(["train", *map(str, TINY), "--epochs", "2", "--max-steps", "6", "--out", str(run)]) == 0
    lines = (run / "metrics.jsonl").read_bytes().splitlines(keepends=True)
    (run / "metrics.jsonl").write_bytes(b"".join(lines[:2] + [garbage] + lines[2:]))
    before = _snapshot(run)
    capsys.readouterr()
    assert mg.cli.main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "metrics.jsonl: line 3 is not JSON" in err[0] and "mend or delete that line" in err[0]
    assert _snapshot(run) == before                          # config.json is not rewritten first


def test_sample_on_a_full_disk_is_one_line_and_leaves_no_empty_file(finished_run, tmp_path, capsys, monkeypatch):
    from PIL import Image

    def full(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    out = tmp_path / "grid.png"
    assert mg.cli.main(["sample", "--checkpoint", str(finished_run), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{out}: No space left on device: disk full" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_stopped_by_sigterm_exits_143(monkeypatch, capsys, tmp_path):
    import time
    import minigan.sweep

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)

    monkeypatch.setattr(minigan.sweep, "run_sweep", terminated)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        assert mg.cli.main(["sweep", "--quick", "--out", str(tmp_path / "s")]) == 143
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert "minigan sweep: interrupted" in capsys.readouterr().err


def test_a_sweeps_ema_reaches_its_grid(monkeypatch, tmp_path):
    import minigan.sweep
    grids = []
    monkeypatch.setattr(minigan.sweep, "run_sweep", lambda grid, *args, **kwargs: grids.append(grid))
    for extra in ([], ["--ema", "0.99"]):
        assert mg.cli.main(["sweep", "--quick", "--model", "dcgan", *extra, "--out", str(tmp_path / "s")]) == 0
    assert [grid.ema for grid in grids] == [0.999, 0.99]


def test_a_run_that_fails_inside_a_sweep_is_one_line_naming_it(monkeypatch, capsys, tmp_path):
    import minigan.sweep
    failing = [sys.executable, "-c", "import sys; print('minigan train: --data holds no images', file=sys.stderr); "
                                     "sys.exit(2)"]
    monkeypatch.setattr(minigan.sweep, "_command", lambda config, backend, plan="train": failing)
    out = tmp_path / "s"
    assert mg.cli.main(["sweep", "--quick", "--losses", "hinge", "--seeds", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minigan sweep: the run ") and "failed with exit code 2: minigan " \
        "train: --data holds no images (the runs that finished are kept" in err[0]
