"""MNIST-format data sets: the embedded 5,000 real digits, a folder of IDX files, balanced subsets.

``load_mnist()`` with no argument reads 5,000 real MNIST digits shipped inside the package
(500 per class; see minigan/data/mnist-5k/README.md for provenance and licence), so
training needs no download. ``load_mnist(path)`` reads a directory with the standard file
names, e.g. an MNIST copy you have or Debian's Fashion-MNIST (/usr/share/datasets/fashion-mnist).
``load_mnist("mnist")`` and ``load_mnist("fashion-mnist")`` read the full data sets from minigan's
cache, fetching them once (``download.py``).
"""
import hashlib
import os
import pathlib

import numpy as np

from . import download
from .idx import IdxError, read_idx

EMBEDDED = pathlib.Path(__file__).resolve().parent / "mnist-5k"


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
        "mnist" or "fashion-mnist": the full data set, from the cache (fetched once; ``download.py``).
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
    elif download.is_name(path):
        directory, prefix = download.fetch(path, split), "train-" if split == "train" else "t10k-"
    else:
        directory, prefix = pathlib.Path(os.path.expanduser(path)), "train-" if split == "train" else "t10k-"
        if not directory.is_dir():
            raise FileNotFoundError(f"load_mnist: {directory} is not a directory (give the folder that holds "
                                    "the IDX files)")
    image_file = _find(directory, [f"{prefix}images-idx3-ubyte", f"{prefix}images.idx3-ubyte"])
    label_file = _find(directory, [f"{prefix}labels-idx1-ubyte", f"{prefix}labels.idx1-ubyte"])
    # At its peak, loading holds the uint8 images and the float32 copy made of them: 1 + 4 bytes per byte.
    images, labels = read_idx(image_file, memory_per_byte=5), read_idx(label_file)
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
    x = images[:, None, :, :].astype(np.float32)
    x /= 255.0                                       # in place: one float32 copy of the data in all
    if scale == "tanh":
        x *= 2.0
        x -= 1.0
    return x, labels.astype(np.int64)


def fingerprint(images, labels=None):
    """{"n": count, "sha1": digest of the bytes}: tells whether a resumed run sees the same training data.

    With ``labels`` (a conditional run's), also "labels_sha1", the digest of their int64 bytes.
    """
    found = {"n": int(len(images)), "sha1": hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest()}
    if labels is not None:
        found["labels_sha1"] = hashlib.sha1(np.ascontiguousarray(labels, dtype=np.int64).tobytes()).hexdigest()
    return found
