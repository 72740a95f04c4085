"""Augment (DiffAugment): each operation's backward is its adjoint with the forward's draw.

Derivation: docs/derivations.md, "Differentiable augmentation".
"""
import numpy as np
import pytest

from minigan import nn
from minigan.gradcheck import check_layer, check_tangent
from minigan.nn import augment

OPS = [(op,) for op in augment.OPERATIONS] + [augment.OPERATIONS]


@pytest.mark.parametrize("ops", OPS, ids=lambda ops: "+".join(ops))
def test_each_backward_is_the_adjoint_of_its_forward_for_a_fixed_draw(rng, ops):
    x = rng.uniform(0.0, 1.0, (3, 2, 9, 8))
    layer = nn.Augment(ops, rng=1).fix(x.shape)
    assert max(check_layer(layer, x).values()) < 1e-8
    assert max(check_tangent(layer, x).values()) < 1e-8


def test_the_check_fails_when_translation_is_undone_by_the_same_shift(rng, monkeypatch):
    apply = augment._apply
    monkeypatch.setattr(augment, "_apply", lambda op, x, draw, adjoint, offset=True:
                        apply(op, x, draw, adjoint=False, offset=offset) if op == "translation" else
                        apply(op, x, draw, adjoint, offset))
    layer = nn.Augment(("translation",), rng=0)
    x = rng.uniform(0.0, 1.0, (4, 1, 8, 8))
    while not any(abs(s).max() for s in layer.fix(x.shape).fixed["translation"]):
        pass                                                  # a draw that moves something
    with pytest.raises(AssertionError, match="gradient check failed for 'x'"):
        check_layer(layer, x)


def test_one_draw_per_forward_shared_with_its_backward(rng):
    layer = nn.Augment(("translation", "cutout"), rng=0)
    x = rng.uniform(0.0, 1.0, (8, 1, 16, 16)).astype(np.float32)
    y1, y2 = layer(x), layer(x)
    assert not np.array_equal(y1, y2)                        # a new draw each forward
    dx = layer.backward(np.ones_like(y2))
    assert np.array_equal(dx > 0, _ones_through(layer._last, x.shape))
    assert y1.dtype == dx.dtype == np.float32


def _ones_through(draw, shape):
    """Which input pixels reach the output under a translation then a cutout draw (the adjoint of ones)."""
    after_cutout = augment._apply("cutout", np.ones(shape), draw["cutout"], adjoint=True)
    return augment._apply("translation", after_cutout, draw["translation"], adjoint=True) > 0


def test_the_amounts_are_diffaugments_on_a_0_1_scale(rng):
    draw = nn.Augment(rng=0).draw((2000, 1, 28, 28))
    assert -0.25 <= draw["brightness"].min() < -0.24 and 0.24 < draw["brightness"].max() <= 0.25
    assert 0.5 <= draw["contrast"].min() < 0.52 and 1.48 < draw["contrast"].max() <= 1.5
    shifts = np.concatenate(draw["translation"])
    assert shifts.min() == -4 and shifts.max() == 4               # round(28 / 8) = 4 pixels
    assert draw["cutout"][2] == (14, 14)                           # half the size
    x = np.ones((5, 1, 28, 28), np.float32)
    holes = (nn.Augment(("cutout",), rng=1)(x) == 0).reshape(5, -1).sum(axis=1)
    assert np.all((holes > 0) & (holes <= 14 * 14))


def test_eval_mode_is_the_identity_and_the_same_seed_gives_the_same_draws(rng):
    x = rng.uniform(0.0, 1.0, (4, 1, 8, 8)).astype(np.float32)
    assert nn.Augment(rng=0).eval()(x) is x
    assert np.array_equal(nn.Augment(rng=5)(x), nn.Augment(rng=5)(x))


def test_unknown_operations_are_named():
    with pytest.raises(ValueError, match=r"ops must be one or more of brightness, .*got \['translation', 'zoom'\]"):
        nn.Augment(("translation", "zoom"))
