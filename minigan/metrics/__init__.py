"""How good is a generator: FID, classifier score, mode coverage, precision and recall.

All four judge images (N, 1, 28, 28) in [0, 1] through one frozen digit classifier
(``minigan.metrics.classifier``; by default the one shipped with minigan), the way the MNIST GAN
literature does, since Inception features of 28x28 digits mean little:

- ``fid(real, fake)``: the Fréchet distance between Gaussians fitted to the classifier's 128
  penultimate features of each set (Heusel et al. 2017),
  ||mu_r - mu_f||² + Tr(S_r + S_f - 2 (S_r^½ S_f S_r^½)^½), in float64. The matrix square roots
  come from symmetric eigendecompositions with negative rounding-noise eigenvalues set to 0, so
  a near-singular covariance (ReLU features that are often 0) stays stable. Lower is better.
- ``classifier_score(fake)``: exp(E_x KL(p(y|x) || p(y))), the Inception Score (Salimans et al.
  2016) on the classifier: 1 for one blurry class, 10 for confident, evenly spread digits.
- ``mode_coverage(fake)``: the histogram of predicted digits, which digits hold at least 2% of
  the samples, and KL(histogram || uniform) (0 when every digit is equally common).
- ``precision_recall(real, fake)``: k-nearest-neighbour manifolds in feature space (Kynkäänniemi
  et al. 2019). Precision: the share of fakes inside the real manifold (good digits); recall:
  the share of reals inside the fake manifold (all kinds of digits).

FID is biased upwards at small sample counts and depends on the classifier: compare numbers only
at the same n (default 1,000 against the shipped classifier's 1,000 held-out real digits) and
with the same classifier. docs/quality.md gives the real-versus-real floor at that n.
"""
import functools

import numpy as np

from .. import backend
from . import classifier as _classifier, conditional
from ..checks import is_int
from .frechet import frechet_distance, gaussian_fit, sqrt_psd

N_DEFAULT = 1000
COVERAGE_SHARE = 0.02


@functools.lru_cache(maxsize=len(backend.BACKENDS))
def _shipped(backend_name):
    """The shipped classifier, loaded once per backend: its weights live on the backend active at loading."""
    return _classifier.load()


def _judge(classifier):
    return _shipped(backend.get_backend()) if classifier is None else classifier


def fid(real, fake, classifier=None):
    """The Fréchet distance between the classifier features of ``real`` and ``fake`` images (lower is better)."""
    judge = _judge(classifier)
    return frechet_distance(*gaussian_fit(judge.embed(real)), *gaussian_fit(judge.embed(fake)))


def classifier_score(fake, classifier=None):
    """exp(mean_x KL(p(y|x) || p(y))) with p(y) = mean_x p(y|x): between 1 and the number of classes."""
    return _score(_judge(classifier).predict(fake))


def _score(p):
    marginal = p.mean(axis=0, keepdims=True)
    kl = (p * (np.log(np.clip(p, 1e-30, None)) - np.log(np.clip(marginal, 1e-30, None)))).sum(axis=1)
    return float(np.exp(kl.mean()))


def mode_coverage(fake, classifier=None, share=COVERAGE_SHARE):
    """Which digits the samples show: {"histogram", "covered", "missing", "kl_uniform"}.

    ``histogram``: the share of samples classified as each digit; ``covered``: how many digits hold
    at least ``share`` of the samples; ``missing``: the digits below it; ``kl_uniform``:
    sum_k h_k log(K h_k), 0 for a uniform histogram, log K when every sample is one digit.
    """
    return _coverage(_judge(classifier).predict(fake), share)


def _coverage(p, share=COVERAGE_SHARE):
    K = p.shape[1]
    histogram = np.bincount(p.argmax(axis=1), minlength=K) / len(p)
    nonzero = histogram[histogram > 0]
    missing = [int(k) for k in np.flatnonzero(histogram < share)]
    return {"histogram": [float(h) for h in histogram], "covered": K - len(missing), "missing": missing,
            "kl_uniform": float((nonzero * np.log(K * nonzero)).sum())}


def _squared_distances(a, b):
    d = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
    return np.clip(d, 0.0, None)


def _knn_radii(features, k):
    """Each row's squared distance to its k-th nearest other row (column 0 of a sorted row is the row itself)."""
    return np.partition(_squared_distances(features, features), k, axis=1)[:, k]


def _share_within(query, reference, radii):
    """The share of ``query`` rows within the k-NN radius of at least one ``reference`` row."""
    return float((_squared_distances(query, reference) <= radii[None, :]).any(axis=1).mean())


def precision_recall(real, fake, k=3, classifier=None):
    """{"precision", "recall"}: k-NN manifold precision and recall in the classifier's feature space."""
    reference = Reference(real, classifier, k)
    return reference.precision_recall(reference.embed_fake(fake))


