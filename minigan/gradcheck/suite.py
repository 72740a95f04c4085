"""The gradient-check suite: every layer, every GAN loss and the whole game, printed as a table.

Run it with ``python -m minigan.gradcheck`` (or ``minigan gradcheck``). It is how a
student sees each backward pass proven: one row per checked array with its worst
normwise relative error between the hand-written and the finite-difference gradient.
The rows after the losses prove the second-order pieces of gradient penalties: each layer's
forward tangent (``check_tangent``) and a penalty's weight gradient through a dense and a
convolutional critic, center 0 (R1) and 1 (WGAN-GP) (``check_penalty``). The last rows check the
game itself (``check_game``): for each model, narrowed, and each loss, D's gradient over a real
and a fake batch and G's gradient through D, computed by the trainer's own functions, then D
with its gradient penalty (wgan-gp, R1), then the conditional game (labelled real and fake batches;
and with R1); each such row sums up all of that player's parameter arrays. The conditional layers'
rows (Embedding, ConcatEmbedding, Projection) use labels with one repeated and one absent.
"""
import argparse
import copy
import functools
import sys
import time

import numpy as np

from .. import backend, losses, nn
from ..gan import models, penalties
from . import check_function, check_game, check_layer, check_loss, check_penalty, check_tangent

TOLERANCE = 1e-6
LABELS = np.array([2, 0, 2, 3])          # the conditional layers' labels: 2 repeated, 1 absent (of 4 classes)


def away_from_zero(rng, shape, margin=0.05):
    """Random values with |x| >= margin, so piecewise-linear layers are checked away from their kink."""
    u = rng.standard_normal(shape)
    return np.sign(u) * (margin + np.abs(u))


def randomize(layer, rng):
    """Give BatchNorm layers non-trivial gamma, beta and running statistics (the defaults hide bugs)."""
    for _, sub in layer.named_layers():
        if isinstance(sub, (nn.BatchNorm1d, nn.BatchNorm2d)):
            C = sub.num_features
            sub.gamma.data = backend.asarray(1.0 + 0.5 * rng.standard_normal(C), sub.gamma.dtype)
            sub.beta.data = backend.asarray(rng.standard_normal(C), sub.beta.dtype)
            sub.running_mean = backend.asarray(rng.standard_normal(C), sub.running_mean.dtype)
            sub.running_var = backend.asarray(rng.uniform(0.5, 2.0, C), sub.running_var.dtype)
    return layer


