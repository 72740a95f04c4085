"""A tuning study: every GAN loss over a grid of learning rates, beta1 and D steps, each over several seeds.

GAN results depend on hyperparameters as much as on the loss, and the spread over seeds is large
("Are GANs Created Equal?", Lucic et al. 2018): with enough tuning most losses reach similar
scores, and none beats the non-saturating loss consistently. So a fair comparison gives every
loss the same tuning budget (the same grid) and reports the spread over seeds, not one run.

``run_sweep(grid)`` trains one run per (setting, seed) into ``out/<setting>-seed<k>``, each a
``minigan train`` process (``jobs`` at a time, BLAS at one thread in each, so the cores are used
by whole runs), scores each final generator with ``metrics.Reference`` (FID, coverage, ...),
marks runs that diverged (exit code 3) or collapsed (fewer than ``COLLAPSED_BELOW`` digits
covered), and writes
``sweep.csv`` (one row per run), ``sweep.md`` (one row per setting: the median and range over
seeds) and ``sweep.png`` (a heatmap of the median FID and the digits covered).
"""
import collections
import concurrent.futures
import csv
import dataclasses
import io
import itertools
import math
import os
import pathlib
import statistics
import subprocess
import sys
import time

from .. import metrics
from ..metrics import classifier
from ..checks import is_int, is_number
from ..data.formats import write_atomically
from ..errors import ConfigError, UserError
from ..train import parts
from ..train.config import MODEL_DEFAULTS, TrainConfig, flag
from ..train.progress import count_text
from ..train.sampling import generate
from .folder import SweepFolder

COLLAPSED_BELOW = 8
REFERENCE_LR = {"dcgan": (2e-4, 2e-4), "mlp": (1e-3, 2e-4)}
COLUMNS = ("loss", "lr_scale", "g_lr_ratio", "lr_g", "lr_d", "beta1", "d_steps", "r1", "spectral_norm", "augment",
           "augment_p", "seed", "status", "fid", "score", "coverage", "missing", "precision", "recall", "seconds")
Setting = collections.namedtuple("Setting", "loss lr_scale g_lr_ratio beta1 d_steps r1 spectral_norm augment augment_p",
                                 defaults=(0.0, "", "", 1.0))
"""One cell of a grid, run once per seed. A cell without augmentation has augment_p 1.0 (p applies to none)."""
GRID_OPTION = {"loss": "losses", "lr_scale": "lr_scales", "g_lr_ratio": "g_lr_ratios", "beta1": "beta1s",
               "d_steps": "d_steps", "r1": "r1s", "spectral_norm": "spectral_norms", "augment": "augments",
               "augment_p": "augment_ps"}
"""The grid's option (a field of ``Grid``) behind each field of a ``Setting``."""


