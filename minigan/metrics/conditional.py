"""How well a conditional generator draws the class it is asked for: agreement and intra-FID.

- ``agreement``: the share of samples whose class, as the classifier reads it (its most likely
  class), is the one the generator was asked for; overall and per class. A generator that ignores
  its labels scores about 1/10; real digits score the classifier's accuracy (about 0.99).
- ``intra_fid``: the Fréchet distance (``metrics.frechet_distance``) between the classifier
  features of the real images of class k and of the samples asked for class k, for each k, and
  their mean (Miyato and Koyama 2018). It sees what the overall FID cannot: a generator that draws
  good digits but the wrong ones for their labels. Each class has about a tenth of the samples,
  and FID is biased upwards at small n: compare intra-FIDs only at the same n.
"""
import numpy as np

from .frechet import frechet_distance, gaussian_fit


def agreement(p, labels, num_classes):
    """{"agreement": share of argmax p == label, "agreement_per_class": that share for each class (None when
    no sample asked for it)}. Shapes: p (N, num_classes) class probabilities, labels (N,) ints."""
    labels = np.asarray(labels)
    hits = p.argmax(axis=1) == labels
    per_class = [float(hits[labels == k].mean()) if (labels == k).any() else None for k in range(num_classes)]
    return {"agreement": float(hits.mean()), "agreement_per_class": per_class}


def intra_fid(real_features, real_labels, fake_features, fake_labels, num_classes):
    """{"intra_fid": mean over classes, "intra_fid_per_class": the FID of each class (None where either set has
    fewer than 2 images of it)}. Shapes: features (N, d), labels (N,) ints."""
    per_class = []
    for k in range(num_classes):
        real, fake = real_features[np.asarray(real_labels) == k], fake_features[np.asarray(fake_labels) == k]
        per_class.append(frechet_distance(*gaussian_fit(real), *gaussian_fit(fake))
                         if len(real) >= 2 and len(fake) >= 2 else None)
    known = [f for f in per_class if f is not None]
    return {"intra_fid": float(np.mean(known)) if known else None, "intra_fid_per_class": per_class}
