"""The GAN trainer: the alternating game, logging, pictures and exact checkpoints.

One iteration on a real batch x and fresh noise z (``gan_step``):

1. D step, G fixed: fake = G(z); D backpropagates the real batch (``loss.d_loss_real``) and
   then the fake batch (``loss.d_loss_fake``), adding into the same gradients; opt_d steps.
   The fakes' gradient is never sent into G.
2. G step, every ``d_steps``-th iteration: D scores the same fakes again; G's loss gradient
   flows back through D into G (``G.backward(D.backward(d_fake))``) with D frozen, so D's
   parameter gradients are neither computed nor changed; opt_g steps.

Checkpoints hold everything the next iteration depends on (weights, BatchNorm statistics,
optimizer moments, both random generators and the position in the epoch), so a resumed run
is bit-identical to one that never stopped.
"""
import dataclasses
import json
import math
import pathlib
import signal
import sys
import time

import numpy as np

from . import backend, checkpoint, data, losses, metrics, models, plots
from .optim import Adam

SIGMOID_LOSSES = losses.SIGMOID_NAMES
# The small BatchNorm-free MLP generator needs to learn faster than its discriminator, or D
# wins at once and G collapses to a single blob (PyTorch does the same); the DCGAN uses 2e-4.
DEFAULT_LR_G = {"dcgan": 2e-4, "mlp": 1e-3}


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message says where and which checkpoint is the last good one."""


@dataclasses.dataclass
class TrainConfig:
    """Everything a run depends on; saved as config.json and inside each checkpoint."""

    model: str = "dcgan"
    loss: str = "nonsaturating"
    epochs: int = 15
    batch_size: int = 32
    lr_g: float = None                  # None: DEFAULT_LR_G[model]
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1
    z_dim: int = 100
    real_label: float = 1.0
    clip_value: float = None
    seed: int = 0
    data: str = None
    limit: int = None
    out: str = None
    backend: str = "numpy"
    log_every: int = 50
    layer_norms: bool = False
    n_samples: int = 64
    max_steps: int = None

    def validate(self):
        if self.model not in models.MODELS:
            raise ValueError(f"TrainConfig: model must be one of {models.MODELS}, got {self.model!r}")
        if self.loss not in losses.NAMES:
            raise ValueError(f"TrainConfig: loss must be one of {losses.NAMES}, got {self.loss!r}")
        for name in ("epochs", "batch_size", "d_steps", "z_dim", "log_every", "n_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig: {name} must be a positive int, got {value!r}")
        if self.lr_g is None:
            self.lr_g = DEFAULT_LR_G[self.model]
        if self.real_label != 1.0 and self.loss not in SIGMOID_LOSSES:
            raise ValueError(f"TrainConfig: real_label applies to {SIGMOID_LOSSES} only, not {self.loss!r}")
        return self


def gan_step(G, D, loss, opt_g, opt_d, real, z, update_g=True, layer_norms=False):
    """One iteration of the game (steps 1-2 of the module docstring); returns a dict of numbers."""
    sigmoid_based = loss.name in SIGMOID_LOSSES
    fake = G(z)                                    # G keeps its cache for the G step below
    opt_d.zero_grad()
    s_real = D(real)                               # step 1: the real batch, then the fake batch
    loss_real, d_real = loss.d_loss_real(s_real)
    D.backward(d_real)
    s_fake = D(fake)
    loss_fake, d_fake = loss.d_loss_fake(s_fake)
    D.backward(d_fake)                             # the input gradient is dropped: G stays fixed
    record = {"loss_d": loss_real + loss_fake,
              "d_real": metrics.mean_output(s_real, sigmoid_based),
              "d_fake": metrics.mean_output(s_fake, sigmoid_based),
              "grad_norm_d": metrics.grad_norm(D.parameters())}
    if layer_norms:
        record["layer_norms_d"] = metrics.layer_grad_norms(D)
    opt_d.step()
    if update_g:                                   # step 2
        opt_g.zero_grad()
        loss_g, d_scores = loss.g_loss(D(fake))
        D.freeze()                                 # G's pass computes no gradients for D's parameters
        try:
            G.backward(D.backward(d_scores))
        finally:
            D.unfreeze()
        record.update(loss_g=loss_g, grad_norm_g=metrics.grad_norm(G.parameters()))
        if layer_norms:
            record["layer_norms_g"] = metrics.layer_grad_norms(G)
        opt_g.step()
    return record


class _StopFlag:
    """Turns Ctrl-C into a request to stop after the current iteration (then checkpoint and exit)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:                         # not the main thread: no signal handling
            self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:                         # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _ProgressBar:
    """A one-line progress bar with the live values, redrawn in place on a terminal (nothing otherwise)."""

    def __init__(self, stream=None, width=24, every_s=0.2):
        self.stream = stream if stream is not None else sys.stderr
        self.active = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width, self.every_s, self._last = width, every_s, 0.0

    def update(self, epoch, epochs, done, total, text, force=False):
        now = time.perf_counter()
        if not self.active or (not force and now - self._last < self.every_s):
            return
        self._last = now
        filled = self.width * done // max(1, total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\repoch {epoch}/{epochs} [{bar}] {done}/{total} | {text}\x1b[K")
        self.stream.flush()

    def clear(self):
        if self.active:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _format(record, output_label):
    fake_label = output_label.replace("(x)", "(G(z))")
    loss_g = "-" if record.get("loss_g") is None else f"{record['loss_g']:.3f}"
    return (f"loss_d {record['loss_d']:.3f} | loss_g {loss_g} | {output_label} {record['d_real']:.2f} | "
            f"{fake_label} {record['d_fake']:.2f}")


