"""minigan's own files: the names of their formats, and how they are written (atomically).

Both kinds of file are .npz archives with a JSON ``meta`` entry whose ``"format"`` names the
kind; each reader recognises the other's format, so a file given in the wrong place is named as
what it is. Both are written by ``write_atomically``: a crash leaves the old file or the new one.
"""
import json
import math
import os
import pathlib
import struct
import tempfile
import tokenize
import zipfile
import zlib

import numpy as np

from . import memory

CHECKPOINT = "minigan-checkpoint-1"    # minigan train's checkpoints and generator snapshots (train/checkpoint.py)
CLASSIFIER = "minigan-classifier-1"    # minigan train-classifier's files (metrics/classifier.py)

# What reading a damaged .npz can raise, from zipfile (a bad CRC, an unknown compression method, a cut
# file), zlib, and NumPy's parser of each array's header (a flipped bit in "{'descr': '<f4', ...}").
DAMAGED_NPZ = (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError, SyntaxError, NotImplementedError,
               tokenize.TokenError, zlib.error, struct.error, OverflowError)


def read_archive(path):
    """(arrays, meta) of one of minigan's .npz files: every array but ``meta`` read into memory (no pickle),
    and ``meta`` parsed from JSON. The file is closed whatever happens (NumPy's own ``np.load(path)``
    leaves it open when the archive is damaged). Raises one of ``DAMAGED_NPZ`` for a file that is not a
    whole .npz with a JSON ``meta`` entry, or one whose members declare more than the free memory."""
    with open(path, "rb") as f, np.load(f, allow_pickle=False) as archive:
        _check_fits(archive.zip)
        arrays = {name: archive[name] for name in archive.files}
    return arrays, json.loads(str(arrays.pop("meta")))


def _check_fits(archive):
    """Raise ValueError when the sizes an archive's directory declares exceed the free memory (zipfile
    never inflates a member past its declared size, so this bounds what reading it can take), or when
    a member's .npy header declares an array larger than the member (NumPy would allocate it first)."""
    declared = sum(info.file_size for info in archive.infolist())
    available = memory.short_of(declared)
    if available is not None:
        raise ValueError(f"its members declare {memory.size_text(declared)} of arrays, more than the "
                         f"{memory.size_text(available)} of memory available")
    for info in archive.infolist():
        with archive.open(info) as member:
            shape, dtype = _npy_header(member)
        if math.prod(shape) * dtype.itemsize > info.file_size:
            raise ValueError(f"its member {info.filename} declares an array of shape {shape} ({dtype}), "
                             f"larger than the member's {info.file_size} bytes")


def _npy_header(member):
    """(shape, dtype) from the header of a .npy member, read without its data."""
    version = np.lib.format.read_magic(member)
    if version not in ((1, 0), (2, 0)):                # minigan writes 1.0; 3.0 is for non-Latin-1 field names
        raise ValueError(f"unsupported .npy format version {version}")
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(member)
    return shape, dtype


def write_atomically(path, write):
    """Call ``write(binary file)`` on a temporary file, fsync it and rename it to ``path``.

    The temporary file ``<path>.tmp`` is one this call creates (anything already under that name,
    a symbolic link included, is removed first, never written through), so the rename replaces
    ``path`` itself, never a file a link points to. A crash leaves the old file or the new one,
    never half of one. On failure (a full disk) the temporary file is removed and an OSError
    without a file name gets ``path`` as its name.
    """
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.unlink(missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644),
                       "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)                # a full disk: give the space back
        _name_the_file(error, path)
        raise


def write_beside(path, write):
    """Call ``write(binary file)`` on a temporary file of a new, unique name beside ``path``, then rename it.

    For files at a path the user names (pictures, sample grids): a crash or a full disk never leaves
    part of a file under ``path``, and no file but ``path`` itself is replaced (the temporary name is
    one no file had). No fsync: a picture lost to a power cut is drawn again. On failure the temporary
    file is removed and an OSError without a file name gets ``path`` as its name.
    """
    path = pathlib.Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)                       # mkstemp's 0600 would hide the picture from others
        os.replace(tmp, path)
    except BaseException as error:
        pathlib.Path(tmp).unlink(missing_ok=True)
        _name_the_file(error, path)
        raise


def _name_the_file(error, path):
    """Re-raise an OSError that names no file (ENOSPC from a write) as one naming ``path``."""
    if isinstance(error, OSError) and error.filename is None:
        raise OSError(error.errno, error.strerror, str(path)) from None
