"""Gradient penalties on the critic, with their second-order gradients written by hand.

A gradient penalty penalises the critic's gradient with respect to its input,

    P = weight * mean_n (‖g_n‖ - center)²,   g = ∂(sum_n D(x)_n)/∂x,  g_n = ∂D(x)_n/∂x_n,

WGAN-GP's term with center 1 on interpolates of real and fake images (Gulrajani et al. 2017),
R1's with center 0 and weight γ/2 on real images (Mescheder et al. 2018), R2's on fakes. Its
gradient with respect to D's weights is the derivative of a backward pass. With D = f_L ∘ ... ∘ f_1,
h_l = f_l(h_{l-1}), J_l = ∂h_l/∂h_{l-1} (docs/derivations.md, "Gradient penalties", steps 1-5):

1. First pass: D(x) forward, then backward from dy_L = 1 with no parameter gradients, keeping
   dy_l, the cotangent at each layer's output; what reaches the input is g = J_1ᵀ ... J_Lᵀ 1.
2. P from the norms; u_0 = ∂P/∂g = weight * (2/N) * (‖g_n‖ - center) * g_n / ‖g_n‖
   (= weight * (2/N) * g_n when center is 0; set to 0 for a sample whose g_n is 0, where the
   norm has no derivative: P's value is unchanged, and no other sample is touched).
3. Second pass, up the network: u_l = J_l u_{l-1}, the forward tangent of u_0, and layer l adds
   ∂⟨J_l u_{l-1}, dy_l⟩/∂θ_l into its ``.grad`` (``layer.tangent(h_{l-1}, u_{l-1}, dy_l)``).
4. That is all of ∂P/∂θ when no J_k depends on its input: Dense, Conv2d, ConvTranspose2d,
   LeakyReLU, ReLU, Flatten, Reshape (whose Jacobians are constant almost everywhere), and a
   conditional critic's Projection head (linear in its input for the labels it is given).
   Sigmoid and Tanh would add second-derivative terms and are refused, naming the layer.
5. BatchNorm in training mode mixes the batch: D(x)_n depends on every x_m, so g_n is not the
   gradient of sample n alone and the penalty is not what it claims. It is refused too.

``gradient_penalty`` adds ∂P/∂θ into D's ``.grad`` (the convention of ``backward``) and returns P;
``input_gradient`` is step 1 alone; ``interpolates`` draws WGAN-GP's points; ``Penalty`` names a
term of D's loss (``wgan_gp``, ``r1``, ``r2``) as the game applies it. Tests: tests/gan/test_penalties.py.
"""
import dataclasses

from .. import backend
from ..checks import is_number
from ..nn import Sequential

# The named terms: each one's name (in a run's settings and records) and where it takes D's gradient.
TERMS = {"gp": "interpolates", "r1": "real images", "r2": "fakes"}

# Why a layer without a tangent cannot sit in a penalised critic (step 4 or 5).
_REFUSED = {
    "BatchNorm1d": "in training (its normal) mode each sample's output depends on the whole batch, so the "
                   "gradient per sample that the penalty needs does not exist",
    "BatchNorm2d": "in training (its normal) mode each sample's output depends on the whole batch, so the "
                   "gradient per sample that the penalty needs does not exist",
    "Sigmoid": "its Jacobian depends on its input, which adds second-derivative terms minigan does not implement",
    "Tanh": "its Jacobian depends on its input, which adds second-derivative terms minigan does not implement",
}


def gradient_penalty(D, x, weight, center=0.0):
    """P = weight * mean_n (‖∂D(x)_n/∂x_n‖₂ - center)²; adds ∂P/∂θ_D into D's gradients.

    center 1 on ``interpolates(real, fake, rng)`` is WGAN-GP's term (weight λ = 10); center 0 with
    weight γ/2 on real images is R1, on fakes R2. Returns P, a scalar on x's device.
    Backward: steps 1-3 of the module docstring (exact for the layers of step 4).
    Shapes: x (N, ...) as D takes it, N >= 1; D(x) (N, 1).
    Derivation: docs/derivations.md, "Gradient penalties". Tests: tests/gan/test_penalties.py.

    Parameters
    ----------
    D : Layer
        The critic: a layer or Sequential (nested Sequentials are fine) of Dense, Conv2d,
        ConvTranspose2d, LeakyReLU, ReLU, Flatten and Reshape, and a conditional critic's
        ``Projection`` head (given its labels before the call: ``D.given(labels)``).
    x : array (N, ...)
        Where the gradient is taken, in D's dtype.
    weight : float >= 0
    center : float >= 0
    """
    return penalty_and_norm(D, x, weight, center)[0]


