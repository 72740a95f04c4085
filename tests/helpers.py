"""Helpers shared by the tests (the loop-form definitions of the convolutions are minigan.nn.reference)."""
import numpy as np


def away_from_zero(rng, shape, margin=0.05):
    """Standard normal values moved at least ``margin`` away from 0, clear of a ReLU's kink."""
    u = rng.standard_normal(shape)
    return np.sign(u) * (margin + np.abs(u))
