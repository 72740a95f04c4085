"""A tuning study: every GAN loss over a grid of learning rates, beta1 and D steps, each over several seeds.

GAN results depend on hyperparameters as much as on the loss, and the spread over seeds is large
("Are GANs Created Equal?", Lucic et al. 2018): with enough tuning most losses reach similar
scores, and none beats the non-saturating loss consistently. So a fair comparison gives every
loss the same tuning budget (the same grid) and reports the spread over seeds, not one run.

``run_sweep(grid)`` trains one run per (setting, seed) into ``out/<setting>-seed<k>``, scores
each final generator with ``metrics.Reference`` (FID, coverage, ...), marks runs that diverged
(``TrainingDiverged``) or collapsed (fewer than ``COLLAPSED_BELOW`` digits covered), and writes
``sweep.csv`` (one row per run), ``sweep.md`` (one row per setting: the median and range over
seeds) and ``sweep.png`` (a heatmap of the median FID and the digits covered).
"""
import csv
import dataclasses
import itertools
import math
import pathlib
import statistics
import time

from . import metrics
from .config import TrainConfig
from .errors import ConfigError, TrainingDiverged
from .sampling import generate

COLLAPSED_BELOW = 8
COLUMNS = ("loss", "lr", "beta1", "d_steps", "seed", "status", "fid", "score", "coverage", "missing",
           "precision", "recall", "seconds")


@dataclasses.dataclass
class Grid:
    """The settings of a study; every combination runs once per seed. lr is both networks' learning rate."""

    losses: tuple = ("minimax", "nonsaturating", "lsgan", "hinge", "wasserstein")
    lrs: tuple = (2e-4, 1e-3)
    beta1s: tuple = (0.5, 0.9)
    d_steps: tuple = (1,)
    seeds: int = 2
    model: str = "mlp"
    epochs: int = 8
    batch_size: int = 32
    limit: int = None

    def settings(self):
        """(loss, lr, beta1, d_steps) for every cell of the grid, in a fixed order."""
        return list(itertools.product(self.losses, self.lrs, self.beta1s, self.d_steps))

    def config(self, loss, lr, beta1, d_steps, seed, out):
        return TrainConfig(model=self.model, loss=loss, lr_g=lr, lr_d=lr, beta1=beta1, d_steps=d_steps, seed=seed,
                           epochs=self.epochs, batch_size=self.batch_size, limit=self.limit, out=str(out),
                           eval_n=0, keep_snapshots=0, log_every=10 ** 9).validate()


QUICK = Grid(lrs=(1e-3,), beta1s=(0.5,), epochs=4)


def _name(loss, lr, beta1, d_steps):
    return f"{loss}-lr{lr:g}-b{beta1:g}-d{d_steps}"


def run_one(grid, setting, seed, out, reference, backend="numpy"):
    """Train and score one run; returns its CSV row (a dict)."""
    from .train import train
    loss, lr, beta1, d_steps = setting
    config = dataclasses.replace(grid.config(loss, lr, beta1, d_steps, seed, out), backend=backend)
    row = dict(loss=loss, lr=lr, beta1=beta1, d_steps=d_steps, seed=seed)
    start = time.perf_counter()
    try:
        result = train(config, overwrite=True, log=lambda *_: None)
    except TrainingDiverged:
        return dict(row, status="diverged", seconds=time.perf_counter() - start)
    scores = reference.evaluate(generate(result["checkpoint"], metrics.N_DEFAULT, seed=0))
    status = "collapsed" if scores["coverage"] < COLLAPSED_BELOW else "ok"
    return dict(row, status=status, seconds=time.perf_counter() - start, missing=" ".join(map(str, scores["missing"])),
                **{k: scores[k] for k in ("fid", "score", "coverage", "precision", "recall")})


def run_sweep(grid, out, backend="numpy", log=print):
    """Run the whole grid into ``out``; writes sweep.csv, sweep.md and sweep.png there and returns the rows."""
    if not isinstance(grid.seeds, int) or grid.seeds < 1:
        raise ConfigError("seeds", f"must be a positive int, got {grid.seeds!r}", owner="sweep")
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    reference, rows = metrics.Reference(), []
    settings = grid.settings()
    total = len(settings) * grid.seeds
    for i, (setting, seed) in enumerate(itertools.product(settings, range(grid.seeds)), 1):
        row = run_one(grid, setting, seed, out / f"{_name(*setting)}-seed{seed}", reference, backend)
        rows.append(row)
        fid = f"FID {row['fid']:.1f}, {row['coverage']}/10 digits" if "fid" in row else "no score"
        log(f"run {i}/{total}: {_name(*setting)} seed {seed}: {row['status']}, {fid} ({row['seconds']:.0f} s)")
        write_csv(rows, out / "sweep.csv")
    (out / "sweep.md").write_text(markdown(rows, grid))
    heatmap(rows, grid, out / "sweep.png")
    return rows


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows({k: _cell(row.get(k)) for k in COLUMNS} for row in rows)