def penalty_and_norm(D, x, weight, center=0.0):
    """(P, mean_n ‖g_n‖), both device scalars: ``gradient_penalty`` and the norm a run records."""
    layers = critic_layers(D)
    _check_number("weight", weight)
    _check_number("center", center)
    inputs, cotangents, g = _first_pass(layers, x)
    P, norms = _value(g, weight, center)                                     # step 2
    u = _outer_derivative(backend.xp_of(g), g, norms, weight, center)
    for layer, h, dy in zip(layers, inputs, cotangents):                     # step 3
        u = layer.tangent(h, u, dy)
    return P, norms.mean()


@dataclasses.dataclass(frozen=True)
class Penalty:
    """One gradient-penalty term of D's loss: its ``name`` in the records, where it is taken
    (``on``: "interpolates", "real" or "fake"), its ``weight`` and ``center``."""

    name: str
    on: str
    weight: float
    center: float

    def __post_init__(self):
        if self.on not in ("interpolates", "real", "fake"):
            raise ValueError(f"Penalty: on must be 'interpolates', 'real' or 'fake', got {self.on!r}")
        _check_number("weight", self.weight)
        _check_number("center", self.center)

    def scaled(self, k):
        """The same term with its weight times k: lazy regularisation, applied every k-th D step."""
        return dataclasses.replace(self, weight=self.weight * k)

    def labels_at(self, labels):
        """The labels D is given at this term's point, for ``labels`` = (y_real, y_fake) or None:
        the fakes' for the fakes; the real batch's for real images and for interpolates (an
        interpolate of a real 3 and a fake 7 is judged as a 3; the penalty only asks about D's
        gradient there, for the label it is given)."""
        y_real, y_fake = labels or (None, None)
        return y_fake if self.on == "fake" else y_real

    def point(self, real, fake, rng=None):
        """Where the gradient is taken: the real or the fake batch, or interpolates drawn from ``rng``."""
        if self.on == "interpolates":
            if rng is None:
                raise ValueError(f"Penalty {self.name!r}: interpolates need a random generator (rng)")
            return interpolates(real, fake, rng)
        return real if self.on == "real" else fake

    def apply(self, D, real, fake, rng=None, labels=None):
        """Add this term's ∂P/∂θ into D's gradients; returns {name: P, name + "_norm": mean ‖g_n‖}.

        ``rng`` (a numpy Generator) draws the interpolates' ε; the other terms draw nothing.
        ``labels``: (y_real, y_fake) for a conditional D (``labels_at``), else None.
        """
        D.given(self.labels_at(labels))
        value, norm = penalty_and_norm(D, self.point(real, fake, rng), self.weight, self.center)
        return {self.name: value, f"{self.name}_norm": norm}

    def value(self, D, x):
        """P at the point x (``penalty_value``), no parameter gradient touched."""
        return penalty_value(D, x, self.weight, self.center)


def wgan_gp(weight=10.0):
    """WGAN-GP's term: weight λ (10 in the paper), center 1, on interpolates of real and fake images."""
    return Penalty("gp", "interpolates", float(weight), 1.0)


def r1(gamma):
    """R1: (γ/2) E‖∇D(x)‖² on real images (Mescheder et al. 2018)."""
    return Penalty("r1", "real", float(gamma) / 2.0, 0.0)


def r2(gamma):
    """R2: (γ/2) E‖∇D(x)‖² on the fakes of the step."""
    return Penalty("r2", "fake", float(gamma) / 2.0, 0.0)


def input_gradient(D, x):
    """g = ∂(sum_n D(x)_n)/∂x, (N, ...) like x: step 1 alone, no parameter gradient touched.

    Row n is ∂D(x)_n/∂x_n for a critic that treats samples independently (no BatchNorm).
    """
    return _first_pass(critic_layers(D), x)[2]