@dataclasses.dataclass
class Grid:
    """The settings of a study; every combination runs once per seed.

    ``lr_scales`` multiply the reference learning rates ``REFERENCE_LR`` (G's, D's): the DCGAN
    paper's 2e-4 for both, and for the mlp 1e-3 for G and 2e-4 for D (the small generator needs to
    learn faster than its discriminator). They are fixed here, not the trainer's defaults, so a
    study stays the same when the defaults change; today both models' defaults are 2x these, and
    8x for the DCGAN's G (scale 2, ratio 4). ``g_lr_ratios`` multiply G's rate alone, on top of the scale: the
    balance between the two players. ``r1s`` are R1 penalty weights γ (0: none); with one the
    DCGAN's D is built without BatchNorm. ``spectral_norms`` name the networks run spectrally
    normalised ("" none, "D", "GD"); ``augments`` the augmentations ("" none, "all", or a
    comma-separated list), and ``augment_ps`` the probabilities with which they change each image
    (a cell without augmentation runs once, not once per p). ``losses`` may include wgan-gp (its
    penalty on interpolates, with the grid's learning rates, beta1 and d_steps rather than its paper's).

    ``data`` is every run's data (``minigan train --data``: None, the embedded digits; "mnist",
    "fashion-mnist" or a folder); ``classifier`` the .npz that scores the runs (needed for data
    other than MNIST's digits); ``conditional`` trains every run as a conditional GAN. ``ema`` is
    every run's weight average (``minigan train --ema``), fixed here like the rates so a study stays
    the same when the trainer's defaults change: 0, none, unless asked for (``quick_grid`` takes the
    model's default).
    """

    losses: tuple = ("minimax", "nonsaturating", "lsgan", "hinge", "wasserstein")
    lr_scales: tuple = (1.0, 2.0)
    g_lr_ratios: tuple = (1.0,)
    beta1s: tuple = (0.5, 0.9)
    d_steps: tuple = (1,)
    r1s: tuple = (0.0,)
    spectral_norms: tuple = ("",)
    augments: tuple = ("",)
    augment_ps: tuple = (1.0,)
    seeds: int = 2
    model: str = "mlp"
    epochs: int = 20
    batch_size: int = 32
    limit: int = None
    data: str = None
    classifier: str = None
    conditional: bool = False
    ema: float = 0.0

    def settings(self):
        """A ``Setting`` for every cell of the grid, in a fixed order; a cell without augmentation once, p 1.0."""
        cells = itertools.product(self.losses, self.lr_scales, self.g_lr_ratios, self.beta1s, self.d_steps,
                                  self.r1s, self.spectral_norms, self.augments, self.augment_ps)
        return list(dict.fromkeys(Setting(*cell[:-1], cell[-1] if cell[-2] else 1.0) for cell in cells))

    def columns(self):
        """The heatmap's columns: each cell's settings after the loss, in the order of ``settings``."""
        return list(dict.fromkeys(tuple(setting[1:]) for setting in self.settings()))

    def check(self):
        """ConfigError for a bad seed count or any cell whose config would be refused; changes nothing."""
        if not is_int(self.seeds, 1):
            raise ConfigError("seeds", f"must be a positive int, got {self.seeds!r}", owner="sweep")
        for name, values in dataclasses.asdict(self).items():
            if isinstance(values, (tuple, list)) and len(set(values)) != len(values):
                twice = next(v for v in values if list(values).count(v) > 1)
                raise ConfigError(name, f"lists {twice!r} twice (each value is one cell of the grid)", owner="sweep")
        self._check_augment_ps()
        self._check_names()
        for setting in self.settings():
            try:
                self.config(setting, seed=0, out="-")
            except ConfigError as error:               # name the sweep's option, not the run's setting it made
                raise ConfigError(_grid_field(error.field, setting), error.problem, owner="sweep") from None
        if self.classifier is None and self.data not in classifier.SHIPPED_KNOWS:
            raise ConfigError("classifier", "is needed with --data other than mnist: a sweep scores its runs, and "
                                            "the shipped classifier knows MNIST's digits only (train one with "
                                            "minigan train-classifier --data DATA)", owner="sweep")

    def _check_names(self):
        """Two cells whose runs would share a folder name (values alike in their first 6 digits) are refused."""
        seen = {}
        for setting in self.settings():
            other = seen.setdefault(_name(setting), setting)
            if other != setting:
                field = next(f for f in Setting._fields if getattr(other, f) != getattr(setting, f))
                raise ConfigError(GRID_OPTION[field], f"holds {getattr(other, field)!r} and "
                                  f"{getattr(setting, field)!r}, which give their runs one folder name ({_name(setting)}): give values that differ "
                                  "in their first 6 digits", owner="sweep")

    def _check_augment_ps(self):
        """The probabilities are checked here, not by a run: a cell without augmentation ignores them."""
        bad = [p for p in self.augment_ps if not (is_number(p) and 0.0 <= p <= 1.0)]
        if bad:
            raise ConfigError("augment_ps", f"must be probabilities in [0, 1], got {bad[0]!r}", owner="sweep")
        if tuple(self.augment_ps) != (1.0,) and not any(self.augments):
            raise ConfigError("augment_ps", "apply to an augmentation: give --augments too", owner="sweep")

    def check_data(self):
        """Load the runs' data once, as a run will: a bad folder or label file is refused before any run starts,
        and mnist or fashion-mnist is fetched here once rather than by runs side by side."""
        setting = max(self.settings(), key=lambda s: s.d_steps)          # the cell that needs the most steps
        try:
            parts.load_data(self.config(setting, seed=0, out="-"))
        except ConfigError as error:
            raise ConfigError(_grid_field(error.field, setting), error.problem, owner="sweep") from None

    def reference(self):
        """The ``metrics.Reference`` that scores every run: the grid's classifier, or minigan's MNIST one."""
        if self.classifier is None:
            return metrics.Reference()
        try:
            return metrics.Reference(classifier=classifier.load_for(self.classifier, self.data))
        except classifier.ClassifierError as error:
            raise ConfigError("classifier", f"{error}", owner="sweep") from None

    def describe(self):
        """'dcgan, conditional, on mnist': the model, and the data and mode when they are not the default."""
        return (self.model + (", conditional" if self.conditional else "")
                + (f", on {self.data}" if self.data is not None else ""))

    def config(self, setting, seed, out):
        """The validated TrainConfig of one cell and seed, writing into ``out``."""
        lr_g, lr_d = REFERENCE_LR[self.model]
        return TrainConfig(model=self.model, loss=setting.loss, lr_g=setting.lr_scale * setting.g_lr_ratio * lr_g,
                           lr_d=setting.lr_scale * lr_d, beta1=setting.beta1, d_steps=setting.d_steps, r1=setting.r1,
                           spectral_norm=setting.spectral_norm, augment=setting.augment,
                           augment_p=setting.augment_p, seed=seed,
                           epochs=self.epochs, batch_size=self.batch_size, limit=self.limit, data=self.data,
                           conditional=self.conditional, ema=self.ema, out=str(out), eval_n=0, keep_snapshots=0, log_every=10 ** 9).validate()


