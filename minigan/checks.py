"""The two argument tests every check in minigan is built from: "an int" and "a finite number".

A bool is neither here, although Python counts ``True`` as the int 1: ``epochs=True`` or
``lr=False`` is a mistake to report, not a 1 or a 0 to train with.

It stands alone at the bottom of the package, below the backend, because every folder checks its
arguments with it (the backend, the layers, the optimizers, the data, the trainer, the sweep).
"""
import math


def is_int(value, minimum=None):
    """True for an int (not a bool) that is at least ``minimum`` (any int when None)."""
    return isinstance(value, int) and not isinstance(value, bool) and (minimum is None or value >= minimum)


def is_number(value):
    """True for a finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
