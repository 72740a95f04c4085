"""Scoring the generator while it trains: a fixed noise set, scored after every epoch.

``EpochScorer`` draws ``eval_n`` noise vectors once (from the run's seed), and after each epoch
runs G in eval mode on them and scores the images with ``metrics.Reference`` (FID, classifier
score, digit coverage, precision and recall against the classifier's held-out real digits). The
same noise every epoch makes the numbers comparable over the run. A drop in coverage is the
signature of mode collapse: the scorer returns a warning naming the missing digits and the
snapshot of the epoch before.
"""
import time

import numpy as np

from .. import metrics
from ..errors import ConfigError
from ..metrics import classifier
from .sampling import balanced_labels, images_of


def scorer_for(config, log):
    """An EpochScorer for the run, or None when scoring is off or no classifier fits its data."""
    if config.eval_n == 0:
        return None
    if config.classifier is None and config.data not in classifier.SHIPPED_KNOWS:
        log("minigan: no per-epoch scores: the shipped classifier knows MNIST's digits only "
            "(train one with minigan train-classifier --data DATA and pass --classifier)")
        return None
    try:
        judge = classifier.load_for(config.classifier, config.data) if config.classifier else None
    except classifier.ClassifierError as error:
        raise ConfigError("classifier", f"{error}") from None
    return EpochScorer(metrics.Reference(classifier=judge), config.eval_n, config.z_dim, config.seed,
                       num_classes=config.num_classes)


class EpochScorer:
    """Scores G on fixed noise; remembers the best coverage so far to spot a collapse."""

    def __init__(self, reference, n, z_dim, seed, num_classes=0):
        self.reference = reference
        self.z = np.random.default_rng([seed, 4]).standard_normal((n, z_dim)).astype(np.float32)
        self.labels = balanced_labels(n, num_classes) if num_classes else None   # a conditional G's digits
        self.best_coverage, self.best_epoch = 0, None

    def score(self, G, epoch, snapshot_of=lambda epoch: None):
        """(record for metrics.jsonl, log line, warning or None) for G after ``epoch``.

        The warning comes when the digits covered drop below the best epoch's (naming that epoch's
        snapshot, ``snapshot_of(epoch)``, if it is kept) or when 3 or fewer digits are covered.
        """
        start = time.perf_counter()
        result = self.reference.evaluate(images_of(G, self.z, chunk=250, labels=self.labels), self.labels)
        seconds = time.perf_counter() - start
        keys = ("fid", "score", "coverage", "missing", "precision", "recall") + (
            ("agreement", "agreement_per_class", "intra_fid") if self.labels is not None else ())
        record = {k: result[k] for k in keys}
        record["eval_s"] = seconds
        intra = "-" if self.labels is None or result["intra_fid"] is None else f"{result['intra_fid']:.0f}"
        asked = (f" | asked-for {100 * result['agreement']:.0f}% | intra-FID {intra}"
                 if self.labels is not None else "")
        line = (f"epoch {epoch} scores | FID {result['fid']:.1f} | score {result['score']:.2f} | "
                f"{self.reference.kinds} {result['coverage']}/10 | precision {result['precision']:.2f} | "
                f"recall {result['recall']:.2f}{asked} | {seconds:.1f} s")
        warning = None
        if result["coverage"] < self.best_coverage or result["coverage"] <= 3:
            missing = ", ".join(str(d) for d in result["missing"])
            best = snapshot_of(self.best_epoch) if result["coverage"] < self.best_coverage else None
            before = (f"; G of epoch {self.best_epoch} covered {self.best_coverage}: {best}") if best else ""
            early = ("; so early in a run this often clears within an epoch or two"
                     if epoch <= 3 and result["coverage"] > 3 else "")
            warning = (f"minigan: warning: possible mode collapse: the samples of epoch {epoch} show "
                       f"{result['coverage']} of 10 {self.reference.kinds} (missing: {missing}){before}{early}")
        if result["coverage"] >= self.best_coverage:
            self.best_coverage, self.best_epoch = result["coverage"], epoch
        return record, line, warning
