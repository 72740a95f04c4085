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


def test_with_probability_p_each_operation_changes_about_that_share_of_images(rng):
    N = 4000
    x = rng.uniform(0.0, 1.0, (N, 1, 8, 8))
    for op in augment.OPERATIONS:
        layer = nn.Augment((op,), rng=2, p=0.3)
        changed = ~np.all(layer(x) == x, axis=(1, 2, 3))
        share = changed.mean()
        # a translation or a contrast can draw the identity itself (a zero shift, c = 1 never exactly)
        expected = {"translation": 0.3 * (1 - 1 / 9)}.get(op, 0.3)           # 8 / 8 = 1 pixel: 9 shifts
        assert abs(share - expected) < 0.03, (op, share)
    assert np.array_equal(nn.Augment(rng=2, p=0.0)(x), x)
    assert repr(nn.Augment(("cutout",), p=np.float32(0.25))) == "Augment(cutout, p=0.25)"


def test_p_1_draws_what_augment_drew_before_p_existed():
    """A run begun before --augment-p resumes bit for bit: at p = 1 nothing more is drawn, in the same order."""
    draw = nn.Augment(rng=4, p=1.0).draw((5, 1, 8, 8))
    rng = np.random.default_rng(4)
    assert np.array_equal(draw["brightness"], rng.uniform(-0.25, 0.25, 5))
    assert np.array_equal(draw["contrast"], rng.uniform(0.5, 1.5, 5))
    shifts = (rng.integers(-1, 2, 5), rng.integers(-1, 2, 5))
    assert all(np.array_equal(a, b) for a, b in zip(draw["translation"], shifts))
    corners = (rng.integers(0, 9, 5) - 2, rng.integers(0, 9, 5) - 2)
    assert all(np.array_equal(a, b) for a, b in zip(draw["cutout"][:2], corners))


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (5, 7), (27, 29)])
def test_images_left_alone_are_exactly_unchanged_at_any_size(rng, size):
    x = rng.uniform(0.0, 1.0, (64, 2) + size).astype(np.float32)
    layer = nn.Augment(rng=6, p=0.5)
    y = layer(x)
    draw = layer._last
    alone = ((draw["brightness"] == 0) & (draw["contrast"] == 1) & (draw["translation"][0] == 0)
             & (draw["translation"][1] == 0) & (draw["cutout"][0] == size[0]))
    assert alone.any() and np.array_equal(y[alone], x[alone])


@pytest.mark.parametrize("ops", OPS, ids=lambda ops: "+".join(ops))
def test_the_backward_stays_the_adjoint_when_some_images_are_left_as_they_are(rng, ops):
    x = rng.uniform(0.0, 1.0, (6, 1, 9, 8))
    layer = nn.Augment(ops, rng=3, p=0.5).fix(x.shape)
    assert max(check_layer(layer, x).values()) < 1e-8
    assert max(check_tangent(layer, x).values()) < 1e-8


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.5", True, np.float32(2.0)])
def test_a_probability_outside_0_1_is_named(p):
    with pytest.raises(ValueError, match=r"Augment: p must be a probability in \[0, 1\], got"):
        nn.Augment(("translation",), p=p)
