import subprocess
import sys

import pytest


def _run(*args):
    return subprocess.run([sys.executable, "-m", "minigan", *args], capture_output=True, text=True, timeout=600)


def test_help_lists_the_commands_and_options():
    out = _run("--help")
    assert out.returncode == 0 and "train" in out.stdout and "sample" in out.stdout and "gradcheck" in out.stdout
    out = _run("train", "--help")
    for option in ["--model", "--loss", "--epochs", "--batch-size", "--lr-g", "--lr-d", "--beta1", "--d-steps",
                   "--seed", "--data", "--out", "--backend", "--resume"]:
        assert option in out.stdout


@pytest.mark.slow
def test_train_then_sample_from_the_command_line(tmp_path):
    run = tmp_path / "run"
    out = _run("train", "--model", "mlp", "--limit", "64", "--batch-size", "32", "--epochs", "1",
               "--out", str(run), "--log-every", "1")
    assert out.returncode == 0, out.stderr
    assert "step 1 | loss_d" in out.stdout and "ms/step" in out.stdout and "epoch 1/1" in out.stdout
    assert (run / "samples.png").exists() and (run / "checkpoint.npz").exists()
    grid = tmp_path / "grid.png"
    out = _run("sample", "--checkpoint", str(run / "checkpoint.npz"), "--n", "16", "--out", str(grid))
    assert out.returncode == 0, out.stderr
    assert grid.read_bytes()[:4] == b"\x89PNG"


def test_gradcheck_command():
    out = _run("gradcheck")
    assert out.returncode == 0 and "all gradients match" in out.stdout


def test_bad_data_directory_is_a_clear_error(tmp_path):
    out = _run("train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"))
    assert out.returncode == 2 and "is not a directory" in out.stderr


def test_bad_choice_is_rejected_by_argparse():
    out = _run("train", "--loss", "l1")
    assert out.returncode == 2 and "invalid choice: 'l1'" in out.stderr
