"""Run folders: unique default names, one run per folder, one writer at a time, --overwrite removes only ours."""
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
    for name in ("config.json", "metrics.jsonl", "grid_epoch_004.png", "generator_epoch_004.npz", "notes.txt"):
        (folder / name).write_text("x")
    with pytest.raises(RunFolderError, match="already holds a run.*--resume .*--overwrite"):
        RunFolder(folder).claim()
    claimed = RunFolder(folder).claim(overwrite=True)
    claimed.release()
    assert sorted(p.name for p in folder.iterdir()) == [".minigan.lock", "notes.txt"]


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
