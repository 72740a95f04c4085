"""Gradient checking: prove a hand-written backward pass against finite differences.

For a layer y = f(x; θ) and a random upstream gradient dy, the scalar
L = sum(f(x; θ) * dy) has dL/dx = backward(dy) and dL/dθ = the accumulated .grad.
Central differences estimate the same numbers without any calculus:

    dL/dx[i] ≈ (L(x + eps*e_i) - L(x - eps*e_i)) / (2*eps),

whose error is O(eps²) from truncation plus O(u*|L|/eps) from rounding (u ≈ 1e-16
in float64). With eps = 1e-6 both are near 1e-10, so a correct backward agrees to
about 1e-9 relative error and a wrong one (a missing term, a transposed weight, a
factor of 1.01) is off by orders of magnitude more. Checks run in float64: in
float32 the rounding term alone is about 1e-2.

dy is random, never all ones: with dy = 1, BatchNorm's true input gradient is
exactly zero and a check would prove nothing.

Public: ``numerical_gradient``, ``rel_error``, ``check_layer``, ``check_loss``, ``check_function``,
``check_game`` (both players' gradients in one GAN iteration, as the trainer computes them, with
or without gradient penalties); ``check_tangent`` and ``check_penalty`` (``second_order.py``) prove
the second-order pieces of a gradient penalty; ``python -m minigan.gradcheck`` checks every layer
and loss and prints a table.
"""
import copy

import numpy as np

