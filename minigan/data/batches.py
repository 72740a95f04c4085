"""Seeded, shuffling mini-batches on the active backend, replayable from any batch of a pass.

The data moves to the backend once; the order of each pass is a host permutation, so a
checkpoint can store it and a resumed run continue mid-epoch.
"""
import numpy as np

from .. import backend
from ..checks import is_int


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
    labels : array (N,) of ints, optional
        Each image's label: batches are then (images, labels) pairs, the labels int64 on the backend.

    Shapes: each batch (batch_size, ...) in the images' dtype; with labels, also (batch_size,).
    """

    def __init__(self, images, batch_size, rng=None, shuffle=True, drop_last=True, labels=None):
        if not is_int(batch_size, 1):
            raise ValueError(f"Batches: batch_size must be a positive int, got {batch_size!r}")
        if len(images) < batch_size and drop_last:
            raise ValueError(f"Batches: batch_size {batch_size} is larger than the {len(images)} images "
                             "(every batch would be dropped)")
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"Batches: labels must be one per image, {len(images)}, got {len(labels)}")
        self.images = backend.asarray(images)
        self.labels = None if labels is None else backend.asarray(labels, "int64")
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
        """Yield batches in the order ``perm``, from batch number ``start`` on (with labels: pairs)."""
        xp = backend.xp_of(self.images)
        for i in range(start, len(self)):
            rows = xp.asarray(perm[i * self.batch_size:(i + 1) * self.batch_size])
            yield self.images[rows] if self.labels is None else (self.images[rows], self.labels[rows])

    def __iter__(self):
        return self.epoch(self.permutation())