def _grid_field(field, setting):
    """The grid's option behind a run's setting (lr_g comes from lr_scales times g_lr_ratios)."""
    if field == "lr_g":
        return "g_lr_ratios" if setting.g_lr_ratio <= 0 else "lr_scales"
    return "lr_scales" if field == "lr_d" else GRID_OPTION.get(field, field)


def quick_grid(model="mlp"):
    """``--quick``'s small grid: one cell per loss at the trainer's defaults for ``model``, beta1 0.5, 12 epochs.

    The defaults (``MODEL_DEFAULTS``: learning rates, batch size and weight average) are written as a scale of
    ``REFERENCE_LR`` and a ratio for G: 2 and 1 for the mlp, 2 and 4 for the DCGAN.
    """
    defaults = MODEL_DEFAULTS[model]
    reference_g, reference_d = REFERENCE_LR[model]
    scale = defaults["lr_d"] / reference_d
    ratio = float(f"{defaults['lr_g'] / reference_g / scale:.12g}")     # 4.0, not 3.9999999999999996
    return Grid(model=model, lr_scales=(scale,), g_lr_ratios=(ratio,), beta1s=(0.5,), epochs=12,
                batch_size=defaults["batch_size"], ema=defaults["ema"])


def _name(setting):
    ratio = f"-g{setting.g_lr_ratio:g}x" if setting.g_lr_ratio != 1.0 else ""
    r1 = f"-r1{setting.r1:g}" if setting.r1 else ""
    sn = f"-sn{setting.spectral_norm}" if setting.spectral_norm else ""
    aug = f"-aug-{setting.augment.replace(',', '-')}" if setting.augment else ""
    aug += f"-p{setting.augment_p:g}" if setting.augment_p != 1.0 else ""
    return f"{setting.loss}-lr{setting.lr_scale:g}x{ratio}-b{setting.beta1:g}-d{setting.d_steps}{r1}{sn}{aug}"


