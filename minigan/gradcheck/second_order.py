"""Checks of the second-order pieces: each layer's forward tangent, and a gradient penalty's ∂P/∂θ.

A gradient penalty's weight gradient is assembled from two things per layer (docs/derivations.md,
"Gradient penalties"): the forward tangent J(x)·u, and what the layer adds into its ``.grad``,
∂⟨J(x)·u, dy⟩/∂θ. ``check_tangent`` proves both against central differences of the forward;
``check_penalty`` proves the assembled ∂P/∂θ against central differences of P itself.
"""
import copy

from .. import backend
from ..gan import penalties
from . import _max_abs, assert_gradients_close, numerical_gradient, rel_error


def check_tangent(layer, x, seed=0, eps=1e-6, rtol=1e-5, atol=1e-6):
    """Check ``layer.tangent(x, u, dy)`` against central differences, in float64.

    For random u and dy (seeded): the returned tangent against (f(x + eps u) - f(x - eps u)) / (2 eps),
    element by element ("tangent"), and what it adds into each parameter's ``.grad`` against central
    differences of θ -> sum(tangent(x, u; θ) * dy). Works on a float64 copy.
    Returns {array name: normwise relative error}; raises AssertionError naming the worst element.
    """
    layer = copy.deepcopy(layer).astype("float64")
    xp = backend.xp_of(x)
    x = xp.array(x, dtype="float64")
    rng = backend.as_rng(seed)
    u = xp.asarray(rng.standard_normal(x.shape))
    y = layer(x)
    dy = xp.asarray(rng.standard_normal(y.shape))
    layer.zero_grad()
    analytic = layer.tangent(x, u, dy)
    numeric = (layer(x + eps * u) - layer(x - eps * u)) / (2.0 * eps)
    pairs = [("tangent", analytic, numeric)]
    for name, p in layer.named_parameters():
        pairs.append((name, p.grad.copy(),
                      numerical_gradient(lambda _: float((layer.tangent(x, u) * dy).sum()), p.data, eps)))
    return _compare(pairs, f"tangent of {layer!r}", rtol, atol)


def check_penalty(D, x, weight, center, eps=1e-6, rtol=1e-5, atol=1e-7):
    """Check the ∂P/∂θ that ``gan.penalties.gradient_penalty`` adds into D's gradients, in float64.

    Every element of every parameter against central differences of
    P = weight * mean_n (‖∂D(x)_n/∂x_n‖ - center)², whose value comes from the first pass alone.
    Works on a float64 copy. Returns {array name: normwise relative error}.
    """
    D = copy.deepcopy(D).astype("float64")
    x = backend.xp_of(x).array(x, dtype="float64")
    D.zero_grad()
    penalties.gradient_penalty(D, x, weight, center)
    def value(_):
        return float(penalties.penalty_value(D, x, weight, center))

    pairs = [(name, p.grad.copy(), numerical_gradient(value, p.data, eps)) for name, p in D.named_parameters()]
    return _compare(pairs, f"penalty (weight {weight:g}, center {center:g})", rtol, atol)


def _compare(pairs, label, rtol, atol):
    for name, analytic, numeric in pairs:
        assert_gradients_close(name, analytic, numeric, rtol, atol, label)
    scale = max(max(_max_abs(a), _max_abs(n)) for _, a, n in pairs)
    return {name: rel_error(a, n, scale) for name, a, n in pairs}
