"""Adam and SGD (minigan/optim/optimizers.py): the update rules, flat buffers, state and its checks.

Confirms docs/derivations.md, "Adam and SGD".
"""
import math

import numpy as np
import pytest

import minigan as mg
from minigan.optim import SGD, Adam, clip_weights


def _param(values, dtype=np.float64):
    return mg.Parameter(np.array(values, dtype=dtype))


def test_adam_first_two_steps_by_hand():
    p = _param([1.0, -2.0])
    opt = Adam([p], lr=0.1, betas=(0.5, 0.9), eps=1e-8)
    g1, g2 = np.array([0.3, -0.4]), np.array([-0.1, 0.2])
    p.grad[...] = g1
    opt.step()
    m, v = 0.5 * g1, 0.1 * g1 ** 2                     # m1 = (1-b1) g1, v1 = (1-b2) g1^2
    expected = np.array([1.0, -2.0]) - (0.1 / 0.5) * m / (np.sqrt(v) / math.sqrt(0.1) + 1e-8)
    np.testing.assert_allclose(p.data, expected, rtol=1e-14)
    p.grad[...] = g2
    opt.step()
    m, v = 0.5 * m + 0.5 * g2, 0.9 * v + 0.1 * g2 ** 2
    expected = expected - (0.1 / (1 - 0.5 ** 2)) * m / (np.sqrt(v) / math.sqrt(1 - 0.9 ** 2) + 1e-8)
    np.testing.assert_allclose(p.data, expected, rtol=1e-14)


def test_adam_first_step_moves_each_weight_by_about_lr():
    p = _param([1.0, 2.0, 3.0])
    p.grad[...] = [1e-3, -5.0, 100.0]
    Adam([p], lr=0.01).step()
    np.testing.assert_allclose(p.data, [0.99, 2.01, 2.99], rtol=1e-6)


def test_sgd_momentum_steps_by_hand():
    p = _param([1.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    for g, expected in [(2.0, 1.0 - 0.1 * 2.0), (1.0, 0.8 - 0.1 * (0.9 * 2.0 + 1.0))]:
        p.grad[...] = g
        opt.step()
        assert p.data[0] == pytest.approx(expected, rel=1e-14)


def test_plain_sgd_and_weight_decay():
    p = _param([1.0, -1.0])
    p.grad[...] = [0.5, 0.5]
    SGD([p], lr=0.1, weight_decay=0.1).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * (0.5 + 0.1), -1.0 - 0.1 * (0.5 - 0.1)], rtol=1e-14)


def test_adam_weight_decay_is_added_to_the_gradient():
    a, b = _param([2.0]), _param([2.0])
    a.grad[...] = 0.3
    b.grad[...] = 0.3 + 0.01 * 2.0
    Adam([a], lr=0.1, weight_decay=0.01).step()
    Adam([b], lr=0.1).step()
    assert a.data[0] == b.data[0]


def test_adam_minimises_a_convex_quadratic(rng):
    A = rng.standard_normal((5, 5))
    A = A @ A.T + 0.5 * np.eye(5)                           # positive definite
    c = rng.standard_normal(5)
    p = _param(np.zeros(5))
    opt = Adam([p], lr=0.05, betas=(0.9, 0.999))
    for _ in range(3000):
        opt.zero_grad()
        p.grad += A @ (p.data - c)                          # gradient of 0.5 (p - c)^T A (p - c)
        opt.step()
    np.testing.assert_allclose(p.data, c, atol=1e-4)


@pytest.mark.parametrize("make", [lambda ps: Adam(ps, lr=1e-2), lambda ps: SGD(ps, lr=1e-2, momentum=0.9)])
def test_state_dict_round_trip_continues_bit_identically(rng, make):
    def run(params, opt, steps, seed):
        g = np.random.default_rng(seed)
        for _ in range(steps):
            opt.zero_grad()
            for p in params:
                p.grad += g.standard_normal(p.shape).astype(np.float32)
            opt.step()

    params = [_param(rng.standard_normal((3, 4)), np.float32), _param(rng.standard_normal(4), np.float32)]
    opt = make(params)
    run(params, opt, 3, seed=1)
    saved_params = [p.data.copy() for p in params]
    saved_state = opt.state_dict()
    run(params, opt, 4, seed=2)                             # the uninterrupted run

    resumed = [mg.Parameter(a.copy()) for a in saved_params]
    opt2 = make(resumed)
    opt2.load_state_dict(saved_state)
    run(resumed, opt2, 4, seed=2)
    for p, q in zip(params, resumed):
        assert np.array_equal(p.data, q.data)
    assert opt2.t == opt.t == 7


def test_updates_are_in_place_and_keep_float32():
    layer = mg.nn.Dense(3, 2, rng=0)
    layer(np.ones((4, 3), dtype=np.float32))
    layer.backward(np.ones((4, 2), dtype=np.float32))
    for make in (lambda: Adam(layer.parameters()), lambda: SGD(layer.parameters(), lr=0.1, momentum=0.5)):
        opt = make()
        W = layer.W.data
        assert W.base is opt.flat.data                      # a view of the optimizer's flat buffer
        opt.step()
        assert layer.W.data is W and W.dtype == np.float32 and layer.b.data.dtype == np.float32
        assert all(s.dtype == np.float32 for state in opt.state for s in state.values())


