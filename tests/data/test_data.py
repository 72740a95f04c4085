import gzip

import numpy as np
import pytest

import minigan as mg
from minigan.data import Batches, IdxError, balanced_subset, load_mnist, read_idx, write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_idx_round_trip(tmp_path, rng, dtype, name):
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == array.dtype and back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)


def test_mnist_magic_numbers(tmp_path):
    write_idx(tmp_path / "images", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "labels", np.zeros(2, np.uint8))
    assert int.from_bytes((tmp_path / "images").read_bytes()[:4], "big") == 2051
    assert int.from_bytes((tmp_path / "labels").read_bytes()[:4], "big") == 2049


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:-10], r"truncated: shape \(2, 3\) needs 6 bytes of data, found -4|truncated"),
    (lambda b: b + b"xx", "has trailing bytes"),
    (lambda b: b"\x01" + b[1:], "not an IDX file"),
    (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX element type 0x07"),
    (lambda b: b[:6], "truncated header"),
])
def test_corrupt_files_are_named(tmp_path, mutate, message):
    path = tmp_path / "bad-idx"
    write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(IdxError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_is_named(tmp_path):
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-8] + b"garbage!")
    with pytest.raises(IdxError, match=r"x-idx1-ubyte.gz: corrupt gzip data"):
        read_idx(path)


def test_a_gzip_bomb_is_inflated_only_as_far_as_the_header_says(tmp_path):
    import tracemalloc
    path = tmp_path / "bomb-idx1-ubyte.gz"
    header = b"\x00\x00\x08\x01" + (16).to_bytes(4, "big")       # claims 16 bytes of data
    with gzip.open(path, "wb") as f:
        f.write(header + bytes(16))
        for _ in range(256):                                         # then 256 MiB of zeros
            f.write(bytes(1 << 20))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    with pytest.raises(IdxError, match="has trailing bytes"):
        read_idx(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20


def test_dimensions_whose_product_overflows_int64_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("minigan.data.memory.available_memory", lambda: 24 << 30)
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03" + b"\xff\xff\xff\xff" * 3 + b"xyz")
    with pytest.raises(IdxError, match=r"huge-idx3-ubyte: its header declares shape "
                                       r"\(4294967295, 4294967295, 4294967295\), 7.92e\+19 GB of data"):
        read_idx(path)


def _gzip_declaring(path, count, written):
    """A gzip IDX file whose header declares ``count`` 28x28 images, followed by ``written`` blank ones."""
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(b"\x00\x00\x08\x03" + np.array([count, 28, 28], ">u4").tobytes())
        f.write(bytes(written * 784))


def test_a_gzip_declaring_more_images_than_memory_holds_is_refused_before_reading(tmp_path, monkeypatch):
    import tracemalloc
    path = tmp_path / "bomb-idx3-ubyte.gz"
    _gzip_declaring(path, 10_000_000, 10_000)                       # 7.8 GB declared, 7.8 MB written
    monkeypatch.setattr("minigan.data.memory.available_memory", lambda: 4 << 30)
    tracemalloc.start()
    with pytest.raises(IdxError, match=r"bomb-idx3-ubyte.gz: its header declares shape \(10000000, 28, 28\), "
                                       r"7.84 GB of data, which would take 15.7 GB of memory to load; "
                                       r"4.29 GB is available"):
        read_idx(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20


def test_the_memory_check_counts_what_the_loader_makes_of_the_data(tmp_path, monkeypatch):
    _gzip_declaring(tmp_path / "train-images-idx3-ubyte.gz", 100, 100)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(100, dtype=np.uint8) % 10)
    monkeypatch.setattr("minigan.data.memory.available_memory", lambda: 100 * 784 * 3)
    assert read_idx(tmp_path / "train-images-idx3-ubyte.gz").shape == (100, 28, 28)    # 2 bytes per byte fit
    with pytest.raises(IdxError, match=r"which would take 392 kB of memory to load; 235 kB is available"):
        load_mnist(tmp_path)                                       # 5 bytes per byte do not
    monkeypatch.setattr("minigan.data.memory.available_memory", lambda: None)   # unknown: no limit
    assert load_mnist(tmp_path)[0].shape == (100, 1, 28, 28)


def test_write_idx_rejects_unsupported_dtypes(tmp_path):
    with pytest.raises(TypeError, match="has no IDX type"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.complex64))


