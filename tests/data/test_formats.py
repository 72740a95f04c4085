"""minigan's own files are written whole or not at all: write_atomically and write_beside on a full disk."""
import errno

import pytest

from minigan.data.formats import write_atomically, write_beside


def _full_disk(f):
    f.write(b"half a pict")
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("writer", [write_atomically, write_beside])
def test_a_full_disk_leaves_the_old_file_and_no_temporary_and_names_the_file(tmp_path, writer):
    path = tmp_path / "grid.png"
    path.write_bytes(b"the old picture")
    with pytest.raises(OSError) as info:
        writer(path, _full_disk)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert path.read_bytes() == b"the old picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]
    writer(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_write_beside_touches_no_other_file_and_replaces_a_link_rather_than_its_target(tmp_path):
    (tmp_path / "grid.png.tmp").write_bytes(b"the user's own")           # write_atomically's name: left alone here
    target = tmp_path / "elsewhere.png"
    target.write_bytes(b"not minigan's")
    (tmp_path / "grid.png").symlink_to(target)
    write_beside(tmp_path / "grid.png", lambda f: f.write(b"drawn"))
    assert (tmp_path / "grid.png.tmp").read_bytes() == b"the user's own" and target.read_bytes() == b"not minigan's"
    assert not (tmp_path / "grid.png").is_symlink() and (tmp_path / "grid.png").read_bytes() == b"drawn"
    assert oct((tmp_path / "grid.png").stat().st_mode & 0o777) == "0o644"
