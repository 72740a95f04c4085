"""GAN losses on the discriminator's raw scores, each with its gradient written out.

The discriminator D returns a score s per sample (a logit for the sigmoid losses), and a
loss object turns a batch of scores into a number and its gradient with respect to the
scores. D minimises the sum of a real term, ``d_loss_real(s_real) -> (loss, d_real)``, and a
fake term, ``d_loss_fake(s_fake) -> (loss, d_fake)``; G minimises ``g_loss(s_fake) -> (loss,
d_fake)``; each mean is over its own batch, so with N scores every gradient entry carries a
factor 1/N. The gradients are then passed to ``D.backward``, one batch at a time (a layer holds
the cache of its last forward only). ``d_loss(s_real, s_fake)`` is D's loss value alone, for a
check or a plot: no call hands back the real batch's gradient after the fake batch's forward.
Derivations in docs/derivations.md, section "GAN losses", whose subsections carry the step
numbers below; in short, with
sigma(s) = 1 / (1 + exp(-s)) and softplus(s) = log(1 + exp(s)):

1. The logistic identities: -log sigma(s) = softplus(-s), -log(1 - sigma(s)) = softplus(s),
   and d softplus(s) / ds = sigma(s). So a binary cross-entropy with target t on a logit s is
   BCE(s, t) = softplus(s) - t*s, with dBCE/ds = sigma(s) - t, and no probability is ever
   formed, clipped or logged.
2. softplus(s) = max(s, 0) + log1p(exp(-|s|)) never overflows (exp of a non-positive number),
   and sigma(s) = 0.5 * (1 + tanh(0.5*s)) neither; both are exact in their limits
   (softplus(1e4) = 1e4, sigma(-1e4) = 0). Means divide before they add (``mean``, and
   ``half_mean_square`` for lsgan), so a loss overflows only where its value does not fit the
   dtype (float32: lsgan beyond |s| of about 2.6e19 for one score).
3. minimax (Goodfellow et al., 2014): D minimises mean(BCE(s_real, 1)) + mean(BCE(s_fake, 0)),
   so d_real = (sigma(s_real) - 1)/N_real, d_fake = sigma(s_fake)/N_fake. G minimises
   mean(log(1 - sigma(s_fake))) = -mean(softplus(s_fake)), so d_fake = -sigma(s_fake)/N: it
   vanishes as D(G(z)) = sigma(s_fake) -> 0, exactly when G is losing (the saturation).
4. nonsaturating: D as in 3; G minimises -mean(log sigma(s_fake)) = mean(softplus(-s_fake)),
   so d_fake = (sigma(s_fake) - 1)/N, which tends to -1/N as D(G(z)) -> 0.
5. lsgan (Mao et al., 2017, a=0, b=1, c=1): D minimises 0.5*mean((s_real - 1)²) + 0.5*mean(s_fake²):
   d_real = (s_real - 1)/N_real, d_fake = s_fake/N_fake; G minimises 0.5*mean((s_fake - 1)²):
   d_fake = (s_fake - 1)/N. Raw scores, no sigmoid.
6. hinge (Lim & Ye, 2017; Miyato et al., 2018): D minimises mean(relu(1 - s_real)) + mean(relu(1 + s_fake)):
   d_real = -[s_real < 1]/N_real, d_fake = [s_fake > -1]/N_fake (the subgradient 0 at the kinks);
   G minimises -mean(s_fake): d_fake = -1/N.
7. wasserstein (Arjovsky et al., 2017): the critic minimises mean(s_fake) - mean(s_real):
   d_real = -1/N_real, d_fake = 1/N_fake; G minimises -mean(s_fake): d_fake = -1/N. The
   critic must be (roughly) 1-Lipschitz for this to estimate a distance; minigan offers
   weight clipping (``clip_value`` on the optimizers, ``optim.clip_weights``). The
   gradient-penalty variant needs double backpropagation and is not provided.

8. softmax cross-entropy (the evaluator classifier's loss, not a GAN loss): for logits s (N, K)
   and labels y, L = mean_i(logsumexp(s_i) - s_i[y_i]) with logsumexp(s) = m + log(sum(exp(s - m))),
   m = max(s), so no exp overflows; dL/ds = (softmax(s) - onehot(y)) / N, softmax(s) = exp(s - logsumexp(s)).

One-sided label smoothing (Salimans et al., 2016): the sigmoid losses take ``real_label``
(e.g. 0.9) as D's target for real samples, d_real = (sigma(s_real) - real_label)/N_real; fake
targets stay 0 and G's loss is unchanged.
"""
import math