# Starts ``minigan train`` from the very package this sweep runs: isolated mode (-I) keeps the
# current folder, PYTHONPATH and the user's site-packages out of sys.path, so a ``minigan/`` folder
# where the sweep was started (a planted package, another checkout) is never imported instead.
_LAUNCHER = ("import sys; sys.path.insert(0, sys.argv.pop(1)); from minigan.sweep.child import stop_with_parent; "
             "stop_with_parent(int(sys.argv.pop(1))); from minigan.cli import main; sys.exit(main())")


def _command(config, backend, plan="train"):
    """The ``minigan train`` command line of a config, run by this process's own minigan.

    ``plan`` "resume" continues the run's checkpoint (an interrupted run of this sweep) instead.
    """
    home = str(pathlib.Path(__file__).resolve().parents[2])              # the folder that holds the minigan package
    args = [sys.executable, "-I", "-c", _LAUNCHER, home, str(os.getpid()), "train", "--backend", backend]
    if plan == "resume":
        return args + ["--resume", str(pathlib.Path(config.out) / "checkpoint.npz")]
    args.append("--overwrite")                     # a run of this sweep that stopped before its first checkpoint
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if value is not None and field.name != "backend":
            args += [flag(field.name), str(value)] if not isinstance(value, bool) else ([flag(field.name)] if value else [])
    return args


_RUNNING = set()                                   # the run processes, stopped with the sweep


class RunFailed(UserError, RuntimeError):
    """One of the sweep's runs ended with an error of its own; the others are stopped, the finished ones kept."""