def penalty_value(D, x, weight, center=0.0):
    """P alone, from step 1's ``input_gradient``: what ``gradient_penalty`` returns, without its gradient."""
    return _value(input_gradient(D, x), weight, center)[0]


def interpolates(real, fake, rng):
    """x̂ = ε real + (1 - ε) fake with ε ~ U[0, 1] drawn per sample from ``rng`` (WGAN-GP's points).

    ``rng`` is a numpy Generator (the run's, so that a resumed run draws the same ε); the draws
    are made on the host and moved to the arrays' device. Shapes: real, fake (N, ...) -> (N, ...).
    """
    if real.shape != fake.shape:
        raise ValueError(f"interpolates: real and fake must have one shape, got {tuple(real.shape)} "
                         f"and {tuple(fake.shape)}")
    eps = backend.xp_of(real).asarray(rng.random(len(real)), dtype=real.dtype)   # on the images' device
    eps = eps.reshape((-1,) + (1,) * (real.ndim - 1))
    return fake + eps * (real - fake)


def critic_layers(D):
    """D's layers in order, nested Sequentials opened; ValueError naming a layer the penalty cannot pass."""
    layers = _opened(D)
    for i, layer in enumerate(layers):
        if getattr(type(layer), "tangent", None) is None:
            why = _REFUSED.get(type(layer).__name__, "it has no forward tangent (a Layer.tangent method)")
            raise ValueError(f"gradient_penalty: D's layer {i}, {layer!r}, cannot sit in a penalised critic: {why} "
                             "(use Dense, Conv2d, ConvTranspose2d, LeakyReLU, ReLU, Flatten, Reshape and Projection)")
    if not layers:
        raise ValueError("gradient_penalty: D has no layers")
    return layers


def _opened(layer):
    """The layers of a Sequential, nested ones opened; any other layer (a SpectralNorm wrapper too) as one."""
    return [leaf for child in layer.layers for leaf in _opened(child)] if isinstance(layer, Sequential) else [layer]


def _check_number(name, value):
    if not (is_number(value) and value >= 0):
        raise ValueError(f"gradient_penalty: {name} must be a finite number >= 0, got {value!r}")


def _first_pass(layers, x):
    """Step 1: the inputs h_{l-1} of every layer, the cotangents dy_l at their outputs, and g."""
    inputs, h = [], x
    for layer in layers:
        inputs.append(h)
        h = layer(h)
    if h.ndim != 2 or h.shape != (len(x), 1):
        raise ValueError(f"gradient_penalty: D must give one score per sample, (N, 1) = ({len(x)}, 1), "
                         f"got {tuple(h.shape)}")
    dy, cotangents = backend.xp_of(h).ones_like(h), []
    for layer in reversed(layers):
        cotangents.append(dy)
        frozen = [(sub, sub.frozen) for _, sub in layer.named_layers()]     # a wrapper's inner layer too
        needs_dx = layer.needs_dx
        layer.freeze()                                                       # no parameter gradients here
        layer.needs_dx = True
        try:
            dy = layer.backward(dy)
        finally:
            layer.needs_dx = needs_dx
            for sub, state in frozen:
                sub.frozen = state
    return inputs, cotangents[::-1], dy


def _value(g, weight, center):
    """(P, ‖g_n‖ per sample): step 2's value; an array times a float keeps g's dtype."""
    norms = backend.xp_of(g).sqrt((g * g).reshape(len(g), -1).sum(axis=1))      # (N,)
    return (weight * (norms - center) ** 2).mean(), norms


def _outer_derivative(xp, g, norms, weight, center):
    """Step 2: u_0 = weight * (2/N) * (g_n - center * g_n / ‖g_n‖), and 0 for a sample whose g_n is 0.

    The unit vector g_n / ‖g_n‖ is formed first (each entry at most 1 in size), so a tiny norm
    cannot overflow it.
    """
    scale = 2.0 * weight / len(norms)
    if center == 0:
        return scale * g
    safe = xp.where(norms > 0, norms, 1.0).reshape((-1,) + (1,) * (g.ndim - 1))
    return scale * (g - center * (g / safe))


__all__ = ["Penalty", "TERMS", "critic_layers", "gradient_penalty", "input_gradient", "interpolates", "penalty_and_norm",
           "penalty_value", "r1", "r2", "wgan_gp"]
