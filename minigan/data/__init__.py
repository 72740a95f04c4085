"""Data: the IDX format (``idx.py``), MNIST-format data sets and the embedded digits (``mnist.py``), the
full-size data sets fetched on request (``download.py``), mini-batches (``batches.py``), and the names of
minigan's own file formats (``formats.py``).

    images, labels = mg.data.load_mnist()               # the 5,000 embedded digits, (N, 1, 28, 28) in [0, 1]
    for x in mg.data.Batches(images, 64, rng=0): ...
"""
from . import download, formats
from .batches import Batches
from .idx import IdxError, read_idx, write_idx
from .mnist import EMBEDDED, balanced_subset, fingerprint, load_mnist

__all__ = ["Batches", "EMBEDDED", "download", "IdxError", "balanced_subset", "fingerprint", "formats", "load_mnist", "read_idx",
           "write_idx"]