def _cell(value):
    return f"{value:.6g}" if isinstance(value, float) else ("" if value is None else value)


def summarise(rows):
    """{setting: {"fid": median, "fid_range": (lo, hi), "coverage": median, "ok", "collapsed", "diverged"}}."""
    groups = {}
    for row in rows:
        groups.setdefault((row["loss"], row["lr"], row["beta1"], row["d_steps"]), []).append(row)
    summary = {}
    for setting, group in groups.items():
        fids = [r["fid"] for r in group if "fid" in r]
        summary[setting] = {
            "fid": statistics.median(fids) if fids else math.nan,
            "fid_range": (min(fids), max(fids)) if fids else (math.nan, math.nan),
            "coverage": statistics.median([r["coverage"] for r in group if "coverage" in r] or [0]),
            **{status: sum(r["status"] == status for r in group) for status in ("ok", "collapsed", "diverged")}}
    return summary


def markdown(rows, grid):
    """One table row per setting, best median FID first."""
    summary = summarise(rows)
    lines = [f"{grid.model}, {grid.epochs} epochs, batch {grid.batch_size}, {grid.seeds} seeds per setting; "
             f"FID on n = {metrics.N_DEFAULT} (median, and the range over seeds); a run 'collapsed' below "
             f"{COLLAPSED_BELOW} digits covered.", "",
             "| loss | lr | beta1 | d_steps | FID median | FID range | digits (median) | ok | collapsed | diverged |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for setting, s in sorted(summary.items(), key=lambda item: (math.isnan(item[1]["fid"]), item[1]["fid"])):
        lo, hi = s["fid_range"]
        fid, spread = ("-", "-") if math.isnan(s["fid"]) else (f"{s['fid']:.1f}", f"{lo:.1f}-{hi:.1f}")
        lines.append(f"| {setting[0]} | {setting[1]:g} | {setting[2]:g} | {setting[3]} | {fid} | {spread} | "
                     f"{s['coverage']:g} | {s['ok']} | {s['collapsed']} | {s['diverged']} |")
    return "\n".join(lines) + "\n"


def heatmap(rows, grid, path):
    """Losses down, the other settings across; colour is the median FID (log scale), text FID and digits."""
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    summary = summarise(rows)
    columns = list(itertools.product(grid.lrs, grid.beta1s, grid.d_steps))
    values = np.array([[summary[(loss, *c)]["fid"] for c in columns] for loss in grid.losses])
    fig = Figure(figsize=(3.5 + 1.3 * len(columns), 1.5 + 0.6 * len(grid.losses)))
    ax = fig.subplots()
    finite = values[np.isfinite(values)]
    norm = LogNorm(vmin=finite.min(), vmax=finite.max()) if finite.size and finite.min() > 0 else None
    image = ax.imshow(np.where(np.isfinite(values), values, np.nan), cmap="viridis_r", norm=norm, aspect="auto")
    for i, loss in enumerate(grid.losses):
        for j, c in enumerate(columns):
            s = summary[(loss, *c)]
            text = "diverged" if s["diverged"] == grid.seeds else f"{s['fid']:.0f}\n{s['coverage']:g}/10"
            ax.text(j, i, text + (" *" if s["collapsed"] or s["diverged"] else ""), ha="center", va="center",
                    fontsize=8, bbox=dict(facecolor="white", alpha=0.7, edgecolor="none", pad=1.5))
    ax.set_xticks(range(len(columns)), [f"lr {a:g}\nb1 {b:g}\nd {d}" for a, b, d in columns], fontsize=8)
    ax.set_yticks(range(len(grid.losses)), grid.losses)
    ax.set_title(f"{grid.model}, {grid.epochs} epochs: median FID over {grid.seeds} seeds, lower is better\n"
                 "(digits covered; * a seed collapsed or diverged)", fontsize=9)
    fig.colorbar(image, ax=ax, label="FID")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