def train(config, resume=None, log=print):
    """Train a GAN as ``config`` says.

    Returns a dict: ``out`` (the folder), ``status`` ("finished", "interrupted" or "stopped at
    max_steps"), ``step``, ``epoch``, the networks ``G`` and ``D``, the ``checkpoint`` path and the
    ``last`` step's record.

    ``resume``: a checkpoint path. The run continues from it with the checkpoint's own config,
    except ``epochs``, ``out``, ``log_every``, ``max_steps`` and ``backend``, which come from ``config``.
    Raises TrainingDiverged when a loss stops being finite (the last good checkpoint stays).
    """
    saved = checkpoint.load_checkpoint(resume) if resume else None
    if saved:
        keep = {k: getattr(config, k) for k in ("epochs", "out", "log_every", "max_steps", "backend")}
        config = dataclasses.replace(TrainConfig(**saved["meta"]["config"]), **keep)
        if config.out is None:
            config.out = str(pathlib.Path(resume).resolve().parent)
    config.validate()
    backend.set_backend(config.backend)
    if backend.tune_allocator():
        log("minigan: glibc malloc tuned to keep freed memory (backend.tune_allocator), "
            "which makes steps much faster")
    images, _ = data.load_mnist(config.data, scale="unit", limit=config.limit)
    out = pathlib.Path(config.out or f"runs/{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    G, D = models.build(config.model, config.z_dim, rng=config.seed)
    loss = losses.get(config.loss, **({"real_label": config.real_label} if config.loss in SIGMOID_LOSSES else {}))
    clip = config.clip_value
    if clip is None and loss.needs_lipschitz:
        clip = 0.01
        log("minigan: the wasserstein critic needs a Lipschitz constraint; clipping D's weights to 0.01")
    opt_g = Adam(G.parameters(), lr=config.lr_g, betas=(config.beta1, config.beta2))
    opt_d = Adam(D.parameters(), lr=config.lr_d, betas=(config.beta1, config.beta2), clip_value=clip)
    data_rng, noise_rng = np.random.default_rng([config.seed, 1]), np.random.default_rng([config.seed, 2])
    fixed_z = backend.asarray(np.random.default_rng([config.seed, 3]).standard_normal(
        (config.n_samples, config.z_dim)), "float32")
    batches = data.Batches(images, config.batch_size, data_rng)
    epoch, start_batch, step, perm = 0, 0, 0, None
    if saved:
        checkpoint.restore(saved, G, D, opt_g, opt_d, path=resume)
        meta = saved["meta"]
        data_rng.bit_generator.state, noise_rng.bit_generator.state = meta["data_rng"], meta["noise_rng"]
        epoch, start_batch, step = meta["epoch"], meta["batch"], meta["step"]
        perm = saved["arrays"].get("perm")
        log(f"minigan: resumed from {resume} at epoch {epoch + 1}, batch {start_batch}, step {step}")
    ckpt_path = out / "checkpoint.npz"
    log_file = metrics.MetricsLog(out / "metrics.jsonl", keep_until_step=step if saved else 0)
    output_label = "D(x)" if loss.name in SIGMOID_LOSSES else "s(x)"
    log(f"minigan: {config.model} GAN, {config.loss} loss, {len(images)} images, batch {config.batch_size}, "
        f"{len(batches)} steps/epoch, {config.epochs} epochs, backend {backend.get_backend()}, out {out}")

    def save(epoch_, batch_, perm_):
        meta = {"config": dataclasses.asdict(config), "epoch": epoch_, "batch": batch_, "step": step,
                "data_rng": data_rng.bit_generator.state, "noise_rng": noise_rng.bit_generator.state}
        checkpoint.save_checkpoint(ckpt_path, G, D, opt_g, opt_d, meta, perm_)

    def sample_grid():
        G.eval()
        picture = plots.image_grid(G(fixed_z))
        G.train()
        return picture

    status, record, bar = "finished", None, _ProgressBar()
    with _StopFlag() as stop:
        while epoch < config.epochs and status == "finished":
            perm = batches.permutation() if perm is None else perm
            started, epoch_records = time.perf_counter(), []
            for real in batches.epoch(perm, start_batch):
                t0 = time.perf_counter()
                z = backend.asarray(noise_rng.standard_normal((len(real), config.z_dim)), "float32")
                record = gan_step(G, D, loss, opt_g, opt_d, real, z, update_g=(step + 1) % config.d_steps == 0,
                                  layer_norms=config.layer_norms)
                step, start_batch = step + 1, start_batch + 1
                record.update(step=step, epoch=epoch + 1, ms=1e3 * (time.perf_counter() - t0))
                bad = [k for k in ("loss_d", "loss_g") if k in record and not math.isfinite(record[k])]
                if bad:
                    log_file.close()
                    last = f"the last good checkpoint is {ckpt_path}" if ckpt_path.exists() else "no checkpoint yet"
                    raise TrainingDiverged(f"{bad[0]} became {record[bad[0]]} at step {step} (epoch {epoch + 1}); "
                                           f"stopping. {last}. Try a lower learning rate or another loss.")
                log_file.write(record)
                epoch_records.append(record)
                live = f"{_format(record, output_label)} | {record['ms']:.1f} ms/step"
                bar.update(epoch + 1, config.epochs, start_batch, len(batches), live)
                if step % config.log_every == 0:
                    bar.clear()
                    log(f"step {step} | {live}")
                if stop.requested or (config.max_steps is not None and step >= config.max_steps):
                    bar.clear()
                    status = "interrupted" if stop.requested else "stopped at max_steps"
                    save(epoch, start_batch, perm)
                    log(f"minigan: {status} at step {step}; checkpoint {ckpt_path} "
                        f"(continue with --resume {ckpt_path})")
                    break
            else:
                epoch, start_batch, perm = epoch + 1, 0, None
                plots.save_png(sample_grid(), out / f"grid_epoch_{epoch:03d}.png")
                save(epoch, 0, None)
                bar.clear()
                seconds = time.perf_counter() - started
                mean = {k: float(np.mean([r[k] for r in epoch_records if r.get(k) is not None]))
                        for k in ("loss_d", "loss_g", "d_real", "d_fake")}
                log(f"epoch {epoch}/{config.epochs} | {_format(mean, output_label)} | {seconds:.1f} s "
                    f"({1e3 * seconds / max(1, len(epoch_records)):.0f} ms/step)")
    log_file.close()
    if status == "finished":
        _write_pictures(out, sample_grid(), output_label, log)
    return {"out": out, "status": status, "step": step, "epoch": epoch, "G": G, "D": D,
            "checkpoint": ckpt_path, "last": record}


def _write_pictures(out, final_grid, output_label, log):
    plots.save_png(final_grid, out / "samples.png")
    frames = [plots.load_png(p) for p in sorted(out.glob("grid_epoch_*.png"))]
    if frames:
        plots.save_gif(frames, out / "progress.gif")
    records = metrics.read_metrics(out / "metrics.jsonl")
    try:
        plots.plot_curves(records, out / "curves.png", output_label)
    except ImportError:
        log("minigan: matplotlib is not installed; skipping curves.png (pip install matplotlib)")
    log(f"minigan: wrote {out / 'samples.png'}, progress.gif, curves.png, metrics.jsonl, config.json")


def sample(checkpoint_path, n=64, seed=0, out="samples.png"):
    """Draw ``n`` samples from a checkpoint's generator (in eval mode) and save them as a grid PNG.

    Runs on the active backend, whichever backend trained the checkpoint.
    """
    saved = checkpoint.load_checkpoint(checkpoint_path)
    config = TrainConfig(**saved["meta"]["config"])
    G, D = models.build(config.model, config.z_dim)
    checkpoint.restore(saved, G, D, path=checkpoint_path)
    z = backend.asarray(np.random.default_rng(seed).standard_normal((n, config.z_dim)), "float32")
    G.eval()
    plots.save_png(plots.image_grid(G(z)), out)
    return out


__all__ = ["TrainConfig", "TrainingDiverged", "gan_step", "train", "sample"]
