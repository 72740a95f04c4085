"""Quality metrics: FID's algebra, the metrics on real digits, noise and a one-digit "generator"."""
import numpy as np
import pytest

import minigan as mg
from minigan import metrics


@pytest.fixture(scope="module")
def digits():
    judge = mg.classifier.load()
    x, y = mg.data.load_mnist()
    rest = np.setdiff1d(np.arange(len(x)), judge.heldout)
    pick = np.random.default_rng(0).choice(rest, 1000, replace=False)
    return judge.heldout_images(), x[pick], x[rest], y[rest]


def test_frechet_distance_against_closed_forms(rng):
    mu1, mu2 = rng.standard_normal(4), rng.standard_normal(4)
    a, b = rng.uniform(0.1, 2, 4), rng.uniform(0.1, 2, 4)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()     # diagonal covariances
    assert metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))                                # rotating both changes nothing
    rotated = metrics.frechet_distance(Q @ mu1, Q @ np.diag(a) @ Q.T, Q @ mu2, Q @ np.diag(b) @ Q.T)
    assert rotated == pytest.approx(expected, rel=1e-9)
    S = np.cov(rng.standard_normal((5, 6)), rowvar=False)                           # rank 4 of 6: singular
    assert metrics.frechet_distance(mu1[:1].repeat(6), S, mu1[:1].repeat(6), S) == pytest.approx(0.0, abs=1e-6)
    root = metrics.sqrt_psd(S)
    np.testing.assert_allclose(root @ root, S, atol=1e-10)


def test_fid_of_real_digits_is_far_below_noise(digits):
    heldout, other, _, _ = digits
    noise = np.random.default_rng(1).random((1000, 1, 28, 28)).astype(np.float32)
    real_real, real_noise = metrics.fid(heldout, other), metrics.fid(heldout, noise)
    assert real_real < 40 and real_noise > 50 * real_real
    assert metrics.fid(heldout, other) == real_real                                 # deterministic


def test_real_digits_cover_every_class_with_high_precision_and_recall(digits):
    heldout, other, _, _ = digits
    result = metrics.evaluate(other, heldout)
    assert result["coverage"] == 10 and result["missing"] == [] and result["kl_uniform"] < 0.02
    assert result["score"] > 8.5 and result["precision"] > 0.8 and result["recall"] > 0.8


def test_a_one_digit_generator_is_caught(digits):
    heldout, _, x, y = digits
    threes = np.resize(x[y == 3], (1000, 1, 28, 28))
    result = metrics.evaluate(threes, heldout)
    assert result["coverage"] == 1 and 3 not in result["missing"] and len(result["missing"]) == 9
    assert result["score"] < 1.5 and result["recall"] < 0.3 and result["kl_uniform"] > 2.0
    assert result["fid"] > 20 * metrics.fid(heldout, digits[1])
    assert "missing: 0, 1, 2, 4, 5, 6, 7, 8, 9" in metrics.report(result)
    assert "1/10 digits" in metrics.report(result) and "real digits" in metrics.report(result)
    other_data = metrics.report(result, kinds="classes")       # a classifier trained on other data
    assert "1/10 classes" in other_data and "real images" in other_data and "digit" not in other_data


def test_a_classifier_of_the_embedded_digits_tells_digits_and_one_of_other_data_classes():
    assert metrics.kinds_of(None) == "digits"
    assert metrics.kinds_of(mg.classifier.Classifier(*mg.classifier.build(rng=0), heldout=np.arange(3))) == "digits"
    other = mg.classifier.Classifier(*mg.classifier.build(rng=0), heldout=np.arange(3), data="/data/fashion")
    assert metrics.kinds_of(other) == "classes"


def test_metric_arguments_are_checked(digits):
    heldout = digits[0]
    with pytest.raises(ValueError, match="k must be a positive int"):
        metrics.precision_recall(heldout, heldout, k=0)
    with pytest.raises(ValueError, match=r"images must be \(N, 1, 28, 28\)"):
        metrics.fid(heldout, np.zeros((10, 28, 28), np.float32))


def test_the_shipped_classifier_follows_the_backend(cupy):
    mg.set_backend("numpy")
    on_numpy = mg.metrics._judge(None)
    mg.set_backend("cupy")
    on_cupy = mg.metrics._judge(None)
    assert on_numpy is not on_cupy and isinstance(on_cupy.features[0].W.data, cupy.ndarray)
