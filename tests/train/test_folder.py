"""Run folders: unique default names, one run per folder, one writer at a time, --overwrite removes only ours."""
import json

import pytest

from minigan.errors import RunFolderError
from minigan.train.folder import RunFolder, new_run_path


def test_new_run_paths_are_unique_within_a_second(tmp_path):
    paths = [new_run_path(tmp_path / "runs") for _ in range(5)]
    assert len(set(paths)) == 5 and all(p.is_dir() for p in paths)


def test_check_writable_writes_nothing(tmp_path):
    RunFolder(tmp_path / "a" / "b").check_writable()
    RunFolder(root=tmp_path / "runs").check_writable()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="is a file, not a folder"):
        RunFolder(tmp_path / "file").check_writable()
    with pytest.raises(RunFolderError, match="cannot be created"):
        RunFolder(tmp_path / "file" / "run").check_writable()


def test_a_folder_with_a_run_is_refused_unless_overwritten(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("metrics.jsonl", "grid_epoch_004.png", "generator_epoch_004.npz", "notes.txt"):
        (folder / name).write_text("x")
    (folder / "config.json").write_text(json.dumps(dict(model="mlp", loss="hinge", epochs=2, seed=0, z_dim=100)))
    with pytest.raises(RunFolderError, match="already holds a run that stopped before its first checkpoint, so it "
                                             "cannot be continued .start it again with --overwrite"):
        RunFolder(folder).claim()                                   # no checkpoint: no --resume to advise
    (folder / "checkpoint.npz").write_text("x")
    with pytest.raises(RunFolderError, match=f"already holds a run .continue it with --resume {folder}, .*--overwrite"):
        RunFolder(folder).claim()
    claimed = RunFolder(folder).claim(overwrite=True)
    claimed.release()
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]           # the lock file goes with the lock


def test_one_writer_at_a_time(tmp_path):
    first = RunFolder(tmp_path / "run").claim()
    with pytest.raises(RunFolderError, match="in use by another minigan process"):
        RunFolder(tmp_path / "run").claim(resuming=True)
    first.release()
    RunFolder(tmp_path / "run").claim(resuming=True).release()


def test_a_default_folder_is_named_when_claimed(tmp_path):
    folder = RunFolder(root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    folder.claim()
    folder.release()
    assert folder.path.parent == tmp_path / "runs" and folder.path.is_dir()


@pytest.mark.parametrize("config", [None, "{}", "not json", '{"model": "mlp"}'])
def test_overwrite_refuses_a_folder_that_holds_no_minigan_run(tmp_path, config):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("metrics.jsonl", "samples.png", "settings.json.tmp"):
        (folder / name).write_text("the user's own")
    if config is not None:
        (folder / "config.json").write_text(config)
    before = {p.name: p.read_text() for p in folder.iterdir()}
    with pytest.raises(RunFolderError, match="--overwrite: .* holds files that no minigan run wrote"):
        RunFolder(folder).claim(overwrite=True)
    assert {p.name: p.read_text() for p in folder.iterdir() if p.name != ".minigan.lock"} == before


@pytest.mark.parametrize("name", ["checkpoint.npz.tmp", "config.json.tmp", "metrics.jsonl", "samples.png",
                                  "grid_epoch_001.png", ".minigan.lock"])
@pytest.mark.parametrize("resuming", [False, True])
def test_a_name_minigan_writes_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, name, resuming):
    folder, target = tmp_path / "run", tmp_path / "precious.txt"
    folder.mkdir()
    target.write_text("keep me")
    (folder / name).symlink_to(target if name != ".minigan.lock" else tmp_path / "created-by-a-link")
    with pytest.raises(RunFolderError, match=f"{name} is a symbolic link"):
        RunFolder(folder).claim(overwrite=True, resuming=resuming)
    assert target.read_text() == "keep me" and not (tmp_path / "created-by-a-link").exists()


def test_the_lock_file_goes_when_released_and_a_lock_on_a_removed_file_is_taken_again(tmp_path):
    from minigan.train.folder import exclusive_lock
    path = tmp_path / ".minigan.lock"
    first = exclusive_lock(path, "another minigan process")
    with pytest.raises(RunFolderError, match="is in use by another minigan process"):
        exclusive_lock(path, "another minigan process")
    first.release()
    assert not path.exists()
    second = exclusive_lock(path, "another minigan process")            # a fresh file, locked
    assert path.exists() and second.handle is not None
    path.unlink()                                                     # someone removed it under us:
    third = exclusive_lock(path, "another minigan process")            # the name is free, a new lock is taken
    second.release()                                                  # the old holder leaves the new file alone
    assert path.exists()
    third.release()
    assert not path.exists()