def cases(seed=0):
    """(label, layer, x) triples covering every layer type; small enough for per-element checks."""
    rng = np.random.default_rng(seed)

    def x_of(*shape):
        return backend.asarray(away_from_zero(rng, shape), "float64")

    def bn(layer, training):
        return randomize(layer, rng).train(training)

    return [
        ("Dense(4, 3)", nn.Dense(4, 3, init="torch", rng=rng), x_of(3, 4)),
        ("Conv2d(2, 3, k=3, s=1, p=1)", nn.Conv2d(2, 3, 3, 1, 1, init="torch", rng=rng), x_of(2, 2, 5, 5)),
        ("Conv2d(1, 2, k=4, s=2, p=1)", nn.Conv2d(1, 2, 4, 2, 1, init="torch", rng=rng), x_of(2, 1, 6, 7)),
        ("Conv2d(2, 2, k=2, s=3, p=2)", nn.Conv2d(2, 2, 2, 3, 2, init="torch", rng=rng), x_of(1, 2, 5, 4)),
        ("ConvTranspose2d(2, 3, k=3, s=1, p=1)", nn.ConvTranspose2d(2, 3, 3, 1, 1, init="torch", rng=rng),
         x_of(2, 2, 4, 4)),
        ("ConvTranspose2d(3, 1, k=4, s=2, p=1)", nn.ConvTranspose2d(3, 1, 4, 2, 1, init="torch", rng=rng),
         x_of(2, 3, 3, 4)),
        ("ConvTranspose2d(2, 2, k=2, s=3, p=0)", nn.ConvTranspose2d(2, 2, 2, 3, 0, init="torch", rng=rng),
         x_of(1, 2, 3, 2)),
        ("BatchNorm1d(4), train", bn(nn.BatchNorm1d(4), True), x_of(5, 4)),
        ("BatchNorm1d(4), eval", bn(nn.BatchNorm1d(4), False), x_of(5, 4)),
        ("BatchNorm2d(2), train", bn(nn.BatchNorm2d(2), True), x_of(3, 2, 3, 4)),
        ("BatchNorm2d(2), eval", bn(nn.BatchNorm2d(2), False), x_of(3, 2, 3, 4)),
        ("LeakyReLU(0.2)", nn.LeakyReLU(0.2), x_of(3, 2, 3, 3)),
        ("ReLU()", nn.ReLU(), x_of(3, 5)),
        ("Sigmoid()", nn.Sigmoid(), x_of(3, 5)),
        ("Tanh()", nn.Tanh(), x_of(3, 2, 2, 2)),
        ("Flatten()", nn.Flatten(), x_of(2, 3, 2, 2)),
        *[(f"Augment({op}), one draw", nn.Augment((op,), rng=rng).fix((3, 2, 9, 8)), x_of(3, 2, 9, 8))
          for op in nn.augment.OPERATIONS],
        ("Augment(all, p=0.5), one draw", nn.Augment(rng=rng, p=0.5).fix((6, 2, 9, 8)), x_of(6, 2, 9, 8)),
        ("SpectralNorm(Dense(4, 3)), eval", nn.SpectralNorm(nn.Dense(4, 3, init="torch", rng=rng), rng=rng).eval(),
         x_of(3, 4)),
        ("SpectralNorm(Conv2d(2, 3, k=3, s=2, p=1)), eval",
         nn.SpectralNorm(nn.Conv2d(2, 3, 3, 2, 1, init="torch", rng=rng), rng=rng).eval(), x_of(2, 2, 5, 5)),
        ("SpectralNorm(ConvTranspose2d(2, 3, k=4, s=2, p=1)), eval",
         nn.SpectralNorm(nn.ConvTranspose2d(2, 3, 4, 2, 1, init="torch", rng=rng), rng=rng).eval(), x_of(2, 2, 3, 3)),
        ("Reshape(2, 3, 2)", nn.Reshape(2, 3, 2), x_of(2, 12)),
        ("ConcatEmbedding(3, 4, 2), a label repeated", nn.ConcatEmbedding(3, 4, 2, rng=rng).given(LABELS), x_of(4, 3)),
        ("Projection(5, 4), a label repeated", nn.Projection(5, 4, init="torch", rng=rng).given(LABELS), x_of(4, 5)),
        ("Sequential: small generator", bn(nn.Sequential(
            nn.Dense(3, 2 * 3 * 3, init="torch", rng=rng), nn.BatchNorm1d(18), nn.LeakyReLU(0.2),
            nn.Reshape(2, 3, 3), nn.ConvTranspose2d(2, 2, 4, 2, 1, init="torch", rng=rng),
            nn.BatchNorm2d(2), nn.ReLU(), nn.ConvTranspose2d(2, 1, 3, 1, 1, init="torch", rng=rng),
            nn.Tanh()), True), x_of(4, 3)),
        ("Sequential: small discriminator", bn(nn.Sequential(
            nn.Conv2d(1, 2, 4, 2, 1, init="torch", rng=rng), nn.LeakyReLU(0.2),
            nn.Conv2d(2, 3, 3, 2, 1, init="torch", rng=rng), nn.BatchNorm2d(3), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Dense(3 * 2 * 2, 1, init="torch", rng=rng), nn.Sigmoid()), True), x_of(3, 1, 7, 7)),
    ]


def tangent_cases(seed=0):
    """(label, layer, x) for every layer that may sit in a penalised critic (those with a ``tangent``)."""
    return [(label, layer, x) for label, layer, x in cases(seed)
            if getattr(type(layer), "tangent", None) is not None and not isinstance(layer, nn.Sequential)]


