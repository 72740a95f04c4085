"""Pictures of a run: sample grids (PNG), their animation over training (GIF), and loss curves (PNG).

Grids and GIFs are written with Pillow; the curves with matplotlib (imported only when drawn).
"""
import math

import numpy as np

from .. import backend
from ..data.formats import write_beside
from ..gan import penalties


def image_grid(images, nrow=None, pad=2, scale=2, value_range=(0.0, 1.0)):
    """Tile images (N, 1, H, W) or (N, H, W) into one uint8 picture, ``nrow`` per row (default: a square).

    Values are mapped from ``value_range`` to 0..255; ``pad`` pixels of white separate the tiles and
    ``scale`` enlarges each pixel. Shapes: returns (rows*(H+pad)+pad, nrow*(W+pad)+pad) times scale.
    """
    x = backend.to_numpy(images).astype(np.float32)
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"image_grid: images must be (N, 1, H, W) or (N, H, W), got {x.shape}")
        x = x[:, 0]
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"image_grid: images must be (N, 1, H, W) or (N, H, W) with N >= 1, got {x.shape}")
    lo, hi = value_range
    x = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    N, H, W = x.shape
    nrow = nrow or math.ceil(math.sqrt(N))
    rows = math.ceil(N / nrow)
    grid = np.ones((rows * (H + pad) + pad, nrow * (W + pad) + pad), dtype=np.float32)
    for k in range(N):
        r, c = divmod(k, nrow)
        grid[pad + r * (H + pad):pad + r * (H + pad) + H, pad + c * (W + pad):pad + c * (W + pad) + W] = x[k]
    grid = np.kron(grid, np.ones((scale, scale), dtype=np.float32)) if scale > 1 else grid
    return (255.0 * grid + 0.5).astype(np.uint8)


def save_png(picture, path):
    """Write a uint8 (H, W) picture as a greyscale PNG (whole or not at all: ``formats.write_beside``)."""
    from PIL import Image
    write_beside(path, lambda f: Image.fromarray(picture, mode="L").save(f, format="PNG"))


def load_png(path):
    """Read a PNG back as a uint8 greyscale (H, W) array."""
    from PIL import Image
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def save_gif(pictures, path, duration_ms=400):
    """Write uint8 pictures of one size as an animated GIF that loops, the last frame held longer."""
    from PIL import Image
    if not pictures:
        raise ValueError("save_gif: no pictures")
    frames = [Image.fromarray(p, mode="L") for p in pictures]
    durations = [duration_ms] * (len(frames) - 1) + [4 * duration_ms]
    write_beside(path, lambda f: frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:],
                                                duration=durations, loop=0))


def _smooth(values, window):
    values = np.asarray(values, dtype=np.float64)
    if len(values) < window or window < 2:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_curves(records, path, output_labels=("D(x)", "D(G(z))"), kinds="digits"):
    """Draw loss_D and loss_G, D's mean output on real and fake batches, and both players' gradient
    norms, against the step.

    ``records`` are the metrics-log dicts (keys step, loss_d, loss_g, d_real, d_fake, grad_norm_d,
    grad_norm_g); a record
    without loss_g (a D-only step) adds to the D curves only. Curves are smoothed over a window of
    about 1/50 of the run. Draws on its own ``matplotlib.figure.Figure``: the caller's pyplot
    state and backend are left alone. Records with gradient penalties (gp, r1, r2) add a panel of
    each penalty and the critic's mean input-gradient norm where it is taken; records with a fid
    add a panel of FID and the ``kinds`` covered ("digits", or "classes" for a classifier of other
    data) after each epoch.
    """
    from matplotlib.figure import Figure

    scores = [r for r in records if r.get("fid") is not None]
    records = [r for r in records if r.get("loss_d") is not None]
    if not records:
        raise ValueError("plot_curves: no records with a loss_d")
    terms = [name for name in penalties.TERMS if any(name in r for r in records)]
    norms = any(r.get("grad_norm_d") is not None for r in records)
    panels = 2 + norms + bool(terms) + bool(scores)
    fig = Figure(figsize=(5.5 * panels, 4))
    axes = list(fig.subplots(1, panels))
    ax_loss, ax_d = axes[0], axes[1]
    ax_norm = axes[2] if norms else None
    ax_terms = axes[2 + norms] if terms else None
    curves = [(ax_loss, "loss_d", "loss_D"), (ax_loss, "loss_g", "loss_G"),
              (ax_d, "d_real", output_labels[0]), (ax_d, "d_fake", output_labels[1])]
    if norms:
        curves += [(ax_norm, "grad_norm_d", "‖∇θ_D L_D‖"), (ax_norm, "grad_norm_g", "‖∇θ_G L_G‖")]
    for name in terms:
        curves += [(ax_terms, name, f"{name} penalty"), (ax_terms, f"{name}_norm", f"‖∇D(x)‖ at {penalties.TERMS[name]}")]
    for ax, key, label in curves:
        points = [(r["step"], r[key]) for r in records if r.get(key) is not None]
        if points:
            step, values = np.array(points, dtype=np.float64).T
            smooth = _smooth(values, max(1, len(values) // 50))
            ax.plot(step[len(step) - len(smooth):], smooth, label=label)
    ax_loss.set(title="losses", xlabel="step")
    ax_d.set(title="discriminator output on real and fake batches", xlabel="step")
    if norms:
        ax_norm.set(title="gradient norms (all parameters)", xlabel="step", yscale="log")
    if terms:
        ax_terms.set(title="gradient penalties", xlabel="step")
    for ax in axes[:2 + norms + bool(terms)]:
        ax.grid(alpha=0.3)
        ax.legend()
    if scores:
        _plot_scores(axes[-1], scores, kinds)
    fig.tight_layout()
    write_beside(path, lambda f: fig.savefig(f, format="png", dpi=100))


def _plot_scores(ax, scores, kinds):
    """FID (left axis, log scale) and the number of ``kinds`` covered (right axis) after each epoch."""
    step = [r["step"] for r in scores]
    ax.plot(step, [r["fid"] for r in scores], "o-", color="C0", label="FID")
    ax.set(title="scores after each epoch", xlabel="step", ylabel="FID (lower is better)", yscale="log")
    ax.grid(alpha=0.3)
    right = ax.twinx()
    right.plot(step, [r["coverage"] for r in scores], "s--", color="C3", label=f"{kinds} covered")
    right.set(ylabel=f"{kinds} covered (of 10)", ylim=(0, 10.5))
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
