"""GANs built from the library: the models (``models.py``), the game (``game.py``: one iteration,
D's step then G's, and the gradient norms it records), and that step recorded as a CUDA graph
(``graph.py``, CuPy only, above the game it replays).

    G, D = mg.models.build("dcgan", z_dim=100, rng=0)
    record = mg.game.gan_step(G, D, mg.losses.get("nonsaturating"), opt_g, opt_d, real, z)
"""
from . import game, graph, models

__all__ = ["game", "graph", "models"]