from . import backend

NAMES = ("minimax", "nonsaturating", "lsgan", "hinge", "wasserstein")


def softplus(s):
    """softplus(s) = log(1 + exp(s)) = max(s, 0) + log1p(exp(-|s|)), overflow-free (step 2)."""
    xp = backend.xp_of(s)
    return xp.maximum(s, 0.0) + xp.log1p(xp.exp(-xp.abs(s)))


def sigmoid(s):
    """sigma(s) = 0.5 * (1 + tanh(0.5 * s)), overflow-free (step 2)."""
    return 0.5 * (1.0 + backend.xp_of(s).tanh(0.5 * s))


def mean(v):
    """mean(v) as sum(v / N): never overflows when the mean itself is finite (step 2).

    NumPy's mean adds first and divides last, so the mean of two float32 scores of 3e38 is inf;
    dividing first keeps every partial sum within the largest score.
    """
    return (v * (1.0 / v.shape[0])).sum()


def half_mean_square(r):
    """0.5 * mean(r²) as sum((r * sqrt(0.5/N))²): finite whenever the result is (step 2).

    Squaring first overflows float32 for |r| > 1.8e19 even when 0.5 * r² / N fits.
    """
    v = r * math.sqrt(0.5 / r.shape[0])
    return (v * v).sum()


class GANLoss:
    """Base class: score validation and the two entry points every loss implements.

    Shapes: scores (N,) or (N, 1); gradients have the scores' shape and dtype; a loss is a scalar on
    the scores' device (a NumPy scalar, or a 0-d CuPy array that ``float(loss)`` reads back), so
    computing it never waits for the GPU.
    """

    name = ""
    needs_lipschitz = False
    output_label = "s(x)"                  # what D's mean output on a batch is called in logs and plots

    @property
    def fake_label(self):
        """The name of D's mean output on fake images, e.g. "D(G(z))"."""
        return self.output_label.replace("(x)", "(G(z))")

    def mean_output(self, scores):
        """D's mean output on a batch, as a device scalar: the mean raw score (see the sigmoid losses)."""
        return scores.mean()

    def d_loss(self, real_scores, fake_scores):
        """D's loss, the sum of its real and fake terms: the value alone (a device scalar).

        The gradients come one batch at a time from ``d_loss_real`` and ``d_loss_fake``, each to be
        sent back through D while D holds that batch's forward: after ``D(x_real)`` and then
        ``D(x_fake)``, D holds the fake batch, and the real batch's gradient sent back through it
        would be wrong with no error. So no call returns both gradients at once.
        """
        return self.d_loss_real(real_scores)[0] + self.d_loss_fake(fake_scores)[0]

    def d_loss_real(self, real_scores):
        """(loss, d_real): the real-sample term of D's loss alone.

        D's loss is a sum of a term in the real scores and a term in the fake scores, so a
        trainer can backpropagate the real batch through D before it runs D on the fakes.
        """
        self._check(real_scores, "real_scores")
        return self._d_real(real_scores)

    def d_loss_fake(self, fake_scores):
        """(loss, d_fake): the fake-sample term of D's loss alone."""
        self._check(fake_scores, "fake_scores")
        return self._d_fake(fake_scores)

    def g_loss(self, fake_scores):
        """(loss, d_fake) for the generator's step."""
        self._check(fake_scores, "fake_scores")
        return self._g(fake_scores)

    def _check(self, s, name):
        shape = tuple(getattr(s, "shape", ()))
        if not hasattr(s, "dtype") or s.dtype.kind != "f":
            raise TypeError(f"{self!r}: {name} must be a floating-point array (N,) or (N, 1), "
                            f"got {type(s).__name__}")
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) or shape[0] == 0:
            raise ValueError(f"{self!r}: {name} must be (N,) or (N, 1) with N >= 1, got {shape}")

    def __repr__(self):
        return f"{type(self).__name__}()"


