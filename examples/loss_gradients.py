"""How hard does each GAN loss push the generator? The classic figure, from minigan's own gradients.

    python examples/loss_gradients.py                    # writes loss_gradients.png, prints a table
    python examples/loss_gradients.py --out docs/loss_gradients.png

Top row: the two sigmoid generator losses against D(G(z)) = sigma(s_fake), the probability
D gives a fake of being real. Early in training D wins, D(G(z)) is near 0, and there the
minimax ("saturating") loss is flat: its gradient sigma(s) vanishes, so G stops learning
just when it is worst. The non-saturating loss has the same fixed point but a gradient
near 1 there. Bottom row: every loss against the raw score s_fake, including the ones that
use no sigmoid (lsgan, hinge, wasserstein).

Every number comes from ``mg.losses.get(name).g_loss`` on one score at a time (N = 1), so the
curves are the library's hand-written gradients, not re-derived formulas.
"""
import argparse

import numpy as np

import minigan as mg


def generator_curves(scores):
    """{loss name: (G loss, dL_G/ds)} for each score, one sample at a time (N = 1)."""
    curves = {}
    for name in mg.losses.NAMES:
        loss = mg.losses.get(name)
        values, grads = zip(*((v, float(d[0])) for v, d in (loss.g_loss(np.array([s])) for s in scores)))
        curves[name] = (np.array(values), np.array(grads))
    return curves


def print_table(probabilities):
    """The generator's gradient size at a few values of D(G(z)) for the two sigmoid losses."""
    scores = np.log(probabilities) - np.log1p(-probabilities)      # logit: sigma(s) = p
    curves = generator_curves(scores)
    print("| D(G(z)) | minimax |dL/ds| | nonsaturating |dL/ds| |")
    print("|---|---|---|")
    for p, mm, ns in zip(probabilities, curves["minimax"][1], curves["nonsaturating"][1]):
        print(f"| {p:g} | {abs(mm):.3g} | {abs(ns):.3g} |")


def draw(out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = np.linspace(1e-3, 1 - 1e-3, 400)
    sigmoid_curves = generator_curves(np.log(p) - np.log1p(-p))
    s = np.linspace(-6.0, 6.0, 400)
    score_curves = generator_curves(s)

    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    for name, style in [("minimax", "-"), ("nonsaturating", "--")]:
        value, grad = sigmoid_curves[name]
        axes[0, 0].plot(p, value, style, label=name)
        axes[0, 1].semilogy(p, np.abs(grad), style, label=name)
    axes[0, 0].set(title="generator loss", xlabel="D(G(z))", ylabel="L_G")
    axes[0, 1].set(title="generator gradient |dL_G / ds|", xlabel="D(G(z))", ylabel="|dL_G/ds| (N = 1)")
    for name in mg.losses.NAMES:
        value, grad = score_curves[name]
        style = dict(linestyle=":", linewidth=3) if name == "hinge" else {}   # G's hinge loss = wasserstein's
        axes[1, 0].plot(s, value, label=name, **style)
        axes[1, 1].plot(s, np.abs(grad), label=name, **style)
    axes[1, 0].set(title="generator loss against the raw score", xlabel="s_fake (D's score of a fake)",
                   ylabel="L_G", ylim=(-7, 12))
    axes[1, 1].set(title="|dL_G / ds| against the raw score", xlabel="s_fake", ylabel="|dL_G/ds|",
                   ylim=(0, 3))
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("minigan: how hard each loss pushes the generator (D(G(z)) near 0 = G is losing)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Draw each GAN loss's generator gradient against D(G(z)).")
    parser.add_argument("--out", default="loss_gradients.png", help="PNG to write (default loss_gradients.png)")
    args = parser.parse_args(argv)
    print_table(np.array([0.5, 0.1, 0.01, 1e-3, 1e-6]))
    draw(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
