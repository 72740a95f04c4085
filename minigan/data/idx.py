"""The IDX file format of MNIST (LeCun et al.): read and write, with every header claim checked.

An IDX file is a 4-byte magic number ``00 00 TT DD`` (TT the element type, 0x08 for unsigned
bytes; DD the number of dimensions), DD big-endian int32 sizes, then the elements in C order.
MNIST images are 3-D (magic 2051), labels 1-D (magic 2049). Files may be gzip-compressed.
This module is a host-side edge: it reads and writes files with NumPy.
"""
import gzip
import math
import pathlib
import zlib

import numpy as np

from ..errors import UserError
from . import memory

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_TYPE_CODES = {np.dtype(v).newbyteorder(">"): k for k, v in _IDX_TYPES.items()}


class IdxError(UserError, ValueError):
    """An IDX file that is truncated, corrupt or not what the caller expected; the message names the file."""


_CHUNK = 1 << 20
MAX_DIMENSIONS = 16                     # MNIST's files have 1 or 3; NumPy itself stops at 64


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


def _check_fits(path, shape, expected, memory_per_byte):
    """Refuse data whose declared size, times what the caller makes of each byte, exceeds the free memory."""
    available = memory.short_of(expected * memory_per_byte)
    if available is not None:
        declared, needed = memory.size_text(expected), memory.size_text(expected * memory_per_byte)
        raise IdxError(f"{path}: its header declares shape {shape}, {declared} of data, which would take {needed} "
                       f"of memory to load; {memory.size_text(available)} is available (a damaged header, or data "
                       "too large for this machine)")


def _read_idx_bytes(path, f, memory_per_byte):
    """(type code, shape, data bytes) of an open IDX stream; never reads past the size the header declares,
    and reads nothing when that size would not fit in the free memory (a small gzip can declare gigabytes)."""
    magic = _read_at_most(f, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise IdxError(f"{path}: not an IDX file (the magic number must start with two zero bytes)")
    type_code, ndim = magic[2], magic[3]
    if ndim > MAX_DIMENSIONS:
        raise IdxError(f"{path}: declares {ndim} dimensions; minigan reads IDX files of at most {MAX_DIMENSIONS}")
    if type_code not in _IDX_TYPES:
        raise IdxError(f"{path}: unknown IDX element type 0x{type_code:02x}")
    sizes = _read_at_most(f, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise IdxError(f"{path}: truncated header ({4 + len(sizes)} bytes, {4 + 4 * ndim} needed for "
                       f"{ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(sizes, dtype=">u4"))
    expected = math.prod(shape) * np.dtype(_IDX_TYPES[type_code]).itemsize     # a Python int: no overflow
    _check_fits(path, shape, expected, memory_per_byte)
    data = _read_at_most(f, expected + 1)
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        found = len(data) if len(data) < expected else "more"
        raise IdxError(f"{path}: {kind}: shape {shape} needs {expected} bytes of data, found {found}")
    return type_code, shape, data


def read_idx(path, memory_per_byte=2):
    """Read an IDX file (raw or gzip) into a NumPy array of its stored type and shape.

    Raises IdxError naming the file when the magic number, the header or the data size is wrong.
    A gzip file is inflated only as far as its header's sizes say, so a small file that inflates
    to gigabytes costs no more memory than the data it claims; and a header whose data, times
    ``memory_per_byte`` (the bytes read and the array made of them: 2; more for a caller that
    converts the array), exceeds the memory available is refused before anything is read.
    """
    path = pathlib.Path(path)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"                              # gzip magic
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        try:
            type_code, shape, data = _read_idx_bytes(path, stream, memory_per_byte)
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
