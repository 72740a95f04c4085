"""Parameter, Layer and Sequential (minigan/nn/module.py): the layer protocol and the chain rule.

Confirms docs/derivations.md, "Sequential".
"""
import copy

import numpy as np
import pytest

import minigan as mg
from minigan.gradcheck import check_layer
from minigan.gradcheck.suite import cases


def small_generator(rng=0):
    return mg.nn.Sequential(
        mg.nn.Dense(4, 2 * 3 * 3, rng=rng), mg.nn.BatchNorm1d(18), mg.nn.LeakyReLU(0.2),
        mg.nn.Reshape(2, 3, 3), mg.nn.ConvTranspose2d(2, 1, 4, 2, 1, rng=rng), mg.nn.Sigmoid(),
    )


def test_sequential_forward_backward_and_parameters(rng):
    G = small_generator()
    assert [n for n, _ in G.named_parameters()] == ["0.W", "0.b", "1.gamma", "1.beta", "4.W", "4.b"]
    assert len(G.parameters()) == 6 and len(G) == 6 and isinstance(G[4], mg.nn.ConvTranspose2d)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = G(x)
    assert y.shape == (5, 1, 6, 6) and y.dtype == np.float32
    dx = G.backward(rng.standard_normal(y.shape).astype(np.float32))
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert all(float(np.abs(p.grad).max()) > 0 for p in G.parameters())
    G.zero_grad()
    assert all(float(np.abs(p.grad).max()) == 0 for p in G.parameters())


def test_sequential_gradient_check(rng):
    errors = check_layer(small_generator(), rng.standard_normal((5, 4)))
    assert max(errors.values()) < 1e-6


def test_sequential_slicing_and_iteration():
    G = small_generator()
    head = G[:3]
    assert isinstance(head, mg.nn.Sequential) and len(head) == 3 and head[0] is G[0]
    assert [type(layer).__name__ for layer in G][:2] == ["Dense", "BatchNorm1d"]


def test_train_and_eval_propagate():
    G = small_generator()
    assert G.eval() is G
    assert not G.training and not G[1].training
    G.train()
    assert G[1].training


def test_state_dict_round_trip_and_independence(rng):
    a, b = small_generator(rng=1), small_generator(rng=2)
    a(rng.standard_normal((5, 4)).astype(np.float32))          # moves BatchNorm running stats
    state = a.state_dict()
    assert "1.running_mean" in state and isinstance(state["0.W"], np.ndarray)
    b.load_state_dict(state)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(a.eval()(x), b.eval()(x))
    state["0.W"][...] = 0                                       # a copy, not a view of the weights
    assert a[0].W.data.any()


def test_load_state_dict_errors():
    G = small_generator()
    state = G.state_dict()
    del state["0.b"]
    state["extra"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"missing \['0.b'\], unexpected \['extra'\]"):
        G.load_state_dict(state)
    state = G.state_dict()
    state["4.W"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"4.W must have shape \(2, 1, 4, 4\), got \(3, 3\)"):
        G.load_state_dict(state)


def test_astype_casts_parameters_grads_and_buffers():
    G = small_generator().astype("float64")
    for p in G.parameters():
        assert p.dtype == np.float64 and p.grad.dtype == np.float64
    assert G[1].running_var.dtype == np.float64


def test_sequential_rejects_non_layers():
    with pytest.raises(TypeError, match="Sequential: argument 1 must be a Layer, got ufunc"):
        mg.nn.Sequential(mg.nn.Tanh(), np.tanh)


def test_parameter():
    p = mg.Parameter(np.ones((2, 3), dtype=np.float32))
    assert p.grad.shape == (2, 3) and p.grad.dtype == np.float32 and not p.grad.any()
    assert repr(p) == "Parameter(shape=(2, 3), dtype=float32)"


def test_repr_lists_the_layers():
    text = repr(small_generator())
    assert text.startswith("Sequential(\n  (0) Dense(4, 18)\n  (1) BatchNorm1d(18")
    assert "(3) Reshape(2, 3, 3)" in text and "(5) Sigmoid()" in text


def test_backward_twice_for_one_forward_is_an_error(rng):
    layer = mg.nn.Tanh()
    y = layer(rng.standard_normal((2, 2)))
    layer.backward(y)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(y)


def test_a_frozen_layer_returns_dx_but_leaves_gradients_alone(rng):
    G = small_generator()
    x = rng.standard_normal((5, 4)).astype(np.float32)
    dy = rng.standard_normal((5, 1, 6, 6)).astype(np.float32)
    G(x)
    dx = G.backward(dy)
    grads = [p.grad.copy() for p in G.parameters()]
    G.zero_grad()
    assert G.freeze() is G and all(layer.frozen for layer in G)
    G(x)
    np.testing.assert_array_equal(G.backward(dy), dx)
    assert all(float(np.abs(p.grad).max()) == 0.0 for p in G.parameters())
    G.unfreeze()
    G(x)
    G.backward(dy)
    for p, g in zip(G.parameters(), grads):
        np.testing.assert_array_equal(p.grad, g)


