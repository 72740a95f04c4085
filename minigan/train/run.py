"""The GAN trainer: a run in named phases, around the game of ``gan.game.gan_step``.

A run (``Run``) goes through phases, each a short function: ``start.new_run`` or
``start.resumed_run`` (check everything, then claim the run folder; start.py), then here
``run_epoch`` (the steps of one pass over the data),
``end_epoch`` (pictures, snapshot, checkpoint), ``finish`` (the last pictures). Checkpoints
hold everything the next iteration depends on (weights, BatchNorm statistics, optimizer
moments, both random generators and the position in the epoch), so a resumed run is
bit-identical to one that never stopped. A loss, gradient norm, weight or optimizer moment
that stops being finite ends the run with ``TrainingDiverged``, and such a state is never saved:
every step's losses and gradient norms are checked when the records are read back (``flush``,
one transfer every ``log_every`` steps and before every save), the weights and moments at the
same points (one host read for all of them).
"""
import dataclasses
import math
import time

import numpy as np

from .. import backend, data, losses
from ..errors import TrainingDiverged
from ..gan.game import gan_step
from ..gan.graph import CapturedStep
from ..gan.penalties import TERMS
from ..nn import Augment, Sequential
from ..optim import Adam
from . import checkpoint, parts, plots, telemetry
from .config import MODEL_DEFAULTS
from .ema import WeightAverage
from .progress import ProgressBar, StopRequest, count_text
from .sharing import CpuShare
from .sampling import balanced_labels, images_of, rows_per_class
from .scoring import scorer_for

# The records' keys of the gradient penalties: each term's value and its mean input-gradient norm.
PENALTY_KEYS = tuple(key for name in TERMS for key in (name, f"{name}_norm"))

