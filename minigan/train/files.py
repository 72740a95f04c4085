"""The files a run writes into its folder: config, metrics, pictures, snapshots.

``RunFiles`` is the one place that knows the names (the same list ``folder.OWN_FILES``
gives to ``--overwrite``): ``config.json``, ``metrics.jsonl``, ``checkpoint.npz``,
``real_samples.png`` (a grid of training images, beside the generated ones),
``grid_epoch_NNN.png`` and ``generator_epoch_NNN.npz`` after each epoch (the newest
``keep_snapshots`` of the snapshots are kept), and at the end ``samples.png``, ``curves.png``
and, for a finished run, ``progress.gif``.
"""
import dataclasses
import json

import numpy as np

from ..data.formats import write_atomically
from . import checkpoint, plots, telemetry


class RunFiles:
    """Writes a run's files; creating it writes config.json (and, for a branch, the metrics so far)."""

    def __init__(self, folder, config, keep_until_step=None, copy_from=None):
        self.path = folder.path
        self.checkpoint = self.path / checkpoint.CHECKPOINT_NAME
        self.keep_snapshots = config.keep_snapshots
        kept = None                                   # a resumed run's records so far, read (and checked) first
        if keep_until_step is not None:
            source = (copy_from if copy_from is not None else self.path) / "metrics.jsonl"
            kept = [r for r in telemetry.read_metrics(source) if r.get("step", 0) <= keep_until_step]
        text = json.dumps(dataclasses.asdict(config), indent=2) + "\n"
        write_atomically(self.path / "config.json", lambda f: f.write(text.encode()))
        self.metrics = telemetry.MetricsLog(self.path / "metrics.jsonl", records=kept)

    def write_real_samples(self, images, n):
        """real_samples.png: ``n`` training images picked with a fixed seed."""
        pick = np.sort(np.random.default_rng(0).choice(len(images), size=min(n, len(images)), replace=False))
        plots.save_png(plots.image_grid(images[pick]), self.path / "real_samples.png")

    def write_grid(self, picture, epoch):
        plots.save_png(picture, self.path / f"grid_epoch_{epoch:03d}.png")

    def write_snapshot(self, G, meta, epoch):
        """generator_epoch_NNN.npz, then drop all but the newest ``keep_snapshots``."""
        if self.keep_snapshots == 0:
            return
        checkpoint.save_generator(self.path / f"generator_epoch_{epoch:03d}.npz", G, meta)
        for old in sorted(self.path.glob("generator_epoch_*.npz"))[:-self.keep_snapshots]:
            old.unlink()

    def snapshot(self, epoch):
        """The path of epoch ``epoch``'s generator snapshot, or None when it is not (or no longer) kept."""
        path = self.path / f"generator_epoch_{epoch:03d}.npz"
        return path if epoch is not None and path.exists() else None

    def write_final(self, picture, loss, with_gif, kinds="digits"):
        """samples.png, curves.png (when G has stepped) and progress.gif; returns the names written.

        ``kinds``: what the scoring classifier's classes are (``metrics.kinds_of``), for the curves' labels.
        """
        plots.save_png(picture, self.path / "samples.png")
        written = ["samples.png"]
        records = telemetry.read_metrics(self.path / "metrics.jsonl")
        if any(r.get("loss_g") is not None for r in records):
            plots.plot_curves(records, self.path / "curves.png", (loss.output_label, loss.fake_label), kinds)
            written.append("curves.png")
        frames = [plots.load_png(p) for p in sorted(self.path.glob("grid_epoch_*.png"))]
        if with_gif and frames:
            plots.save_gif(frames, self.path / "progress.gif")
            written.append("progress.gif")
        return written + ["metrics.jsonl", "config.json"]

    def close(self):
        self.metrics.close()

