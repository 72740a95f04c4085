"""Agreement and intra-FID: how well a conditional generator draws the class it is asked for."""
import numpy as np
import pytest

import minigan as mg
from minigan.metrics import conditional


def test_agreement_counts_the_argmax_against_the_label_overall_and_per_class():
    p = np.eye(3)[[0, 1, 2, 2, 1, 0]]                   # the classifier reads 0 1 2 2 1 0
    labels = np.array([0, 1, 2, 0, 0, 0])               # asked for 0 1 2 0 0 0
    result = conditional.agreement(p, labels, 4)
    assert result["agreement"] == pytest.approx(4 / 6)
    assert result["agreement_per_class"] == [pytest.approx(2 / 4), 1.0, 1.0, None]   # class 3 never asked for


def test_intra_fid_is_each_classs_frechet_distance_and_their_mean(rng):
    real = rng.standard_normal((40, 3))
    real_labels = np.repeat([0, 1], 20)
    fake = real.copy()
    fake[20:] += 2.0                                    # class 1 shifted by 2 in each of 3 features
    result = conditional.intra_fid(real, real_labels, fake, real_labels, 3)
    zero, one, absent = result["intra_fid_per_class"]
    assert zero == pytest.approx(0.0, abs=1e-9) and one == pytest.approx(12.0, rel=1e-9) and absent is None
    assert result["intra_fid"] == pytest.approx(6.0)


def test_evaluate_with_labels_adds_both_and_checks_their_length(rng):
    images, labels = mg.data.load_mnist(limit=60)
    reference = mg.metrics.Reference(images[:30], real_labels=labels[:30])
    result = reference.evaluate(images[30:], labels[30:])
    assert result["agreement"] > 0.9 and len(result["intra_fid_per_class"]) == 10
    with pytest.raises(ValueError, match="labels must be one per fake image, 30, got 29"):
        reference.evaluate(images[30:], labels[31:])
    with pytest.raises(ValueError, match="labels need the real images' labels"):
        mg.metrics.Reference(images[:30]).evaluate(images[30:], labels[30:])
    report = mg.metrics.report(result)
    assert "asked-for digit" in report and "per digit" in report and "classe " not in report