def penalty_cases(seed=0):
    """(label, D, x, weight, center): a dense and a convolutional critic, center 0 (R1) and 1 (WGAN-GP)."""
    rng = np.random.default_rng(seed)
    dense = nn.Sequential(nn.Flatten(), nn.Dense(12, 5, init="torch", rng=rng), nn.LeakyReLU(0.2),
                          nn.Dense(5, 4, init="torch", rng=rng), nn.ReLU(), nn.Dense(4, 1, init="torch", rng=rng))
    conv = nn.Sequential(nn.Conv2d(1, 2, 3, 2, 1, init="torch", rng=rng), nn.LeakyReLU(0.2),
                         nn.Conv2d(2, 3, 3, 1, 1, init="torch", rng=rng), nn.LeakyReLU(0.2),
                         nn.Flatten(), nn.Dense(27, 1, init="torch", rng=rng))
    conditional = nn.Sequential(nn.Flatten(), nn.Dense(12, 5, init="torch", rng=rng), nn.LeakyReLU(0.2),
                                nn.Projection(5, 4, init="torch", rng=rng)).given(backend.asarray(LABELS))
    result = []
    for name, D, shape in (("dense critic", dense, (3, 1, 3, 4)), ("conv critic", conv, (3, 1, 5, 5)),
                           ("conditional critic", conditional, (len(LABELS), 1, 3, 4))):
        x = backend.asarray(rng.standard_normal(shape), "float64")
        for weight, center in ((5.0, 0.0), (10.0, 1.0)):
            result.append((f"penalty {name}, center {center:g}", D, x, weight, center))
    return result


def embedding_check(seed=0):
    """The Embedding's row: dE against central differences of sum(E[labels] * de), labels as ``LABELS``.

    Its input is integers, which no finite difference can move, so the check is on E alone.
    """
    rng = np.random.default_rng(seed)
    embedding = nn.Embedding(4, 3, rng=rng, dtype="float64")
    labels = backend.asarray(LABELS)
    de = backend.asarray(rng.standard_normal((len(LABELS), 3)))

    def f(E):
        embedding.E.data = E
        embedding.zero_grad()
        e = embedding(labels)
        embedding.backward(de)
        return float((e * de).sum()), embedding.E.grad.copy()

    return check_function(f, embedding.E.data, "Embedding(4, 3)", name="E")


def loss_cases(seed=0):
    """(label, loss, real_scores, fake_scores) for every GAN loss, scores kept off the hinge kinks."""
    rng = np.random.default_rng(seed)
    result = []
    for name in losses.NAMES:
        for kwargs in ([{}, {"real_label": 0.9}] if name in losses.SIGMOID_NAMES else [{}]):
            loss = losses.get(name, **kwargs)
            real, fake = (2.0 * rng.standard_normal((4, 1)) for _ in range(2))
            real[np.abs(np.abs(real) - 1.0) < 0.05] += 0.2
            fake[np.abs(np.abs(fake) - 1.0) < 0.05] += 0.2
            result.append((f"loss {loss!r}", loss, backend.asarray(real), backend.asarray(fake)))
    return result


def classifier_loss_cases(seed=0):
    """(label, f, logits) for the evaluator classifier's softmax cross-entropy, labels bound into f."""
    rng = np.random.default_rng(seed)
    logits = backend.asarray(3.0 * rng.standard_normal((5, 4)))
    labels = backend.asarray(rng.integers(0, 4, size=5))
    return [("loss softmax_cross_entropy", lambda s: losses.softmax_cross_entropy(s, labels), logits)]