class _SigmoidLoss(GANLoss):
    """D's binary cross-entropy on logits (steps 1-3), with optional one-sided label smoothing.

    Derivation: docs/derivations.md, "Working on logits" and "One-sided label smoothing". Tests: tests/test_losses.py.
    """

    output_label = "D(x)"

    def mean_output(self, scores):
        """D's mean output on a batch: mean(sigmoid(s)), the probability "real", as a device scalar."""
        return sigmoid(scores).mean()

    def __init__(self, real_label=1.0):
        if not 0.0 < float(real_label) <= 1.0:
            raise ValueError(f"{type(self).__name__}: real_label must be in (0, 1], got {real_label!r}")
        self.real_label = float(real_label)

    def _d_real(self, s):
        N = s.shape[0]
        loss = mean(softplus(s) - self.real_label * s)                  # BCE(s, real_label), step 1
        return loss, (sigmoid(s) - self.real_label) / N

    def _d_fake(self, s):
        return mean(softplus(s)), sigmoid(s) / s.shape[0]               # BCE(s, 0) = softplus(s)

    def __repr__(self):
        return f"{type(self).__name__}(real_label={self.real_label})"


class Minimax(_SigmoidLoss):
    """The original, saturating game (step 3 of the module docstring).

    D: L = -mean(log sigma(s_real)) - mean(log(1 - sigma(s_fake)));
       d_real = (sigma(s_real) - real_label)/N_real, d_fake = sigma(s_fake)/N_fake.
    G: L = mean(log(1 - sigma(s_fake))) = -mean(softplus(s_fake)); d_fake = -sigma(s_fake)/N.
    Shapes: scores (N,) or (N, 1); gradients match.
    Derivation: docs/derivations.md, "Working on logits" and "minimax (saturating)". Tests: tests/test_losses.py.
    """

    name = "minimax"

    def _g(self, s):
        return -mean(softplus(s)), -sigmoid(s) / s.shape[0]


class NonSaturating(_SigmoidLoss):
    """The non-saturating generator loss (step 4); D as in Minimax.

    G: L = -mean(log sigma(s_fake)) = mean(softplus(-s_fake)); d_fake = (sigma(s_fake) - 1)/N.
    Shapes: scores (N,) or (N, 1); gradients match.
    Derivation: docs/derivations.md, "Working on logits" and "nonsaturating". Tests: tests/test_losses.py.
    """

    name = "nonsaturating"

    def _g(self, s):
        return mean(softplus(-s)), (sigmoid(s) - 1.0) / s.shape[0]


class LSGAN(GANLoss):
    """Least squares GAN with targets a=0 (fake), b=1 (real), c=1 (step 5); raw scores.

    D: L = 0.5*mean((s_real - 1)²) + 0.5*mean(s_fake²); d_real = (s_real - 1)/N_real, d_fake = s_fake/N_fake.
    G: L = 0.5*mean((s_fake - 1)²); d_fake = (s_fake - 1)/N.
    Shapes: scores (N,) or (N, 1); gradients match.
    Derivation: docs/derivations.md, "lsgan (least squares, a = 0, b = 1, c = 1)". Tests: tests/test_losses.py.
    """

    name = "lsgan"

    def _d_real(self, s):
        r = s - 1.0
        return half_mean_square(r), r / s.shape[0]

    def _d_fake(self, s):
        return half_mean_square(s), s / s.shape[0]

    _g = _d_real