def test_flat_updates_equal_the_per_parameter_loop_and_survive_rebinding(rng):
    def setup():
        G, _ = mg.models.build("mlp", z_dim=4, rng=0)
        return G, G.parameters()

    G1, params1 = setup()
    G2, params2 = setup()
    flat, loop = Adam(params1, weight_decay=0.01), Adam(params2, weight_decay=0.01)
    loop.flat = None                                         # the plain loop over parameters
    loop.state = [{k: np.zeros_like(p.data) for k in ("m", "v")} for p in params2]
    for step in range(3):
        for p, q in zip(params1, params2):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad[...], q.grad[...] = g, g
        flat.step()
        loop.step()
        if step == 1:                                        # load_state_dict rebinds p.data
            G1.load_state_dict(G1.state_dict())
    for p, q in zip(params1, params2):
        np.testing.assert_array_equal(p.data, q.data)
    assert params1[0].data.base is flat.flat.data


def test_a_parameter_listed_twice_is_refused():
    p = _param([1.0, 2.0])
    with pytest.raises(ValueError, match=r"SGD: params\[1\] is listed twice"):
        SGD([p, p], lr=0.1)


def test_clip_value_clamps_after_each_step():
    p = _param([0.005, -0.3, 0.2])
    p.grad[...] = [-1.0, 1.0, -1.0]
    SGD([p], lr=1.0, clip_value=0.01).step()
    np.testing.assert_array_equal(p.data, [0.01, -0.01, 0.01])
    q = _param([0.5, -0.5])
    clip_weights([q], 0.1)
    np.testing.assert_array_equal(q.data, [0.1, -0.1])
    with pytest.raises(ValueError, match="clip_value must be positive"):
        clip_weights([q], 0.0)


def test_zero_grad():
    p = _param([1.0])
    p.grad[...] = 3.0
    Adam([p]).zero_grad()
    assert p.grad[0] == 0.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=0.0), "Adam: lr must be a positive finite number, got 0.0"),
    (dict(lr=-1e-3), "lr must be a positive finite number"),
    (dict(lr=float("nan")), "lr must be a positive finite number"),
    (dict(betas=(0.5, 1.0)), r"betas must be two numbers in \[0, 1\)"),
    (dict(betas=(0.5,)), "betas must be two numbers"),
    (dict(eps=0.0), "eps must be a positive finite number"),
    (dict(weight_decay=-0.1), "weight_decay must be >= 0"),
    (dict(clip_value=-0.01), "clip_value must be a positive finite number"),
])
def test_adam_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Adam([_param([1.0])], **kwargs)


def test_sgd_bad_momentum():
    with pytest.raises(ValueError, match=r"SGD: momentum must be in \[0, 1\)"):
        SGD([_param([1.0])], lr=0.1, momentum=1.0)


def test_bad_parameter_lists():
    with pytest.raises(ValueError, match="Adam: params is empty"):
        Adam([])
    with pytest.raises(TypeError, match=r"params\[1\] must be a Parameter, got ndarray"):
        Adam([_param([1.0]), np.zeros(2)])
    with pytest.raises(TypeError, match="params must be a list of Parameters"):
        SGD(_param([1.0]), lr=0.1)


def test_parameter_without_gradient_is_named():
    p = _param([1.0, 2.0])
    p.grad = None
    with pytest.raises(RuntimeError, match=r"Adam: params\[0\] of shape \(2,\) has no gradient"):
        Adam([p]).step()


def test_load_state_dict_errors():
    opt = Adam([_param([1.0, 2.0])])
    state = opt.state_dict()
    with pytest.raises(ValueError, match="the state is from 'Adam', not 'SGD'"):
        SGD([_param([1.0, 2.0])], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="the state has 1 parameters, this optimizer 2"):
        Adam([_param([1.0, 2.0]), _param([1.0])]).load_state_dict(state)
    with pytest.raises(ValueError, match=r"params\[0\] m must have shape \(3,\), got \(2,\)"):
        Adam([_param([1.0, 2.0, 3.0])]).load_state_dict(state)


@pytest.mark.parametrize("change, message", [
    (lambda h: h.update(lr=-5.0), "lr must be a positive finite number, got -5.0"),
    (lambda h: h.update(betas=[0.5, 1.5]), r"betas must be two numbers in \[0, 1\)"),
    (lambda h: h.update(colour="blue"), "hyperparameters must have the keys"),
    (lambda h: h.pop("eps"), "hyperparameters must have the keys"),
])
def test_saved_hyperparameters_are_checked_before_anything_changes(change, message):
    p = _param([1.0, 2.0])
    opt = Adam([p], lr=1e-3)
    state = opt.state_dict()
    change(state["hyperparameters"])
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(state)
    assert opt.lr == 1e-3 and opt.t == 0


def test_a_state_with_a_nan_moment_is_refused_and_changes_nothing():
    params = [mg.Parameter(np.ones((2, 3), np.float32))]
    opt = Adam(params)
    state = opt.state_dict()
    state["state"][0]["v"] = np.full((2, 3), np.nan, np.float32)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=r"params\[0\] v holds a NaN or an infinity"):
        opt.load_state_dict(state)
    assert all(np.array_equal(a, b) for a, b in zip(before["state"][0].values(), opt.state_dict()["state"][0].values()))
