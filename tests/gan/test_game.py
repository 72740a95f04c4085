"""minigan.gan.game: the record of one iteration, and the gradient norms it holds."""
import math

import numpy as np
import pytest

import minigan as mg
from minigan.gan.game import grad_norm


def test_grad_norm_is_the_global_l2_norm_of_all_gradients():
    p, q = mg.Parameter(np.zeros(3, np.float32)), mg.Parameter(np.zeros((2, 2), np.float32))
    p.grad[:] = [3.0, 0.0, 0.0]
    q.grad[:] = 4.0 / 2.0
    assert grad_norm([p, q]) == pytest.approx(math.sqrt(9 + 16))


def test_gan_step_reads_nothing_back(rng):
    G, D = mg.models.build("mlp", z_dim=8, rng=0)
    record = mg.game.gan_step(G, D, mg.losses.get("hinge"), mg.optim.Adam(G.parameters()),
                              mg.optim.Adam(D.parameters()), rng.random((4, 1, 28, 28)).astype(np.float32),
                              rng.standard_normal((4, 8)).astype(np.float32), layer_norms=True)
    assert all(hasattr(v, "dtype") for k, v in record.items() if not k.startswith("layer_norms"))
    assert all(hasattr(v, "dtype") for v in record["layer_norms_g"].values())
