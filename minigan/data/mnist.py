"""Data: the MNIST IDX format, the embedded 5,000 real digits, and a seeded mini-batch iterator.

The IDX format (LeCun et al.) is a 4-byte magic number ``00 00 TT DD`` (TT the element
type, 0x08 for unsigned bytes; DD the number of dimensions), DD big-endian int32 sizes,
then the elements in C order. MNIST images are 3-D (magic 2051), labels 1-D (magic 2049).
Files may be gzip-compressed.

``load_mnist()`` with no argument reads 5,000 real MNIST digits shipped inside the package
(500 per class; see minigan/data/mnist-5k/README.md for provenance and licence), so
training needs no download. ``load_mnist(path)`` reads a directory with the standard file
names, e.g. an MNIST copy you have or Debian's Fashion-MNIST (/usr/share/datasets/fashion-mnist).

This module is a host-side edge: it reads files with NumPy, and ``Batches`` moves the data
to the active backend once.
"""
import gzip
import hashlib
import math
import os
import pathlib
import zlib

import numpy as np

from .. import backend
from ..checks import is_int
from ..errors import UserError

EMBEDDED = pathlib.Path(__file__).resolve().parent / "mnist-5k"
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_TYPE_CODES = {np.dtype(v).newbyteorder(">"): k for k, v in _IDX_TYPES.items()}


class IdxError(UserError, ValueError):
    """An IDX file that is truncated, corrupt or not what the caller expected; the message names the file."""


_CHUNK = 1 << 20