def game_cases(seed=0, width=4, z_dim=4, N=3, margin=2e-5):
    """(model, loss, G, D, real, z) for both models, narrowed to ``width``, and every GAN loss.

    Finite differences are only valid where the function is smooth, so real and z are redrawn
    until every LeakyReLU input in G(z), D(real) and D(G(z)) and every score is at least
    ``margin`` away from a kink (0 for LeakyReLU, ±1 for the hinge loss).
    """
    rng = np.random.default_rng(seed)
    result = []
    for model in models.MODELS:
        for name in losses.NAMES:
            G, D = models.build(model, z_dim=z_dim, rng=rng, width=width)
            real, z = _smooth_point(rng, G, D, N, z_dim, margin)
            result.append((model, losses.get(name), G, D, real, z))
    return result


def penalty_game_cases(seed=0, width=4, z_dim=4, N=3, margin=2e-5):
    """(model, label, loss, penalty, G, D, real, z): both models with a BatchNorm-free D, each with
    wgan-gp (wasserstein and the interpolates' term) and R1 (nonsaturating and the real images' term).

    The interpolates are those ``check_game`` draws (from ``seed``), and their LeakyReLU inputs too
    are kept ``margin`` away from the kink.
    """
    rng = np.random.default_rng(seed)
    result = []
    for model in models.MODELS:
        for label, name, term in (("wgan-gp", "wasserstein", penalties.wgan_gp(10.0)),
                                  ("r1", "nonsaturating", penalties.r1(10.0))):
            G, D = models.build(model, z_dim=z_dim, rng=rng, width=width, d_norm=False)
            real, z = _smooth_point(rng, G, D, N, z_dim, margin,
                                    point=lambda real, fake, term=term: term.point(real, fake, np.random.default_rng(seed)))
            result.append((model, label, losses.get(name), term, G, D, real, z))
    return result


def conditional_game_cases(seed=0, width=4, z_dim=4, N=3, margin=2e-5):
    """(model, label, loss, penalties, G, D, real, z, labels): both models conditional on 4 classes, with
    the nonsaturating loss, plain and with R1; labels = (y_real, y_fake) with a label repeated in each."""
    rng = np.random.default_rng(seed)
    labels = backend.asarray(LABELS[:N]), backend.asarray(LABELS[::-1][:N])
    result = []
    for model in models.MODELS:
        for label, terms in (("conditional", ()), ("conditional r1", (penalties.r1(10.0),))):
            G, D = models.build(model, z_dim=z_dim, rng=rng, width=width, d_norm=not terms, num_classes=4)
            real, z = _smooth_point(rng, G, D, N, z_dim, margin, labels=labels)
            result.append((model, label, losses.get("nonsaturating"), terms, G, D, real, z, labels))
    return result


def _smooth_point(rng, G, D, N, z_dim, margin, point=None, labels=(None, None), tries=100):
    """(real, z) drawn from ``rng``: the first of ``tries`` draws whose kinks are all ``margin`` away
    (``_distance_to_kinks``, with the penalty's ``point(real, fake)`` when given), else the farthest one."""
    G, D = copy.deepcopy(G).astype("float64").given(labels[1]), copy.deepcopy(D).astype("float64")
    best, farthest = None, -1.0
    for _ in range(tries):
        real = backend.asarray(rng.uniform(0.0, 1.0, (N, 1, 28, 28)), "float64")
        z = backend.asarray(rng.standard_normal((N, z_dim)), "float64")
        where = None if point is None else point(real, G(z))
        distance = min(_distance_to_kinks(G, D, real, z, where, labels), 1.0)
        if distance > farthest:
            best, farthest = (real, z), distance
        if distance >= margin:
            break
    return best


def _distance_to_kinks(G, D, real, z, point=None, labels=(None, None)):
    """The smallest |input| of any LeakyReLU in G(z), D(real), D(G(z)) (and D(point)), and of any score ∓ 1.

    G and D are float64 copies of the case's networks (their BatchNorm statistics move here).
    """
    distance = np.inf

    def run(network, x):
        nonlocal distance
        for layer in network:
            if isinstance(layer, nn.LeakyReLU):
                distance = min(distance, float(abs(x).min()))
            x = layer(x)
        return x

    for scores in (run(D.given(labels[0]), real), run(D.given(labels[1]), run(G, z))):
        distance = min(distance, float(abs(abs(scores) - 1.0).min()))
    if point is not None:
        run(D.given(labels[0]), point)
    return distance


