"""The conditional layers: Embedding, ConcatEmbedding, Projection, and how labels reach them (``given``).

Derivation: docs/derivations.md, "Conditional layers". Each gradient is checked against finite
differences, with a label repeated in the batch and one absent; torch is the oracle where it is installed.
"""
import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.gradcheck import check_layer, check_penalty, check_tangent
from minigan.gradcheck.suite import embedding_check

LABELS = np.array([2, 0, 2, 3, 2])             # 2 three times, 1 never


def test_embedding_rows_accumulate_for_a_repeated_label_and_stay_zero_for_an_absent_one(rng):
    embedding = nn.Embedding(4, 3, rng=0, dtype="float64")
    de = rng.standard_normal((5, 3))
    e = embedding(LABELS)
    assert np.array_equal(e, embedding.E.data[LABELS]) and e.dtype == np.float64
    assert embedding.backward(de) is None                      # labels have no gradient
    assert np.allclose(embedding.E.grad[2], de[[0, 2, 4]].sum(axis=0))
    assert np.allclose(embedding.E.grad[0], de[1]) and np.allclose(embedding.E.grad[3], de[3])
    assert not embedding.E.grad[1].any()
    assert max(embedding_check().values()) < 1e-8


def test_embedding_check_fails_on_a_planted_bug(monkeypatch):
    original = nn.Embedding.accumulate
    monkeypatch.setattr(nn.Embedding, "accumulate", lambda self, labels, de: original(self, labels, 1.01 * de))
    with pytest.raises(AssertionError, match="'E'"):
        embedding_check()


def test_concat_embedding_matches_finite_differences(rng):
    layer = nn.ConcatEmbedding(3, 4, 2, rng=0).given(LABELS)
    x = rng.standard_normal((5, 3))
    y = layer.astype("float64")(x)
    assert y.shape == (5, 5) and np.array_equal(y[:, :3], x) and np.array_equal(y[:, 3:], layer.embedding.E.data[LABELS])
    assert max(check_layer(layer, x).values()) < 1e-8


def test_projection_matches_finite_differences_and_its_tangent_too(rng):
    layer = nn.Projection(6, 4, init="torch", rng=0).given(LABELS)
    h = rng.standard_normal((5, 6))
    errors = check_layer(layer, h)
    assert set(errors) == {"x", "0.W", "0.b", "1.E"} and max(errors.values()) < 1e-8
    assert max(check_tangent(layer, h).values()) < 1e-8


def test_projection_is_psi_plus_the_inner_product_with_the_labels_vector(rng):
    layer = nn.Projection(6, 4, init="torch", rng=0).astype("float64").given(LABELS)
    h = rng.standard_normal((5, 6))
    W, b, E = layer.psi.W.data, layer.psi.b.data, layer.embedding.E.data
    expected = h @ W + b + (E[LABELS] * h).sum(axis=1, keepdims=True)
    assert np.allclose(layer(h), expected)


def test_projection_check_fails_on_a_planted_bug(monkeypatch, rng):
    original = nn.Projection.backward
    monkeypatch.setattr(nn.Projection, "backward", lambda self, ds: 1.01 * original(self, ds))
    with pytest.raises(AssertionError, match="'x'"):
        check_layer(nn.Projection(6, 4, init="torch", rng=0).given(LABELS), rng.standard_normal((5, 6)))


def test_a_penalty_through_a_conditional_critic_matches_finite_differences(rng):
    D = nn.Sequential(nn.Conv2d(1, 2, 3, 2, 1, init="torch", rng=0), nn.LeakyReLU(0.2), nn.Flatten(),
                      nn.Projection(18, 4, init="torch", rng=1)).given(LABELS)
    x = rng.standard_normal((5, 1, 5, 5))
    for center in (0.0, 1.0):
        assert max(check_penalty(D, x, 5.0, center).values()) < 1e-7


def test_labels_are_set_on_the_whole_network_and_kept_until_the_next_given(rng):
    D = nn.Sequential(nn.Dense(3, 4, rng=0), nn.LeakyReLU(0.2), nn.Projection(4, 5, rng=1))
    assert nn.conditional.num_classes(D) == 5 and nn.conditional.num_classes(nn.Dense(3, 4)) == 0
    x = rng.standard_normal((5, 3)).astype(np.float32)
    first = D.given(LABELS)(x)
    assert np.array_equal(D(x), first)                               # still given
    assert not np.array_equal(D.given(LABELS[::-1].copy())(x), first)
    assert nn.Dense(3, 4, rng=0).given(LABELS) is not None           # a network with no label-reading layer ignores them


