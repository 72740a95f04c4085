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


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tmp_path):
    import json
    import signal
    import time

    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "minigan", "train", "--model", "mlp", "--limit", "256", "--batch-size", "16",
         "--epochs", "1000", "--out", str(run), "--log-every", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 20):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted at step" in stdout and "--resume" in stdout
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    out = _run("train", "--resume", str(run / "checkpoint.npz"), "--epochs", str(steps[-1] // 16 + 2))
    assert out.returncode == 0, out.stderr
    assert "resumed from" in out.stdout and (run / "samples.png").exists()
    resumed = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert resumed == list(range(1, len(resumed) + 1)) and len(resumed) > len(steps)