@pytest.mark.parametrize("first", [lambda: mg.nn.Conv2d(1, 2, 4, 2, 1, rng=0), lambda: mg.nn.Dense(4, 3, rng=0),
                                   lambda: mg.nn.ConvTranspose2d(1, 2, 4, 2, 1, rng=0)])
def test_need_dx_false_skips_the_input_gradient_and_keeps_the_parameter_gradients(rng, first):
    def net():
        layer = first()
        return mg.nn.Sequential(layer, mg.nn.LeakyReLU(0.2))

    shape = (3, 4) if isinstance(first(), mg.nn.Dense) else (3, 1, 6, 6)
    x = rng.standard_normal(shape).astype(np.float32)
    a, b = net(), net()
    dy = rng.standard_normal(a(x).shape).astype(np.float32)
    b(x)
    assert a.backward(dy) is not None and b.backward(dy, need_dx=False) is None
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad)
    assert b[0].needs_dx
    nested = mg.nn.Sequential(mg.nn.Sequential(first()), mg.nn.ReLU())
    nested(x)
    assert nested.backward(np.ones(nested(x).shape, np.float32), need_dx=False) is None


@pytest.mark.parametrize("layer", [mg.nn.Dense(3, 2, rng=0), mg.nn.LeakyReLU(0.2), mg.nn.BatchNorm1d(3),
                                   mg.nn.Flatten(), mg.nn.Sigmoid()], ids=repr)
def test_dy_is_checked_like_x(layer):
    x = np.ones((4, 3), np.float32) * np.arange(4, dtype=np.float32)[:, None]
    y = layer(x)
    with pytest.raises(TypeError, match="dy has dtype float64 but the output was float32"):
        layer.backward(np.ones(y.shape))                        # would spread float64 down the network
    layer(x)
    with pytest.raises(TypeError, match="dy must be a floating-point array of shape"):
        layer.backward(np.ones(y.shape).tolist())
    layer(x)
    assert layer.backward(np.ones(y.shape, np.float32)).dtype == np.float32


def _strided_copy(a):
    """The values of ``a`` in a non-contiguous view: every other element of a twice-as-long last axis."""
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    wide[..., ::2] = a
    view = wide[..., ::2]
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    return view


@pytest.mark.parametrize("label, layer, x", cases(seed=3), ids=lambda v: v if isinstance(v, str) else "")
def test_every_layer_gives_the_same_results_for_non_contiguous_inputs(rng, label, layer, x):
    """Views (a strided x and dy, and Fortran-ordered ones) give what contiguous copies give, to rounding
    (BLAS may sum in another order for another memory layout)."""
    layer.astype("float64")
    results = []
    for make in (np.ascontiguousarray, _strided_copy, np.asfortranarray):
        clone = copy.deepcopy(layer)
        clone.zero_grad()
        y = clone(make(x))
        dy = np.random.default_rng(0).standard_normal(y.shape)
        dx = clone.backward(make(dy))
        results.append([y, dx] + [p.grad for p in clone.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_named_layers_walks_depth_first_with_the_prefixes_of_the_names():
    inner = mg.nn.Sequential(mg.nn.Dense(2, 3), mg.nn.BatchNorm1d(3))
    outer = mg.nn.Sequential(mg.nn.Dense(4, 2), inner)
    assert [(prefix, type(layer).__name__) for prefix, layer in outer.named_layers()] == [
        ("", "Sequential"), ("0.", "Dense"), ("1.", "Sequential"), ("1.0.", "Dense"), ("1.1.", "BatchNorm1d")]
    assert [name for name, _ in outer.named_parameters()] == ["0.W", "0.b", "1.0.W", "1.0.b", "1.1.gamma", "1.1.beta"]
    assert [name for name, _ in outer.named_buffers()] == ["1.1.running_mean", "1.1.running_var"]


def test_a_forward_that_fails_part_way_leaves_no_cache_to_backpropagate_through(rng):
    net = mg.nn.Sequential(mg.nn.Flatten(), mg.nn.Dense(4, 3, rng=0), mg.nn.LeakyReLU(0.2), mg.nn.Dense(3, 2, rng=1))
    y = net(rng.standard_normal((5, 2, 2)).astype(np.float32))
    with pytest.raises(ValueError, match=r"Dense\(4, 3\): x must be \(N, 4\)"):
        net(rng.standard_normal((5, 1, 8)).astype(np.float32))          # Flatten took it, Dense did not
    net.zero_grad()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        net.backward(np.ones_like(y))                                 # not the good batch's Dense with the bad one's Flatten
    assert all(not p.grad.any() for p in net.parameters())             # nothing half-added