def _checks(seed):
    """(label, check) pairs; each check returns [(array, relative error)] or raises AssertionError."""
    checks = [(label, lambda layer=layer, x=x: check_layer(layer.astype("float64"), x, seed=seed).items())
              for label, layer, x in cases(seed)]
    checks += [(label, lambda loss=loss, r=r, f=f: check_loss(loss, r, f).items())
               for label, loss, r, f in loss_cases(seed)]
    checks += [(label, lambda f=f, s=s: check_function(f, s, label, name="logits").items())
               for label, f, s in classifier_loss_cases(seed)]
    checks.append(("Embedding(4, 3), a label repeated", lambda: embedding_check(seed).items()))
    checks += [(f"tangent {label}", lambda layer=layer, x=x: check_tangent(layer, x, seed=seed).items())
               for label, layer, x in tangent_cases(seed)]
    checks += [(label, lambda D=D, x=x, w=w, c=c: check_penalty(D, x, w, c).items())
               for label, D, x, w, c in penalty_cases(seed)]
    for model, loss, G, D, real, z in game_cases(seed):
        both = functools.cache(functools.partial(check_game, G, D, loss, real, z, seed=seed))   # one check, two rows
        for player, name in (("D", "D on real and fake"), ("G", "G through D")):
            checks.append((f"GAN {model} {loss.name}: {name}", lambda player=player, both=both: _summary(both()[player])))
    for model, label, loss, term, G, D, real, z in penalty_game_cases(seed):
        check = functools.partial(check_game, G, D, loss, real, z, seed=seed, penalties=(term,))
        checks.append((f"GAN {model} {label}: D with its penalty", lambda check=check: _summary(check()["D"])))
    for model, label, loss, terms, G, D, real, z, labels in conditional_game_cases(seed):
        both = functools.cache(functools.partial(check_game, G, D, loss, real, z, seed=seed, penalties=terms,
                                                 labels=labels))
        rows = (("D", "D with its penalty"),) if terms else (("D", "D on real and fake"), ("G", "G through D"))
        for player, name in rows:
            checks.append((f"GAN {model} {label}: {name}", lambda player=player, both=both: _summary(both()[player])))
    return checks


def _summary(errors):
    """One row for many arrays: ("<n> arrays, worst <name>", the worst error)."""
    worst = max(errors, key=errors.get)
    return [(f"{len(errors)} arrays, worst {worst}", errors[worst])]


def run_suite(seed=0, out=sys.stdout):
    """Check every layer, loss and player, print a table to ``out`` and return the number of failed rows."""
    rows, failures = [], 0
    for label, check in _checks(seed):
        try:
            results = list(check())
            rows += [(label, name, f"{err:.1e}", "pass" if err < TOLERANCE else "FAIL") for name, err in results]
            failures += sum(err >= TOLERANCE for _, err in results)
        except AssertionError as error:
            rows.append((label, "-", "-", f"FAIL: {error}"))
            failures += 1
    header = ("layer, loss or player", "array", "max rel error", "result")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(3)]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " | " + header[3]
    print(line, file=out)
    print("-" * len(line), file=out)
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " | " + row[3], file=out)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m minigan.gradcheck",
        description="Check every layer's hand-written backward pass and every GAN loss's gradient "
                    "against central finite differences "
                    f"(float64, random upstream gradient); an array passes below {TOLERANCE:g} relative error.")
    parser.add_argument("--seed", type=int, default=0, help="seed for inputs, weights and dy (default 0)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    failures = run_suite(args.seed)
    verdict = "all gradients match" if failures == 0 else f"{failures} array(s) FAILED"
    print(f"\n{verdict} ({time.perf_counter() - start:.1f} s, backend {backend.get_backend()})")
    return 1 if failures else 0