def _read_at_most(f, n):
    """Up to ``n`` bytes of ``f``, read in chunks, so a header's claim allocates nothing by itself."""
    parts, size = [], 0
    while size < n:
        chunk = f.read(min(_CHUNK, n - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _read_idx_bytes(path, f):
    """(type code, shape, data bytes) of an open IDX stream; never reads past the size the header declares."""
    magic = _read_at_most(f, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise IdxError(f"{path}: not an IDX file (the magic number must start with two zero bytes)")
    type_code, ndim = magic[2], magic[3]
    if type_code not in _IDX_TYPES:
        raise IdxError(f"{path}: unknown IDX element type 0x{type_code:02x}")
    sizes = _read_at_most(f, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise IdxError(f"{path}: truncated header ({4 + len(sizes)} bytes, {4 + 4 * ndim} needed for "
                       f"{ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(sizes, dtype=">u4"))
    expected = math.prod(shape) * np.dtype(_IDX_TYPES[type_code]).itemsize     # a Python int: no overflow
    data = _read_at_most(f, expected + 1)
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        found = len(data) if len(data) < expected else "more"
        raise IdxError(f"{path}: {kind}: shape {shape} needs {expected} bytes of data, found {found}")
    return type_code, shape, data


def read_idx(path):
    """Read an IDX file (raw or gzip) into a NumPy array of its stored type and shape.

    Raises IdxError naming the file when the magic number, the header or the data size is wrong.
    A gzip file is inflated only as far as its header's sizes say, so a small file that inflates
    to gigabytes costs no more memory than the data it claims.
    """
    path = pathlib.Path(path)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"                              # gzip magic
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        try:
            type_code, shape, data = _read_idx_bytes(path, stream)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise IdxError(f"{path}: corrupt gzip data ({error})") from None
    dtype = np.dtype(_IDX_TYPES[type_code])
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file (gzip-compressed when ``compress`` or the name ends in .gz)."""
    array = np.asarray(array)
    big_endian = array.dtype.newbyteorder(">")
    if big_endian not in _TYPE_CODES:
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX type; use uint8, int8, int16, int32, "
                        "float32 or float64")
    header = bytes([0, 0, _TYPE_CODES[big_endian], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=big_endian).tobytes()
    path = pathlib.Path(path)
    if compress or (compress is None and path.suffix == ".gz"):
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)


def _find(directory, names):
    for name in names:
        for candidate in (name, name + ".gz"):
            if (directory / candidate).is_file():
                return directory / candidate
    raise FileNotFoundError(f"load_mnist: no {' or '.join(names)} (raw or .gz) in {directory} "
                            "(MNIST's file names are expected)")


def balanced_subset(labels, n, seed=0):
    """Indices (sorted) of a seeded subset of ``n`` samples whose classes are as equal as the data allows.

    The samples are shuffled with ``seed``; then the first of each class is taken, then the second
    of each class, and so on, until ``n`` are taken (a class that runs out leaves its share to the others).
    """
    order = np.random.default_rng(seed).permutation(len(labels))
    shuffled = labels[order]
    rank = np.empty(len(labels), dtype=np.int64)                # position within its class, shuffled
    for label in np.unique(labels):
        where = np.flatnonzero(shuffled == label)
        rank[where] = np.arange(len(where))
    return np.sort(order[np.argsort(rank, kind="stable")[:n]])


def load_mnist(path=None, split="train", scale="unit", limit=None, seed=0):
    """Images and labels of an MNIST-format data set.

    Parameters
    ----------
    path : str or path-like, optional
        A directory holding ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (or the
        ``t10k-`` pair for ``split="test"``), raw or .gz. None: the embedded 5,000 MNIST digits.
    split : {"train", "test"}
    scale : {"unit", "tanh"}
        Pixel range: [0, 1] for a sigmoid generator, [-1, 1] for a tanh one.
    limit : int, optional
        Keep a seeded, class-balanced subset of ``limit`` samples (see ``balanced_subset``), in file order.
    seed : int
        The seed of that subset.

    Returns (images, labels): float32 (N, 1, H, W) and int64 (N,), NumPy arrays on the host.
    """
    if split not in ("train", "test"):
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    if scale not in ("unit", "tanh"):
        raise ValueError(f"load_mnist: scale must be 'unit' or 'tanh', got {scale!r}")
    if path is None:
        if split == "test":
            raise ValueError("load_mnist: the embedded 5,000 digits have no test split; pass path=... for one")
        directory, prefix = EMBEDDED, ""
    else:
        directory, prefix = pathlib.Path(os.path.expanduser(path)), "train-" if split == "train" else "t10k-"
        if not directory.is_dir():
            raise FileNotFoundError(f"load_mnist: {directory} is not a directory (give the folder that holds "
                                    "the IDX files)")
    image_file = _find(directory, [f"{prefix}images-idx3-ubyte", f"{prefix}images.idx3-ubyte"])
    label_file = _find(directory, [f"{prefix}labels-idx1-ubyte", f"{prefix}labels.idx1-ubyte"])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IdxError(f"{image_file}: expected 3-D uint8 images, got {images.ndim}-D {images.dtype}")
    if labels.ndim != 1:
        raise IdxError(f"{label_file}: expected 1-D labels, got shape {labels.shape}")
    if len(images) != len(labels):
        raise IdxError(f"{image_file} holds {len(images)} images but {label_file} holds {len(labels)} labels")
    if limit is not None:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"load_mnist: limit must be a positive int, got {limit!r}")
        keep = balanced_subset(labels, limit, seed)
        images, labels = images[keep], labels[keep]
    x = images[:, None, :, :].astype(np.float32) / 255.0
    if scale == "tanh":
        x = 2.0 * x - 1.0
    return x.astype(np.float32), labels.astype(np.int64)


def fingerprint(images):
    """{"n": count, "sha1": digest of the bytes}: tells whether a resumed run sees the same training data."""
    return {"n": int(len(images)), "sha1": hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest()}


class Batches:
    """Seeded, shuffling mini-batches of ``images`` on the active backend.

    The images move to the backend once, at construction. Each pass (``for x in batches``) draws
    a fresh permutation from ``rng``; ``epoch(perm, start)`` replays a given permutation from
    batch ``start``, which is how a resumed run continues mid-epoch.

    Parameters
    ----------
    images : array (N, ...)
    batch_size : int
    rng : int, numpy.random.Generator or None
        Source of the permutations.
    shuffle : bool
        False: batches in order.
    drop_last : bool
        Drop the last, smaller batch (default True: BatchNorm needs full batches).

    Shapes: each batch (batch_size, ...) in the images' dtype.
    """

    def __init__(self, images, batch_size, rng=None, shuffle=True, drop_last=True):
        if not is_int(batch_size, 1):
            raise ValueError(f"Batches: batch_size must be a positive int, got {batch_size!r}")
        if len(images) < batch_size and drop_last:
            raise ValueError(f"Batches: batch_size {batch_size} is larger than the {len(images)} images "
                             "(every batch would be dropped)")
        self.images = backend.asarray(images)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.rng = backend.as_rng(rng)

    def __len__(self):
        n, b = len(self.images), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def permutation(self):
        """The order of the next pass: a fresh permutation (or 0..N-1 without shuffling), host int64."""
        n = len(self.images)
        return self.rng.permutation(n) if self.shuffle else np.arange(n)

    def epoch(self, perm, start=0):
        """Yield batches in the order ``perm``, from batch number ``start`` on."""
        xp = backend.xp_of(self.images)
        for i in range(start, len(self)):
            yield self.images[xp.asarray(perm[i * self.batch_size:(i + 1) * self.batch_size])]

    def __iter__(self):
        return self.epoch(self.permutation())