def train_one(config, backend, threads=1, plan="train"):
    """Run one ``minigan train`` process; returns (status, seconds): "done", or "diverged" (exit 3).

    ``plan`` (``SweepFolder.plan``): "train", "resume", or "done" (a finished run of an earlier
    start of this sweep: nothing runs, and its seconds are 0).
    """
    if plan == "done":
        return "done", 0.0
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    start = time.perf_counter()
    process = subprocess.Popen(_command(config, backend, plan), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    _RUNNING.add(process)
    try:
        _, stderr = process.communicate()
    finally:
        _RUNNING.discard(process)
    if process.returncode not in (0, 3):
        said = [line for line in stderr.splitlines() if line.strip()]
        raise RunFailed(f"the run {config.out} failed with exit code {process.returncode}"
                        + (f": {said[-1].strip()[:300]}" if said else "")
                        + " (the runs that finished are kept; mend the cause and run the same sweep again to "
                          "resume it)")
    return ("diverged" if process.returncode == 3 else "done"), time.perf_counter() - start


def _stop_runs():
    for process in list(_RUNNING):
        process.terminate()                        # each run saves its checkpoint and exits (143)


def score_one(row, config, status, seconds, reference):
    """The CSV row of a finished run: its status and, unless it diverged, its scores."""
    row = dict(row, status=status, seconds=seconds)
    if status == "diverged":
        return row
    scores = reference.evaluate(generate(pathlib.Path(config.out) / "checkpoint.npz", metrics.N_DEFAULT, seed=0))
    row["status"] = "collapsed" if scores["coverage"] < COLLAPSED_BELOW else "ok"
    return dict(row, missing=" ".join(map(str, scores["missing"])),
                **{k: scores[k] for k in ("fid", "score", "coverage", "precision", "recall")})


def prepare(grid):
    """Check everything a sweep needs before anything is written: the grid, its classifier (loaded first:
    a typo is named before any download) and its data. Returns the ``metrics.Reference`` that scores the runs."""
    grid.check()
    reference = grid.reference()
    grid.check_data()
    return reference


def run_sweep(grid, out, backend="numpy", jobs=None, log=print, reference=None):
    """Run the whole grid into ``out``; writes sweep.csv, sweep.md and sweep.png there and returns the rows.

    ``out`` belongs to this sweep (``folder.SweepFolder``): locked while it runs; run again, the same
    sweep keeps its finished runs and resumes its interrupted ones; another sweep is refused there.
    ``reference``: what ``prepare(grid)`` returned, when the caller has checked the grid already.
    """
    if reference is None:
        reference = prepare(grid)                  # before the folder is made
    jobs = jobs or (1 if backend == "cupy" else os.cpu_count() or 1)
    out = pathlib.Path(out)
    folder = SweepFolder(out).claim(grid)
    try:
        cells = list(itertools.product(grid.settings(), range(grid.seeds)))
        configs = [grid.config(setting, seed, out / f"{_name(setting)}-seed{seed}") for setting, seed in cells]
        plans = [folder.plan(config) for config in configs]          # every run checked before any starts
        rows = [None] * len(cells)
        _run_cells(grid, cells, configs, plans, rows, jobs, backend, reference, out, log)
        rows = [r for r in rows if r is not None]
        table = markdown(rows, grid)
        write_atomically(out / "sweep.md", lambda f: f.write(table.encode()))
        heatmap(rows, grid, out / "sweep.png")
        return rows
    finally:
        folder.release()


def _run_cells(grid, cells, configs, plans, rows, jobs, backend, reference, out, log):
    """Train the cells ``jobs`` at a time, scoring each as it finishes and rewriting sweep.csv."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(train_one, config, backend, plan=plan): i
                   for i, (config, plan) in enumerate(zip(configs, plans))}
        try:
            _collect(futures, cells, configs, rows, reference, out, log)
        except BaseException:                      # Ctrl-C, SIGTERM or a failed run: stop every run
            for future in futures:
                future.cancel()
            _stop_runs()
            raise


def _collect(futures, cells, configs, rows, reference, out, log):
    """Score each run as it finishes, log a line and rewrite sweep.csv."""
    for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
        i = futures[future]
        setting, seed = cells[i]
        config = configs[i]
        row = dict(setting._asdict(), lr_g=config.lr_g, lr_d=config.lr_d, seed=seed)
        rows[i] = score_one(row, config, *future.result(), reference)
        fid = f"FID {rows[i]['fid']:.1f}, {rows[i]['coverage']}/10 digits" if "fid" in rows[i] else "no score"
        log(f"run {done}/{len(cells)}: {_name(setting)} seed {seed}: {rows[i]['status']}, {fid} "
            f"({rows[i]['seconds']:.0f} s)")
        write_csv([r for r in rows if r is not None], out / "sweep.csv")


def write_csv(rows, path):
    """sweep.csv, one row per run, written whole or not at all (a full disk leaves the last one)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, COLUMNS)
    writer.writeheader()
    writer.writerows({k: _cell(row.get(k)) for k in COLUMNS} for row in rows)
    write_atomically(path, lambda f: f.write(text.getvalue().encode()))


def _cell(value):
    return f"{value:.6g}" if isinstance(value, float) else ("" if value is None else value)


def _setting_of(row):
    """The Setting of a result row; a row from before a field existed (r1) takes the field's default."""
    return Setting(*(row[field] if field in row else Setting._field_defaults[field] for field in Setting._fields))


def summarise(rows):
    """{setting: {"fid": median, "fid_range": (lo, hi), "coverage": the fewest digits any seed covered, "ok",
    "collapsed", "diverged"}}: a whole number of digits, and the worst case, where a collapse shows."""
    groups = {}
    for row in rows:
        groups.setdefault(_setting_of(row), []).append(row)
    summary = {}
    for setting, group in groups.items():
        fids = [r["fid"] for r in group if "fid" in r]
        summary[setting] = {
            "fid": statistics.median(fids) if fids else math.nan,
            "fid_range": (min(fids), max(fids)) if fids else (math.nan, math.nan),
            "coverage": min([r["coverage"] for r in group if "coverage" in r] or [0]),
            **{status: sum(r["status"] == status for r in group) for status in ("ok", "collapsed", "diverged")}}
    return summary


