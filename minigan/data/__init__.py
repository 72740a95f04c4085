"""Data: the IDX format, MNIST-format data sets and the embedded digits, mini-batches (``mnist.py``)."""
from .mnist import EMBEDDED, Batches, IdxError, balanced_subset, fingerprint, load_mnist, read_idx, write_idx

__all__ = ["Batches", "EMBEDDED", "IdxError", "balanced_subset", "fingerprint", "load_mnist", "read_idx", "write_idx"]