class Reference:
    """Real images and a classifier, with the real features, Gaussian fit and k-NN radii computed once.

    ``evaluate(fake)`` then embeds and classifies the fakes once for every metric: what the
    trainer uses after each epoch and ``minigan eval`` uses once.
    """

    def __init__(self, real=None, classifier=None, k=3, real_labels=None):
        if not is_int(k, 1):
            raise ValueError(f"Reference: k must be a positive int, got {k!r}")
        self.judge, self.k = _judge(classifier), k
        self.kinds = kinds_of(self.judge)
        if real is None:
            real, real_labels = self.judge.heldout_set()
        self.real, self.real_labels = self.judge.embed(real), real_labels
        if len(self.real) <= k:
            raise ValueError(f"Reference: more than k={k} real images are needed, got {len(self.real)}")
        self.fit = gaussian_fit(self.real)
        self.radii = _knn_radii(self.real, k)

    def embed_fake(self, fake):
        """The classifier features of generated images; ValueError when there are k or fewer."""
        features = self.judge.embed(fake)
        if len(features) <= self.k:
            raise ValueError(f"evaluate: more than k={self.k} fake images are needed, got {len(features)}")
        return features

    def precision_recall(self, features):
        """{"precision", "recall"} of generated images' features against the real ones."""
        return {"precision": _share_within(features, self.real, self.radii),
                "recall": _share_within(self.real, features, _knn_radii(features, self.k))}

    def evaluate(self, fake, labels=None):
        """{"fid", "score", "coverage", "missing", "histogram", "kl_uniform", "precision", "recall", "n"}.

        ``labels``: the classes a conditional generator was asked for, one per fake; adds
        ``metrics.conditional``'s "agreement", "agreement_per_class", "intra_fid" and "intra_fid_per_class"
        (intra-FID against the real images of each class: the held-out ones, or ``real_labels``'s).
        """
        features, p = self.embed_fake(fake), self.judge.predict(fake)
        coverage = _coverage(p)
        result = {"fid": frechet_distance(*self.fit, *gaussian_fit(features)), "score": _score(p),
                  "coverage": coverage["covered"], "missing": coverage["missing"], "histogram": coverage["histogram"],
                  "kl_uniform": coverage["kl_uniform"], **self.precision_recall(features), "n": len(features)}
        if labels is not None:
            if len(labels) != len(features):
                raise ValueError(f"evaluate: labels must be one per fake image, {len(features)}, got {len(labels)}")
            if self.real_labels is None:
                raise ValueError("evaluate: labels need the real images' labels (real_labels) for intra-FID")
            result.update(conditional.agreement(p, labels, p.shape[1]))
            result.update(conditional.intra_fid(self.real, self.real_labels, features, labels, p.shape[1]))
        return result


def evaluate(fake, real=None, classifier=None, k=3, labels=None, real_labels=None):
    """Every metric at once (see ``Reference.evaluate``); ``real`` defaults to the classifier's held-out digits.

    ``labels`` (a conditional generator's classes asked for) adds agreement and intra-FID, which need
    ``real_labels`` with ``real``.
    """
    return Reference(real, classifier, k, real_labels).evaluate(fake, labels)


def kinds_of(classifier):
    """What a classifier's classes are called in reports: "digits" for one of MNIST's digits, else "classes".

    The shipped classifier and any trained on the embedded digits (``data`` None) tell digits; one
    trained with ``minigan train-classifier --data DIR`` may tell anything (Fashion-MNIST's clothes).
    """
    return "digits" if classifier is None or classifier.data is None else "classes"


def report(result, kinds="digits"):
    """``evaluate``'s result as a few aligned lines for a person; ``kinds``: what the classes are (``kinds_of``)."""
    missing = ", ".join(str(d) for d in result["missing"]) or "none"
    shares = " ".join(f"{d}:{100 * h:.0f}%" for d, h in enumerate(result["histogram"]))
    real = "digits" if kinds == "digits" else "images"
    return "\n".join([
        f"FID               {result['fid']:.2f}   (n = {result['n']}; lower is better)",
        f"classifier score  {result['score']:.2f}   (1 to 10; higher is better)",
        f"coverage          {result['coverage']}/10 {kinds} (missing: {missing}); KL from uniform "
        f"{result['kl_uniform']:.3f}",
        f"{kinds:<18}{shares}",
        f"precision         {result['precision']:.3f}  (share of samples that look like real {real})",
        f"recall            {result['recall']:.3f}  (share of real {real} the samples cover)",
    ] + (_conditional_lines(result, kinds) if "agreement" in result else []))


def _conditional_lines(result, kinds):
    """report's lines for a conditional generator: agreement and intra-FID, overall and per class."""
    def per_class(values, form):
        return " ".join(f"{k}:{'-' if v is None else form(v)}" for k, v in enumerate(values))
    intra = "-" if result["intra_fid"] is None else f"{result['intra_fid']:.2f}"
    kind = {"digits": "digit", "classes": "class"}.get(kinds, kinds)
    return [
        f"asked-for {kind:<8}{100 * result['agreement']:.1f}%  (share of samples the classifier reads as the "
        f"{kind} asked for)",
        f"{'  per ' + kind:<18}{per_class(result['agreement_per_class'], lambda v: f'{100 * v:.0f}%')}",
        f"intra-FID         {intra}   (mean over {kinds} of each one's FID; lower is better)",
        f"{'  per ' + kind:<18}{per_class(result['intra_fid_per_class'], lambda v: f'{v:.0f}')}",
    ]