def markdown(rows, grid):
    """One table row per setting, best median FID first."""
    summary = summarise(rows)
    average = f", G's weights averaged ({grid.ema:g})" if grid.ema else ""
    lines = [f"{grid.describe()}, {count_text(grid.epochs, 'epoch')}, batch {grid.batch_size}{average}, "
             f"{count_text(grid.seeds, 'seed')} per setting; "
             f"FID on n = {metrics.N_DEFAULT} (median, and the range over seeds); a run 'collapsed' below "
             f"{COLLAPSED_BELOW} digits covered.", "",
             "| loss | lr (x reference) | G's lr ratio | beta1 | d_steps | R1 γ | spectral norm | augment "
             "| FID median | FID range | digits (fewest) | ok | collapsed | diverged |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for setting, s in sorted(summary.items(), key=lambda item: (math.isnan(item[1]["fid"]), item[1]["fid"])):
        lo, hi = s["fid_range"]
        fid, spread = ("-", "-") if math.isnan(s["fid"]) else (f"{s['fid']:.1f}", f"{lo:.1f}-{hi:.1f}")
        lines.append(f"| {setting.loss} | {setting.lr_scale:g} | {setting.g_lr_ratio:g} | {setting.beta1:g} | "
                     f"{setting.d_steps} | {setting.r1:g} | {setting.spectral_norm or '-'} | "
                     f"{_augment_text(setting.augment, setting.augment_p) or '-'} | {fid} | {spread} | {s['coverage']:g} | {s['ok']} | {s['collapsed']} | "
                     f"{s['diverged']} |")
    return "\n".join(lines) + "\n"


def _augment_text(augment, p):
    """'all', 'all, p 0.5', or '' for no augmentation."""
    return augment + (f", p {p:g}" if augment and p != 1.0 else "")


def heatmap(rows, grid, path):
    """Losses down, the other settings across; colour is the median FID (log scale), text FID and digits."""
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    summary = summarise(rows)
    columns = grid.columns()
    values = np.array([[summary[Setting(loss, *c)]["fid"] for c in columns] for loss in grid.losses])
    fig = Figure(figsize=(3.5 + 1.3 * len(columns), 1.5 + 0.6 * len(grid.losses)))
    ax = fig.subplots()
    finite = values[np.isfinite(values)]
    norm = LogNorm(vmin=finite.min(), vmax=finite.max()) if finite.size and finite.min() > 0 else None
    image = ax.imshow(np.where(np.isfinite(values), values, np.nan), cmap="viridis_r", norm=norm, aspect="auto")
    for i, loss in enumerate(grid.losses):
        for j, c in enumerate(columns):
            s = summary[Setting(loss, *c)]
            text = "diverged" if s["diverged"] == grid.seeds else f"{s['fid']:.0f}\n{s['coverage']:g}/10"
            ax.text(j, i, text + (" *" if s["collapsed"] or s["diverged"] else ""), ha="center", va="center",
                    fontsize=8, bbox=dict(facecolor="white", alpha=0.7, edgecolor="none", pad=1.5))
    ax.set_xticks(range(len(columns)), [f"lr x{a:g}" + (f", G x{g:g}" if g != 1.0 else "") + f"\nbeta1 {b:g}\nd_steps {d}"
                                        + (f"\nR1 {r:g}" if r else "") + (f"\nSN {s}" if s else "")
                                        + (f"\naug {_augment_text(m, p)}" if m else "")
                                        for a, g, b, d, r, s, m, p in columns], fontsize=8)
    ax.set_yticks(range(len(grid.losses)), grid.losses)
    ax.set_title(f"{grid.describe()}, {count_text(grid.epochs, 'epoch')}: median FID over "
                 f"{count_text(grid.seeds, 'seed')}, lower is better\n"
                 "(the fewest digits a seed covered; * a seed collapsed or diverged)", fontsize=9)
    fig.colorbar(image, ax=ax, label="FID")
    fig.tight_layout()
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=100))