def test_embedded_digits():
    x, y = load_mnist()
    assert x.shape == (5000, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.array_equal(np.bincount(y), [500] * 10)
    x_tanh, y10 = load_mnist(scale="tanh", limit=10)
    assert x_tanh.shape == (10, 1, 28, 28) and x_tanh.min() == -1.0 and x_tanh.max() == 1.0
    keep = balanced_subset(y, 10, seed=0)
    np.testing.assert_allclose(x_tanh, 2 * x[keep] - 1, atol=1e-6)
    assert np.array_equal(y10, y[keep])


def test_limit_is_a_seeded_class_balanced_subset():
    _, y = load_mnist()
    assert np.all(np.diff(y) >= 0)                          # the embedded file is sorted by label
    _, y1000 = load_mnist(limit=1000)
    assert np.array_equal(np.bincount(y1000, minlength=10), [100] * 10)
    _, y25 = load_mnist(limit=25, seed=3)
    counts = np.bincount(y25, minlength=10)
    assert counts.min() == 2 and counts.max() == 3 and counts.sum() == 25
    assert np.array_equal(load_mnist(limit=25, seed=3)[1], y25)
    assert not np.array_equal(balanced_subset(y, 25, seed=3), balanced_subset(y, 25, seed=4))


def test_balanced_subset_when_a_class_runs_out():
    labels = np.array([0] * 2 + [1] * 50)
    pick = balanced_subset(labels, 10, seed=0)
    assert len(pick) == 10 and len(set(pick)) == 10 and np.sum(labels[pick] == 0) == 2


def _write_set(directory, prefix, n, n_labels=None, gz=True):
    suffix = ".gz" if gz else ""
    write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", np.full((n, 28, 28), 255, np.uint8))
    write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n_labels or n, dtype=np.uint8) % 10)


def test_load_a_directory_with_standard_names(tmp_path):
    _write_set(tmp_path, "train", 7)
    _write_set(tmp_path, "t10k", 3, gz=False)
    x, y = load_mnist(tmp_path)
    assert x.shape == (7, 1, 28, 28) and x.max() == 1.0 and list(y[:3]) == [0, 1, 2]
    assert load_mnist(tmp_path, split="test")[0].shape == (3, 1, 28, 28)


def test_mismatched_counts_name_both_files(tmp_path):
    _write_set(tmp_path, "train", 5, n_labels=4)
    with pytest.raises(IdxError, match=r"train-images-idx3-ubyte.gz holds 5 images but .*train-labels-idx1-ubyte.gz holds 4"):
        load_mnist(tmp_path)


def test_missing_files_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no train-images-idx3-ubyte .* in"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(ValueError, match="no test split"):
        load_mnist(split="test")
    with pytest.raises(ValueError, match="scale must be"):
        load_mnist(scale="bytes")
    with pytest.raises(ValueError, match="limit must be a positive int"):
        load_mnist(limit=0)


def test_fashion_mnist_from_debian_if_installed():
    import pathlib
    path = pathlib.Path("/usr/share/datasets/fashion-mnist")
    if not path.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    x, y = load_mnist(path, split="test")
    assert x.shape == (10000, 1, 28, 28) and set(np.unique(y)) == set(range(10))


def test_batches_shapes_seeding_and_resume():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    a, b = Batches(x, 3, rng=5), Batches(x, 3, rng=5)
    assert len(a) == 3
    first = [batch[:, 0, 0, 0].tolist() for batch in a]
    assert first == [batch[:, 0, 0, 0].tolist() for batch in b]               # same seed, same order
    assert all(len(batch) == 3 for batch in first)
    second = [batch[:, 0, 0, 0].tolist() for batch in a]
    assert second != first                                                    # a new permutation each pass
    perm = np.random.default_rng(0).permutation(10)
    c = Batches(x, 3, rng=0)
    assert [t.tolist() for t in c.epoch(perm, start=2)] == [x[perm[6:9]].tolist()]
    batch = next(iter(Batches(x, 4, rng=0)))
    assert batch.dtype == np.float32 and batch.shape == (4, 1, 1, 1) and mg.backend.xp_of(batch) is np


def test_batches_without_shuffling_and_keeping_the_last():
    x = np.arange(5, dtype=np.float32)
    batches = Batches(x, 2, shuffle=False, drop_last=False)
    assert len(batches) == 3
    assert [t.tolist() for t in batches] == [[0.0, 1.0], [2.0, 3.0], [4.0]]


def test_batches_errors():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        Batches(np.zeros(4), 0)
    with pytest.raises(ValueError, match="batch_size 8 is larger than the 4 images"):
        Batches(np.zeros(4), 8)


def test_embedded_files_match_their_published_checksums():
    import hashlib
    import re
    readme = (mg.data.EMBEDDED / "README.md").read_text()
    listed = dict((name, digest) for digest, name in re.findall(r"([0-9a-f]{64})\s+(\S+)", readme))
    assert set(listed) == {"images-idx3-ubyte.gz", "labels-idx1-ubyte.gz"}
    for name, digest in listed.items():
        assert hashlib.sha256((mg.data.EMBEDDED / name).read_bytes()).hexdigest() == digest
    assert "Creative Commons Attribution-Share Alike 3.0" in readme


def test_an_idx_header_with_too_many_dimensions_is_named(tmp_path):
    path = tmp_path / "deep-idx"
    path.write_bytes(bytes([0, 0, 0x08, 65]) + b"\x00\x00\x00\x01" * 65 + b"\x00")
    with pytest.raises(mg.data.IdxError, match="deep-idx: declares 65 dimensions"):
        mg.data.read_idx(path)
