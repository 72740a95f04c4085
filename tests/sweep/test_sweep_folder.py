"""A sweep folder belongs to one sweep: locked while it runs; a rerun resumes it; another sweep is refused."""
import json

import pytest

from minigan.errors import RunFolderError
from minigan.sweep import Grid, run_sweep
from minigan.sweep.folder import SweepFolder
from minigan.train import TrainConfig, train


def _grid(**changes):
    settings = dict(losses=("nonsaturating",), lr_scales=(1.0,), beta1s=(0.5,), seeds=1, epochs=1, limit=32,
                    batch_size=16)
    settings.update(changes)
    return Grid(**settings)


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name != ".minigan-sweep.lock" and p.name != ".minigan.lock"}


def test_a_rerun_keeps_the_finished_runs_and_another_sweep_is_refused(tmp_path):
    rows = run_sweep(_grid(), tmp_path, log=lambda *_: None)
    run = tmp_path / "nonsaturating-lr1x-b0.5-d1-seed0"
    checkpoint = (run / "checkpoint.npz").read_bytes()
    again = run_sweep(_grid(), tmp_path, log=lambda *_: None)
    assert (run / "checkpoint.npz").read_bytes() == checkpoint and again[0]["seconds"] == 0.0
    assert again[0]["fid"] == rows[0]["fid"]
    before = _files(tmp_path)
    with pytest.raises(RunFolderError, match="holds another sweep \\(its grid differs in --epochs \\(1 there, 2 here\\)\\)"):
        run_sweep(_grid(epochs=2), tmp_path, log=lambda *_: None)
    assert _files(tmp_path) == before
    assert json.loads((tmp_path / "sweep.json").read_text())["epochs"] == 1


def test_an_interrupted_run_is_resumed_from_its_checkpoint(tmp_path):
    grid = _grid(epochs=2)
    SweepFolder(tmp_path).claim(grid).release()
    config = grid.config(grid.settings()[0], 0, tmp_path / "nonsaturating-lr1x-b0.5-d1-seed0")
    train(TrainConfig(**{**config.__dict__, "max_steps": 3}), log=lambda *_: None)    # stopped mid-run
    assert SweepFolder(tmp_path).plan(config) == "resume"
    run_sweep(grid, tmp_path, log=lambda *_: None)
    steps = [json.loads(line)["step"] for line in (tmp_path / config.out / "metrics.jsonl").read_text().splitlines()
             if "loss_d" in line]
    assert steps == list(range(1, 5))                          # 2 epochs of 2 steps, the first 3 kept
    assert SweepFolder(tmp_path).plan(config) == "done"


def test_a_second_sweep_is_refused_while_the_first_holds_the_folder(tmp_path):
    first = SweepFolder(tmp_path).claim(_grid())
    with pytest.raises(RunFolderError, match="in use by another minigan sweep"):
        SweepFolder(tmp_path).claim(_grid())
    first.release()


def test_results_without_a_grid_and_a_run_of_other_settings_are_refused(tmp_path):
    (tmp_path / "sweep.csv").write_text("a table minigan did not write\n")
    with pytest.raises(RunFolderError, match="holds a sweep's results but no sweep.json"):
        SweepFolder(tmp_path).claim(_grid())
    other = tmp_path / "b"
    grid = _grid()
    config = grid.config(grid.settings()[0], 0, other / "nonsaturating-lr1x-b0.5-d1-seed0")
    train(TrainConfig(**{**config.__dict__, "seed": 5, "max_steps": 1}), log=lambda *_: None)
    with pytest.raises(RunFolderError, match="holds a run of other settings \\(seed 5 there, 0 here\\)"):
        SweepFolder(other).plan(config)


def test_a_sweep_begun_before_a_grid_setting_existed_resumes(tmp_path):
    SweepFolder(tmp_path).claim(_grid()).release()
    saved = json.loads((tmp_path / "sweep.json").read_text())
    for name in ("data", "classifier", "conditional", "r1s", "spectral_norms", "augments", "augment_ps", "ema"):
        del saved[name]
    (tmp_path / "sweep.json").write_text(json.dumps(saved))
    SweepFolder(tmp_path).claim(_grid()).release()                    # the same sweep: its defaults
    with pytest.raises(RunFolderError, match="its grid differs in --conditional \\(not given there, given here\\)"):
        SweepFolder(tmp_path).claim(_grid(conditional=True))
    with pytest.raises(RunFolderError, match="its grid differs in --ema \\(0 there, 0.999 here\\)"):
        SweepFolder(tmp_path).claim(_grid(ema=0.999))


def test_the_refusal_names_each_option_with_both_values(tmp_path):
    SweepFolder(tmp_path).claim(_grid(losses=("hinge",), spectral_norms=("", "D"), augment_ps=(1 / 3,))).release()
    with pytest.raises(RunFolderError) as refused:
        SweepFolder(tmp_path).claim(_grid(losses=("hinge", "lsgan"), batch_size=8, limit=None, augment_ps=(0.5,)))
    assert ("its grid differs in --augment-ps (0.3333333333333333 there, 0.5 here), --batch-size (16 there, 8 here), "
            "--limit (32 there, not given here), --losses (hinge there, hinge lsgan here), "
            "--spectral-norms (none D there, none here)); " in str(refused.value))
    (tmp_path / "sweep.json").write_text("[1, 2]")
    with pytest.raises(RunFolderError, match="its grid differs in its format"):
        SweepFolder(tmp_path).claim(_grid())