class Run:
    """One training run; see the module docstring for its phases."""

    def __init__(self, config, images, labels, folder, log):
        self.config, self.images, self.labels, self.folder, self.log = config, images, labels, folder, log
        self.G, self.D = parts.build_models(config)
        self.augment = (Augment(config.augment_ops, p=config.augment_p)           # draws from noise_rng
                        if config.augment_ops else None)
        self.critic = Sequential(self.augment, *self.D) if self.augment else self.D   # what the game calls D
        self.loss = losses.get(config.loss_function, **({"real_label": config.real_label}
                                                        if config.loss in losses.SIGMOID_NAMES else {}))
        self.penalties = parts.penalty_terms(config)
        self.opt_g = Adam(self.G.parameters(), lr=config.lr_g, betas=(config.beta1, config.beta2))
        self.opt_d = Adam(self.D.parameters(), lr=config.lr_d, betas=(config.beta1, config.beta2),
                          clip_value=parts.clip_value(config, self.loss))
        self.data_rng, self.noise_rng = parts.rngs(config.seed)
        if self.augment is not None:
            self.augment.rng = self.noise_rng
        self.fixed_labels, self.grid_row = (rows_per_class(config.n_samples, config.num_classes)
                                            if config.conditional else (None, None))   # a row per digit
        self.fixed_z = backend.asarray(np.random.default_rng([config.seed, 3]).standard_normal(
            (config.n_samples if labels is None else len(self.fixed_labels), config.z_dim)), "float32")
        self.batches = data.Batches(images, config.batch_size, self.data_rng, labels=labels)
        self.scorer = scorer_for(config, log)
        self.average = WeightAverage(self.G, config.ema) if config.ema else None
        self.captured = (CapturedStep(self.G, self.critic, self.loss, self.opt_g, self.opt_d, log=log)
                         if parts.captures_steps(config, log) else None)
        self.epoch, self.batch, self.step, self.perm = 0, 0, 0, None
        self.saved_step, self.record, self.files, self.last_scores, self.share = None, None, None, None, None
        self.epoch_records, self.epoch_started, self.pending = [], time.perf_counter(), []

    # -- phase 2: the loop (phase 1, start or resume, is start.py's) -------------------------------------------------------------------
    def train(self):
        """Run the remaining epochs; returns a dict: ``out``, ``status`` ("finished", "interrupted" or
        "stopped at max_steps"), ``exit_code`` (0, or 130/143 for SIGINT/SIGTERM), ``step``, ``epoch``,
        ``G``, ``D``, the ``checkpoint`` path and the ``last`` step's record."""
        config, status = self.config, None
        self._log_start()
        self.share = CpuShare(self.log) if backend.get_backend() == "numpy" else None
        self._share_cores()
        total = len(self.batches) * config.epochs
        total = min(total, config.max_steps) if config.max_steps else total
        bar = ProgressBar(total, initial=min(self.step, total), log=self.log)
        try:                                       # the run checks for non-finite values itself
            with StopRequest() as stop, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while self.epoch < config.epochs and status is None:
                    status = self.run_epoch(stop, bar)
                    if status is None:
                        self.end_epoch(bar)
                bar.close()
                self.finish(status or "finished")
        finally:
            bar.close()
            self.files.close()
            self.folder.release()
            if self.share is not None:
                self.share.close()
        exit_code = stop.exit_code if status == "interrupted" else 0
        return {"out": self.folder.path, "status": status or "finished", "exit_code": exit_code,
                "step": self.step, "epoch": self.epoch, "G": self.G, "D": self.D,
                "checkpoint": self.files.checkpoint, "last": self.record}

    def run_epoch(self, stop, bar):
        """The steps of one pass over the data; returns None when the pass completed, else why it stopped."""
        config = self.config
        self.perm = self.batches.permutation() if self.perm is None else self.perm
        self.epoch_records, self.epoch_started = [], time.perf_counter()
        for batch in self.batches.epoch(self.perm, self.batch):
            self.one_step(batch)
            bar.update(self.epoch + 1, config.epochs, self._short(self.record) if self.record else "")
            if self.step % config.log_every == 0:
                self.flush()
                self._check_state()
                bar.write(f"step {self.step} | {self._live(self.record)}")
            if stop.requested or (config.max_steps is not None and self.step >= config.max_steps):
                status = "interrupted" if stop.requested else "stopped at max_steps"
                self.save(self.epoch, self.batch, self.perm)
                bar.write(f"minigan: {status} at step {self.step}; checkpoint {self.files.checkpoint} "
                          f"(continue with --resume {self.files.checkpoint})")
                return status
        return None

    def one_step(self, batch):
        """One iteration of the game on a real batch; its record waits on the device for ``flush``.

        A conditional run's batch is (images, labels), and its fakes are asked for balanced labels
        drawn after the noise (``sampling.balanced_labels``).
        """
        t0 = time.perf_counter()
        real, labels = batch if self.labels is not None else (batch, None)
        z = backend.asarray(self.noise_rng.standard_normal((len(real), self.config.z_dim)), "float32")
        if labels is not None:
            fake_labels = balanced_labels(len(real), self.config.num_classes, self.noise_rng)
            labels = (labels, backend.asarray(fake_labels, "int64"))
        update_g = (self.step + 1) % self.config.d_steps == 0
        if self.captured is not None:                  # the same step, replayed from a CUDA graph
            record = self.captured(real, z, update_g=update_g)
        else:
            penalised = self.penalties and self.step % self.config.reg_every == 0
            record = gan_step(self.G, self.critic, self.loss, self.opt_g, self.opt_d, real, z, update_g=update_g,
                              layer_norms=self.config.layer_norms, penalties=self.penalties if penalised else (),
                              rng=self.noise_rng, labels=labels)
        if self.average is not None and "loss_g" in record:
            self.average.update(self.G)
        self.step, self.batch = self.step + 1, self.batch + 1
        record.update(step=self.step, epoch=self.epoch + 1, ms=1e3 * (time.perf_counter() - t0))
        self.pending.append(record)

    def flush(self):
        """Read the pending records to the host in one transfer, write them, and check each for NaN.

        On a GPU this is the only synchronisation of the loop, once per ``log_every`` steps (and
        before every save); a non-finite loss or gradient norm is still reported at its own step.
        """
        records, self.pending = telemetry.to_host(self.pending), []
        self._share_cores()
        for record in records:
            self.files.metrics.write(record)
            bad = [k for k in ("loss_d", "loss_g", "grad_norm_d", "grad_norm_g", *PENALTY_KEYS) if k in record
                   and not math.isfinite(record[k])]
            if bad:
                self._diverged(f"{bad[0]} became {record[bad[0]]} at step {record['step']} "
                               f"(epoch {record['epoch']})")
            self.epoch_records.append(record)
            self.record = record

    # -- phase 3: end of an epoch ------------------------------------------------------------
    def end_epoch(self, bar):
        """Pictures, the generator snapshot and the checkpoint of a completed epoch; one summary line."""
        self.flush()
        records, seconds = self.epoch_records, time.perf_counter() - self.epoch_started
        self.epoch, self.batch, self.perm = self.epoch + 1, 0, None
        self.save(self.epoch, 0, None)
        self.files.write_grid(self.sample_grid(), self.epoch)
        self.files.write_snapshot(self.sampler, self._meta(self.epoch, 0), self.epoch)
        mean = {k: float(np.mean([r[k] for r in records if r.get(k) is not None] or [np.nan]))
                for k in ("loss_d", "loss_g", "d_real", "d_fake")}
        bar.write(f"epoch {self.epoch}/{self.config.epochs} | {self._format(mean)} | {seconds:.1f} s "
                  f"({1e3 * seconds / max(1, len(records)):.0f} ms/step)")
        if self.config.loss_function in losses.SIGMOID_NAMES and mean["d_real"] > 0.99 and mean["d_fake"] < 0.01:
            bar.write(f"minigan: warning: D tells every fake from every real image this epoch (D(x) "
                      f"{mean['d_real']:.3f}, D(G(z)) {mean['d_fake']:.3f}): the game has stopped, and G seldom "
                      "recovers from it (a collapse whatever the scores say; start again with lower --lr-g and "
                      "--lr-d)")
        if self.scorer is not None:
            record, line, warning = self.scorer.score(self.sampler, self.epoch, self.files.snapshot)
            self.last_scores = dict(record, step=self.step, epoch=self.epoch)
            self.files.metrics.write(self.last_scores)
            bar.write(line)
            if warning:
                bar.write(warning)

    def save(self, epoch, batch, perm):
        """Check that the whole state is finite, then write the checkpoint atomically."""
        self.flush()
        self._check_state()
        checkpoint.save_checkpoint(self.files.checkpoint, self.G, self.D, self.opt_g, self.opt_d,
                                   self._meta(epoch, batch), perm, G_average=self.average and self.average.model)
        self.saved_step = self.step

    # -- phase 4: finish ---------------------------------------------------------------------
    def finish(self, status):
        """The pictures of what the run has: samples.png and curves.png, and progress.gif when finished."""
        kinds = self.scorer.reference.kinds if self.scorer else "digits"
        written = self.files.write_final(self.sample_grid(), self.loss, with_gif=(status == "finished"), kinds=kinds)
        self.log(f"minigan: {status}; wrote {', '.join(written)} in {self.folder.path}")
        scores = self.last_scores
        last = (f"epoch {scores['epoch']}'s scores: FID {scores['fid']:.1f}, {scores['coverage']}/10 {kinds}; "
                if scores else "")
        self.log(f"minigan: {last}checkpoint {self.files.checkpoint}; score it with minigan eval --checkpoint "
                 f"{self.folder.path}, draw from it with minigan sample --checkpoint {self.folder.path}")

    @property
    def sampler(self):
        """The generator that makes the pictures, snapshots and scores: the weight average, or G."""
        return self.average.model if self.average is not None else self.G

    def sample_grid(self):
        """The fixed noise's images: a square grid, or one row per digit for a conditional run."""
        return plots.image_grid(images_of(self.sampler, self.fixed_z, labels=self.fixed_labels), nrow=self.grid_row)

    # -- helpers -----------------------------------------------------------------------------
    def _meta(self, epoch, batch):
        return {"config": dataclasses.asdict(self.config), "epoch": epoch, "batch": batch, "step": self.step,
                "data_rng": self.data_rng.bit_generator.state, "noise_rng": self.noise_rng.bit_generator.state,
                "data": data.fingerprint(self.images, self.labels), "ema_updates": self.average.updates if self.average else 0}

    def _share_cores(self):
        """On the CPU, BLAS threads for this run's share of the cores (``sharing.CpuShare``)."""
        if self.share is not None:
            self.share.adjust()

    def _check_state(self):
        """TrainingDiverged when a weight, a BatchNorm statistic or an Adam moment is NaN or infinite."""
        bad = telemetry.nonfinite_state({"G": (self.G, self.opt_g), "D": (self.D, self.opt_d)})
        if bad:
            self._diverged(f"{bad[0]} became non-finite by step {self.step} (epoch {self.epoch + 1})"
                           + (f" and {len(bad) - 1} more arrays" if len(bad) > 1 else ""))

    def _diverged(self, what):
        c, ckpt = self.config, self.files.checkpoint
        lower = {name: parts.lower_lr(getattr(c, name), default) for name, default in
                 (("lr_g", MODEL_DEFAULTS[c.model]["lr_g"]), ("lr_d", MODEL_DEFAULTS[c.model]["lr_d"]))}
        advice = f"e.g. --lr-g {lower['lr_g']:g} --lr-d {lower['lr_d']:g}, or another --loss"
        if self.saved_step is not None and ckpt.exists():
            where = (f"the last good checkpoint is {ckpt} (step {self.saved_step}); resume from it with lower "
                     f"learning rates: minigan train --resume {ckpt} {advice}")
        else:
            where = f"no checkpoint was saved; start again with --overwrite and lower learning rates, {advice}"
        raise TrainingDiverged(f"the run diverged: {what}; {where}")

    def _format(self, record):
        loss_g = "-" if record.get("loss_g") is None else f"{record['loss_g']:.3f}"
        return (f"loss_d {record['loss_d']:.3f} | loss_g {loss_g} | {self.loss.output_label} "
                f"{record['d_real']:.2f} | {self.loss.fake_label} {record['d_fake']:.2f}")

    def _short(self, record):
        loss_g = "-" if record.get("loss_g") is None else f"{record['loss_g']:.2f}"
        return f"loss_d {record['loss_d']:.2f} loss_g {loss_g}"

    def _live(self, record):
        return f"{self._format(record)} | {record['ms']:.1f} ms/step"

    def _log_start(self):
        c = self.config
        terms = ", ".join(f"{name} {getattr(c, name):g}" for name in TERMS if getattr(c, name))
        every = f" every {c.reg_every} steps" if terms and c.reg_every > 1 else ""
        self.log(f"minigan: {'conditional ' if c.conditional else ''}{c.model} GAN, {c.loss} loss{f' with {terms}{every}' if terms else ''}, "
                 f"{len(self.images)} images, batch {c.batch_size}, "
                 f"{len(self.batches)} steps/epoch, {count_text(c.epochs, 'epoch')}, backend {backend.get_backend()}, "
                 f"out {self.folder.path}")

