"""Optimizers (``optimizers.py``: Adam, SGD, weight clipping) and the flat buffers they update (``flat.py``).

    opt = mg.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt.zero_grad(); model.backward(dy); opt.step()
"""
from .flat import FlatParameters
from .optimizers import SGD, Adam, Optimizer, clip_weights

__all__ = ["Adam", "FlatParameters", "Optimizer", "SGD", "clip_weights"]