@pytest.mark.parametrize("labels, message", [
    (None, r"Projection\(4, 5\): no labels given; call network.given\(labels\) before its forward"),
    (np.array([1, 2]), r"labels must be one per sample, 5, got 2"),
    (np.array([0, 1, 2, 3, 5]), r"Embedding\(5, 4\): labels must lie in \[0, 5\), got 5"),
    (np.array([0, 1, -1, 3, 4]), r"labels must lie in \[0, 5\), got -1"),
    (np.array([0.0, 1, 2, 3, 4]), r"labels must be a 1-D array of ints, got 1-D float64"),
    (np.zeros((5, 1), dtype=int), r"labels must be a 1-D array of ints, got 2-D int"),
])
def test_bad_labels_are_one_clear_error_naming_the_layer(rng, labels, message):
    layer = nn.Projection(4, 5, rng=0).given(labels)
    with pytest.raises((ValueError, TypeError), match=message):
        layer(rng.standard_normal((5, 4)).astype(np.float32))


def test_bad_sizes_name_the_argument():
    with pytest.raises(ValueError, match="Embedding: num_classes must be a positive int, got 0"):
        nn.Embedding(0, 3)
    with pytest.raises(ValueError, match="Embedding: std must be a finite number > 0"):
        nn.Embedding(3, 3, std=0.0)
    with pytest.raises(ValueError, match="Projection: features must be a positive int"):
        nn.Projection(-1, 3)


def test_the_tables_are_parameters_saved_and_restored(rng):
    D = nn.Sequential(nn.Flatten(), nn.Projection(4, 3, rng=0))
    assert set(D.state_dict()) == {"1.0.W", "1.0.b", "1.1.E"}
    other = nn.Sequential(nn.Flatten(), nn.Projection(4, 3, rng=7))
    other.load_state_dict(D.state_dict())
    x = rng.standard_normal((3, 2, 2)).astype(np.float32)
    labels = np.array([0, 2, 2])
    assert np.array_equal(other.given(labels)(x), D.given(labels)(x))


def test_agrees_with_torch_embedding_and_the_projection_formula(rng):
    torch = pytest.importorskip("torch")
    layer = nn.Projection(6, 4, init="torch", rng=0).astype("float64").given(LABELS)
    h = rng.standard_normal((5, 6))
    ds = rng.standard_normal((5, 1))
    s = layer(h)
    dh = layer.backward(ds)
    th = torch.tensor(h, requires_grad=True)
    W = torch.tensor(layer.psi.W.data, requires_grad=True)
    b = torch.tensor(layer.psi.b.data, requires_grad=True)
    emb = torch.nn.Embedding(4, 6).double()
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(layer.embedding.E.data))
    ts = th @ W + b + (emb(torch.tensor(LABELS)) * th).sum(dim=1, keepdim=True)
    ts.backward(torch.tensor(ds))
    assert np.allclose(s, ts.detach().numpy())
    for ours, theirs in ((dh, th.grad), (layer.psi.W.grad, W.grad), (layer.psi.b.grad, b.grad),
                         (layer.embedding.E.grad, emb.weight.grad)):
        assert np.allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_cupy_matches_the_formulas_on_the_host(cupy, rng):
    layer = nn.Projection(6, 4, init="torch", rng=0).given(cupy.asarray(LABELS))
    h = rng.standard_normal((5, 6)).astype(np.float32)
    ds = rng.standard_normal((5, 1)).astype(np.float32)
    s, dh = layer(cupy.asarray(h)), layer.backward(cupy.asarray(ds))
    W, b, E = (mg.to_numpy(a) for a in (layer.psi.W.data, layer.psi.b.data, layer.embedding.E.data))
    assert np.allclose(mg.to_numpy(s), h @ W + b + (E[LABELS] * h).sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    assert np.allclose(mg.to_numpy(dh), ds @ W.T + ds * E[LABELS], rtol=1e-5, atol=1e-6)
    expected_dE = np.zeros_like(E)
    np.add.at(expected_dE, LABELS, ds * h)
    assert np.allclose(mg.to_numpy(layer.embedding.E.grad), expected_dE, rtol=1e-5, atol=1e-6)
