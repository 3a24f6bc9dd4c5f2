"""Frechet distance and mode coverage, checked against closed-form values."""

import math

import numpy as np
import pytest
import scipy.linalg

from pipeline.evaluation.metrics import (
    class_histogram,
    feature_stats,
    frechet_distance,
    frechet_distance_from_stats,
    mode_coverage,
)

DIM = 8
# Large enough that the small-sample bias (about d^2/2n + 2d/n) and the
# sampling noise stay well inside the tolerances below.
N = 20_000


def _gaussian(seed: int, scale: float = 1.0, shift: float = 0.0, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, scale, size=(n, DIM))


def test_identical_features_give_zero():
    x = _gaussian(0, n=500)
    assert abs(frechet_distance(x, x)) < 1e-6


def test_shifted_mean_gives_dimension():
    # |m1 - m2|^2 = d for a unit shift in every dimension; covariances cancel.
    assert frechet_distance(_gaussian(1), _gaussian(2, shift=1.0)) == pytest.approx(DIM, rel=0.05)


def test_doubled_std_gives_dimension():
    # Tr(I + 4I - 2 (4I)^(1/2)) = d (1 + 4 - 4) = d.
    assert frechet_distance(_gaussian(3), _gaussian(4, scale=2.0)) == pytest.approx(DIM, rel=0.05)


def test_increasing_scale_increases_distance():
    reference = _gaussian(5)
    distances = [frechet_distance(reference, _gaussian(6, scale=s)) for s in (1.0, 3.0, 5.0)]
    assert distances[0] < distances[1] < distances[2]
    # Closed form d (s - 1)^2: 0, 4d, 16d.
    assert distances[1] == pytest.approx(4 * DIM, rel=0.05)
    assert distances[2] == pytest.approx(16 * DIM, rel=0.05)


def test_matches_scipy_sqrtm():
    rng = np.random.default_rng(7)
    mixing_a, mixing_b = rng.normal(size=(DIM, DIM)), rng.normal(size=(DIM, DIM))
    a = rng.normal(size=(2000, DIM)) @ mixing_a
    b = rng.normal(size=(2000, DIM)) @ mixing_b + 0.5
    mu1, s1 = feature_stats(a)
    mu2, s2 = feature_stats(b)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    expected = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean.real))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


def test_real_float_for_near_singular_covariance():
    rng = np.random.default_rng(8)
    # 3 latent directions spread over 16 features: both covariances have rank 3.
    a = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 16))
    b = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 16))
    distance = frechet_distance(a, b)
    assert type(distance) is float
    assert math.isfinite(distance) and distance >= 0.0
    assert abs(frechet_distance(a, a)) < 1e-6


def test_from_stats_closed_form():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 2.0])
    s1, s2 = np.eye(3), 9 * np.eye(3)
    # |m1 - m2|^2 = 9; Tr(I + 9I - 2 * 3I) = 3 * 4 = 12.
    assert frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(21.0)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.zeros(10), np.zeros((10, 2))),  # not 2-D
        (np.zeros((1, 2)), np.zeros((10, 2))),  # one row has no covariance
        (np.zeros((10, 2)), np.zeros((10, 3))),  # feature dims differ
    ],
)
def test_rejects_bad_shapes(a, b):
    with pytest.raises(ValueError):
        frechet_distance(a, b)


def test_class_histogram_sums_to_one():
    histogram = class_histogram(np.array([0, 0, 1, 3]), num_classes=4)
    np.testing.assert_allclose(histogram, [0.5, 0.25, 0.0, 0.25])
    with pytest.raises(ValueError):
        class_histogram(np.array([0, 4]), num_classes=4)


def _real_labels() -> np.ndarray:
    # Non-uniform, like the real MNIST test split: class k has 90 + 2k samples.
    return np.repeat(np.arange(10), 90 + 2 * np.arange(10))


def test_coverage_all_classes():
    real = _real_labels()
    result = mode_coverage(real.copy(), real, num_classes=10, threshold=0.1)
    assert result["classes_covered"] == 10
    assert result["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert sum(result["generated_histogram"]) == pytest.approx(1.0)


def test_coverage_single_class():
    real = _real_labels()
    result = mode_coverage(np.full(500, 3), real, num_classes=10, threshold=0.1)
    p_real = np.mean(real == 3)
    assert result["classes_covered"] == 1
    assert result["class_kl"] == pytest.approx(math.log(1.0 / p_real))
    assert result["generated_histogram"][3] == 1.0


def test_one_stray_sample_is_not_a_mode():
    real = np.repeat(np.arange(10), 100)
    # 999 samples spread over classes 0-8, one stray sample of class 9.
    generated = np.concatenate([np.arange(999) % 9, [9]])
    result = mode_coverage(generated, real, num_classes=10, threshold=0.1)
    assert result["classes_covered"] == 9
    assert math.isfinite(result["class_kl"])


def test_conditional_scores_of_a_perfect_and_a_confused_generator():
    from pipeline.evaluation.metrics import conditional_scores

    requested = np.arange(10) % 5
    perfect = np.eye(5)[requested] * 20.0
    scores = conditional_scores(perfect, requested)
    assert scores["conditional_accuracy"] == 1.0
    assert scores["conditional_cross_entropy"] < 1e-6
    uniform = np.zeros((10, 5))
    scores = conditional_scores(uniform, requested)
    assert scores["conditional_accuracy"] in (0.0, 0.2)  # argmax ties go to class 0
    assert scores["conditional_cross_entropy"] == pytest.approx(np.log(5))
    with pytest.raises(ValueError, match="do not match"):
        conditional_scores(uniform, requested[:3])