class Hinge(GANLoss):
    """Hinge loss (step 6).

    D: L = mean(relu(1 - s_real)) + mean(relu(1 + s_fake));
       d_real = -[s_real < 1]/N_real, d_fake = [s_fake > -1]/N_fake.
    G: L = -mean(s_fake); d_fake = -1/N.
    Shapes: scores (N,) or (N, 1); gradients match.
    Derivation: docs/derivations.md, "hinge". Tests: tests/test_losses.py.
    """

    name = "hinge"

    def _d_real(self, s):
        xp, N = backend.xp_of(s), s.shape[0]
        return mean(xp.maximum(1.0 - s, 0.0)), (s < 1.0).astype(s.dtype) * (-1.0 / N)

    def _d_fake(self, s):
        xp, N = backend.xp_of(s), s.shape[0]
        return mean(xp.maximum(1.0 + s, 0.0)), (s > -1.0).astype(s.dtype) * (1.0 / N)

    def _g(self, s):
        return -mean(s), backend.xp_of(s).full_like(s, -1.0 / s.shape[0])


class Wasserstein(GANLoss):
    """Wasserstein GAN, critic and generator (step 7). Needs a Lipschitz constraint: use weight clipping.

    D (critic): L = mean(s_fake) - mean(s_real); d_real = -1/N_real, d_fake = 1/N_fake.
    G: L = -mean(s_fake); d_fake = -1/N.
    Shapes: scores (N,) or (N, 1); gradients match.
    Derivation: docs/derivations.md, "wasserstein". Tests: tests/test_losses.py.
    """

    name = "wasserstein"
    needs_lipschitz = True

    def _d_real(self, s):
        return -mean(s), backend.xp_of(s).full_like(s, -1.0 / s.shape[0])

    def _d_fake(self, s):
        return mean(s), backend.xp_of(s).full_like(s, 1.0 / s.shape[0])

    _g = _d_real


def log_softmax(s):
    """log softmax(s) over the last axis = s - logsumexp(s), overflow-free (step 8). Shapes: any -> same."""
    xp = backend.xp_of(s)
    m = s.max(axis=-1, keepdims=True)
    return s - (m + xp.log(xp.exp(s - m).sum(axis=-1, keepdims=True)))


def softmax_cross_entropy(logits, labels):
    """Classification loss L = mean_i(-log softmax(s_i)[y_i]) on logits s (step 8 of the module docstring).

    Gradient: dL/ds = (softmax(s) - onehot(y)) / N.
    Shapes: logits (N, K) floating point, labels (N,) ints in [0, K) -> L float, ds (N, K).
    Derivation: docs/derivations.md, "Softmax cross-entropy (the evaluator's loss)". Tests: tests/test_losses.py.
    """
    xp = backend.xp_of(logits)
    if not hasattr(logits, "dtype") or logits.dtype.kind != "f" or logits.ndim != 2 or len(logits) == 0:
        raise ValueError(f"softmax_cross_entropy: logits must be a float array (N, K) with N >= 1, "
                         f"got {getattr(logits, 'shape', type(logits).__name__)}")
    labels = xp.asarray(labels)
    if labels.shape != (len(logits),) or labels.dtype.kind not in "iu":
        raise ValueError(f"softmax_cross_entropy: labels must be ints of shape ({len(logits)},), "
                         f"got {labels.dtype} {labels.shape}")
    if int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]:
        raise ValueError(f"softmax_cross_entropy: labels must be in [0, {logits.shape[1]}), "
                         f"got {int(labels.min())}..{int(labels.max())}")
    N, rows = len(logits), xp.arange(len(logits))
    log_p = log_softmax(logits)
    loss = float(-log_p[rows, labels].mean())
    ds = xp.exp(log_p)
    ds[rows, labels] -= 1.0
    return loss, ds / N


_CLASSES = {cls.name: cls for cls in (Minimax, NonSaturating, LSGAN, Hinge, Wasserstein)}
SIGMOID_NAMES = tuple(name for name, cls in _CLASSES.items() if issubclass(cls, _SigmoidLoss))
"""The losses that read scores as logits (and take ``real_label``): minimax, nonsaturating."""


def get(name, **options):
    """The loss object called ``name`` (one of ``NAMES``), e.g. ``get("nonsaturating", real_label=0.9)``.

    ``real_label`` applies to the sigmoid losses (minimax, nonsaturating) only.
    """
    if name not in _CLASSES:
        raise ValueError(f"losses.get: name must be one of {NAMES}, got {name!r}")
    try:
        return _CLASSES[name](**options)
    except TypeError as error:
        raise TypeError(f"losses.get({name!r}): {error}") from error