from .. import backend
from ..gan import game
from ..gan.penalties import penalty_and_norm


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function ``f`` at ``x``, element by element.

    g[i] = (f(x + eps*e_i) - f(x - eps*e_i)) / (2*eps). ``x`` is perturbed in place and
    restored exactly; ``f(x)`` must return a number. Shapes: g matches x (same backend, float64).
    """
    g = np.zeros(x.shape, dtype="float64")
    for idx in np.ndindex(*x.shape):
        old = x[idx].item()
        x[idx] = old + eps
        f_plus = float(f(x))
        x[idx] = old - eps
        f_minus = float(f(x))
        x[idx] = old
        g[idx] = (f_plus - f_minus) / (2.0 * eps)
    return backend.xp_of(x).asarray(g)


def _max_abs(a):
    """max|a| as a float, 0.0 for an empty array, on the host (CuPy's max has no ``initial=``)."""
    return float(np.abs(backend.to_numpy(a)).max(initial=0.0))


def rel_error(a, b, scale=None):
    """Normwise relative error max|a - b| / scale, scale defaulting to max(max|a|, max|b|); 0.0 if scale is 0.

    Scaling by the largest magnitude (not element by element) keeps near-zero entries
    from reporting huge relative errors that are only rounding.
    """
    a, b = backend.to_numpy(a).astype("float64"), backend.to_numpy(b).astype("float64")
    if scale is None:
        scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    return 0.0 if scale == 0.0 else float(np.abs(a - b).max(initial=0.0) / scale)


def assert_gradients_close(name, analytic, numeric, rtol=1e-5, atol=1e-6, label=""):
    """Raise AssertionError naming ``name`` and the worst index unless |analytic - numeric| <= atol + rtol*|numeric|."""
    a, n = backend.to_numpy(analytic), backend.to_numpy(numeric)
    where = f"{label}: " if label else ""
    if a.shape != n.shape:
        raise AssertionError(f"{where}gradient of '{name}' has shape {a.shape}, expected {n.shape}")
    excess = np.abs(a - n) - (atol + rtol * np.abs(n))
    if not np.all(np.isfinite(a)) or excess.max(initial=-1.0) > 0:
        idx = np.unravel_index(int(np.argmax(np.where(np.isfinite(a), excess, np.inf))), a.shape)
        raise AssertionError(
            f"{where}gradient check failed for '{name}' at index {tuple(int(i) for i in idx)}: "
            f"analytic {a[idx]:.10g}, numeric {n[idx]:.10g} (tolerance atol={atol:g} + rtol={rtol:g} * |numeric|); "
            f"relative error {rel_error(a, n):.3g}"
        )


def check_layer(layer, x, seed=0, eps=1e-6, rtol=1e-5, atol=1e-6, method="elementwise",
                n_directions=3, verbose=False):
    """Check a layer's dx and every parameter gradient against central differences, in float64.

    Works on a float64 deep copy, so ``layer`` itself (weights, grads, running stats) is untouched.
    A random dy (seeded) defines L = sum(layer(x) * dy); the analytic gradients come from one
    ``backward(dy)``.

    Every element must satisfy |analytic - numeric| <= atol + rtol*|numeric|. The returned error
    of each array is max|analytic - numeric| divided by the largest gradient magnitude of the
    whole check: the normwise relative error of the full gradient (dx and all parameter
    gradients as one vector), reported array by array. That keeps arrays whose gradient is
    zero in exact arithmetic (a bias feeding BatchNorm) from reporting rounding noise divided
    by rounding noise.

    Parameters
    ----------
    layer : minigan.nn.Layer
    x : array
        The input at which to check.
    seed : int or numpy.random.Generator
        For dy and, with ``method="directional"``, the directions.
    eps, rtol, atol : float
        Step size and per-element tolerances.
    method : {"elementwise", "directional"}
        "elementwise" perturbs every element; "directional" compares the derivative along
        ``n_directions`` random unit vectors v with sum(grad * v), for tensors too large for
        a per-element check.
    verbose : bool
        Print one line per array.

    Returns a dict {array name: relative error}, names "x", "W", "b", "0.gamma", ...
    Raises AssertionError naming the array and the worst index when a tolerance is exceeded.
    """
    if method not in ("elementwise", "directional"):
        raise ValueError(f"check_layer: method must be 'elementwise' or 'directional', got {method!r}")
    layer = copy.deepcopy(layer).astype("float64")
    x = backend.xp_of(x).array(x, dtype="float64")
    rng = backend.as_rng(seed)
    dy = backend.xp_of(x).asarray(rng.standard_normal(layer.forward(x).shape))
    layer.zero_grad()
    dx = layer.backward(dy)
    arrays = [("x", x, dx)] + [(name, p.data, p.grad.copy()) for name, p in layer.named_parameters()]

    def objective(_):
        return float((layer.forward(x) * dy).sum())

    label = type(layer).__name__
    pairs = []
    for name, value, analytic in arrays:
        if method == "elementwise":
            pairs.append((name, analytic, numerical_gradient(objective, value, eps)))
        else:
            pairs.append((name, *_directional_derivatives(objective, value, analytic, eps, rng, n_directions)))
    for name, analytic, numeric in pairs:
        assert_gradients_close(name, analytic, numeric, rtol, atol, label)
    scale = max(max(_max_abs(a), _max_abs(n)) for _, a, n in pairs)
    errors = {name: rel_error(analytic, numeric, scale) for name, analytic, numeric in pairs}
    if verbose:
        for name, error in errors.items():
            print(f"{label:>16}  {name:<10} relative error {error:.2e}")
    return errors


def _directional_derivatives(objective, value, analytic, eps, rng, n_directions):
    """(sum(analytic * v_k), central difference of L along v_k) for random unit vectors v_k, as arrays."""
    xp = backend.xp_of(value)
    original = value.copy()
    exact, numeric = np.zeros(n_directions), np.zeros(n_directions)
    for k in range(n_directions):
        v = rng.standard_normal(value.shape)
        v = xp.asarray(v / np.linalg.norm(v))
        value[...] = original + eps * v
        f_plus = objective(value)
        value[...] = original - eps * v
        f_minus = objective(value)
        value[...] = original
        numeric[k] = (f_plus - f_minus) / (2.0 * eps)
        exact[k] = float((analytic * v).sum())
    return exact, numeric


def check_loss(loss, real_scores, fake_scores, eps=1e-6, rtol=1e-5, atol=1e-8):
    """Check a GAN loss's gradients against central differences of its value, in float64.

    Checks the three gradients a loss object returns: D's with respect to the real scores
    (``d_loss_real``) and to the fake scores (``d_loss_fake``), each against differences of D's whole
    loss ``d_loss``, and G's with respect to the fake scores (``g_loss``). Errors are
    relative to the largest gradient entry of the check, as in ``check_layer``.

    Parameters
    ----------
    loss : a ``minigan.losses`` loss object
    real_scores, fake_scores : arrays (N,) or (N, 1)
    eps, rtol, atol : float
        Step size and per-element tolerances. Use a larger eps (e.g. 1e-2) for scores of
        magnitude 1e3 and more, where the losses are linear and rounding dominates.

    Returns a dict {"d_real": error, "d_fake": error, "g_fake": error}.
    Raises AssertionError naming the gradient and the worst index when a tolerance is exceeded.
    """
    xp = backend.xp_of(real_scores, fake_scores)
    real, fake = xp.array(real_scores, dtype="float64"), xp.array(fake_scores, dtype="float64")
    (_, d_real), (_, d_fake) = loss.d_loss_real(real), loss.d_loss_fake(fake)
    _, g_fake = loss.g_loss(fake)

    def d_value(_):
        return loss.d_loss(real, fake)

    pairs = [("d_real", d_real, numerical_gradient(d_value, real, eps)),
             ("d_fake", d_fake, numerical_gradient(d_value, fake, eps)),
             ("g_fake", g_fake, numerical_gradient(lambda _: loss.g_loss(fake)[0], fake, eps))]
    label = repr(loss)
    for name, analytic, numeric in pairs:
        assert_gradients_close(name, analytic, numeric, rtol, atol, label)
    scale = max(max(_max_abs(a), _max_abs(n)) for _, a, n in pairs)
    return {name: rel_error(analytic, numeric, scale) for name, analytic, numeric in pairs}


def check_function(f, x, label="function", eps=1e-6, rtol=1e-5, atol=1e-8, name="x"):
    """Check a scalar function that returns its own gradient, ``f(x) -> (value, dvalue/dx)``, in float64.

    For losses outside the GAN-loss protocol, e.g. ``losses.softmax_cross_entropy`` with its labels
    bound. Returns {name: normwise relative error}; raises AssertionError naming the worst index.
    """
    x = backend.xp_of(x).array(x, dtype="float64")
    _, analytic = f(x)
    numeric = numerical_gradient(lambda value: f(value)[0], x, eps)
    assert_gradients_close(name, analytic, numeric, rtol, atol, label)
    return {name: rel_error(analytic, numeric)}


def check_game(G, D, loss, real, z, seed=0, eps=1e-6, rtol=1e-5, atol=1e-6, n_directions=3, penalties=(),
               labels=None):
    """Check both players' parameter gradients in one GAN iteration, computed by the trainer's own
    code (``minigan.gan.game``), against central differences of the losses, in float64.

    D: L_D = loss.d_loss_real(D(real)) + loss.d_loss_fake(D(G(z))) with G fixed; the analytic
    gradient is what ``game.d_gradients`` adds into D's ``.grad``.
    With ``penalties`` (``gan.penalties.Penalty`` terms), L_D also holds each term's P at its point
    (interpolates drawn once from ``seed``), and the analytic gradient adds what ``Penalty.apply``
    adds: D with its gradient penalty, a second-order gradient.
    G: L_G = loss.g_loss(D(G(z))) with D fixed; the analytic gradient is what ``game.g_gradients``
    adds into G's ``.grad``, backpropagated through D (the gradient that matters most in a GAN).
    ``labels`` = (y_real, y_fake): the conditional game, D(real | y_real), G(z | y_fake), D(fake | y_fake).
    Each parameter array is checked along ``n_directions`` random unit directions v:
    sum(grad * v) against (L(θ + eps v) - L(θ - eps v)) / (2 eps). Works on float64 deep copies;
    G and D stay untouched.

    Returns {"D": {name: error}, "G": {name: error}}, errors normwise relative as in ``check_layer``.
    Raises AssertionError naming the player, the array and the worst direction when a tolerance is exceeded.
    """
    G, D = copy.deepcopy(G).astype("float64"), copy.deepcopy(D).astype("float64")
    xp = backend.xp_of(real)
    real, z = xp.array(real, dtype="float64"), xp.array(z, dtype="float64")
    rng = backend.as_rng(seed)
    y_real, y_fake = labels or (None, None)
    fake = G.given(y_fake)(z)
    D.zero_grad()
    game.d_gradients(D, loss, real, fake, labels)
    points = [(term, term.point(real, fake, rng)) for term in penalties]
    for term, x in points:
        penalty_and_norm(D.given(term.labels_at(labels)), x, term.weight, term.center)

    def d_value(_):
        scores = D.given(y_real)(real), D.given(y_fake)(fake)
        return float(loss.d_loss(*scores)) + sum(float(term.value(D.given(term.labels_at(labels)), x))
                                                    for term, x in points)

    G.zero_grad()
    game.g_gradients(G, D, loss, G(z), y_fake)

    def g_value(_):
        return float(loss.g_loss(D.given(y_fake)(G(z)))[0])

    result = {}
    for player, network, value in (("D", D, d_value), ("G", G, g_value)):
        pairs = [(name, *_directional_derivatives(value, p.data, p.grad.copy(), eps, rng, n_directions))
                 for name, p in network.named_parameters()]
        for name, analytic, numeric in pairs:
            assert_gradients_close(name, analytic, numeric, rtol, atol, f"{player} in {loss!r}")
        scale = max(max(_max_abs(a), _max_abs(n)) for _, a, n in pairs)
        result[player] = {name: rel_error(analytic, numeric, scale) for name, analytic, numeric in pairs}
    return result


from .second_order import check_penalty, check_tangent  # noqa: E402  (it uses the helpers above)
