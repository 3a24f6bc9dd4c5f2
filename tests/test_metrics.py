"""Sample-quality metrics, checked against closed-form values and brute force."""

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial

from pipeline.evaluation.metrics import (
    _ball_membership,
    _knn_radii,
    class_histogram,
    classifier_score,
    density_coverage,
    feature_stats,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_inception_distance,
    matched_code_accuracy,
    mode_coverage,
    precision_recall,
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


def _normal(seed: int, n: int, dim: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, scale, size=(n, dim))


def _mmd2_unbiased(a: np.ndarray, b: np.ndarray) -> float:
    """The KID estimator written out pair by pair, as a reference."""

    def kernel(x, y):
        return (x @ y / len(x) + 1.0) ** 3

    m = len(a)
    within = sum(
        kernel(s[i], s[j]) for s in (a, b) for i in range(m) for j in range(m) if i != j
    ) / (m * (m - 1))
    across = sum(kernel(x, y) for x in a for y in b) / m**2
    return within - 2.0 * across


def test_kid_near_zero_for_one_distribution_and_positive_for_a_shift():
    a, b = _normal(20, 1000, 16), _normal(21, 1000, 16)
    mean, std = kernel_inception_distance(a, b, num_subsets=20, subset_size=500)
    # The estimator is unbiased, so its mean over subsets sits within a few
    # single-subset spreads of 0; 1e-3 guards against a degenerate std.
    bound = 3.0 * std + 1e-3
    assert 0.0 < std < 0.05
    assert abs(mean) < bound
    shifted, _ = kernel_inception_distance(
        a, _normal(22, 1000, 16, shift=0.5), num_subsets=20, subset_size=500
    )
    assert shifted > 10.0 * bound


def test_kid_matches_the_pairwise_formula_and_clamps_the_subset_size():
    a, b = _normal(23, 30, 4), _normal(24, 30, 4, shift=0.3, scale=1.5)
    # subset_size is clamped to 30, so every subset is a whole set in another
    # order: all subsets agree with the formula on the full sets.
    mean, std = kernel_inception_distance(a, b, num_subsets=5, subset_size=1000)
    assert mean == pytest.approx(_mmd2_unbiased(a, b), rel=1e-9)
    assert std < 1e-12
    # Against itself the unbiased estimate is slightly negative (the dropped
    # diagonal k(x, x) is the largest entry of each row of a PSD kernel); a
    # clipped or biased estimator would give 0 or a positive value.
    self_mean, _ = kernel_inception_distance(a, a, num_subsets=3, subset_size=1000)
    assert self_mean == pytest.approx(_mmd2_unbiased(a, a), rel=1e-9)
    assert self_mean < 0.0
    # Clamped to the smaller set: drawing 40 of 30 rows would raise.
    mean, _ = kernel_inception_distance(a, _normal(25, 40, 4), num_subsets=3, subset_size=1000)
    assert math.isfinite(mean)


def test_kid_rejects_bad_inputs():
    with pytest.raises(ValueError, match="dimensions differ"):
        kernel_inception_distance(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        kernel_inception_distance(np.zeros((10, 3)), np.zeros((10, 3)), subset_size=1)


def _one_hot_logits(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    return 50.0 * np.eye(num_classes)[labels]


def test_classifier_score_is_one_for_a_single_class():
    confident = _one_hot_logits(np.full(100, 3))
    unsure = np.tile(np.random.default_rng(26).normal(size=10), (100, 1))
    for logits in (confident, unsure):
        mean, std = classifier_score(logits, num_splits=4)
        assert mean == pytest.approx(1.0, abs=1e-9)
        assert std == pytest.approx(0.0, abs=1e-9)


def test_classifier_score_of_confident_uniform_labels():
    labels = np.random.default_rng(27).integers(0, 10, size=1000)
    mean, std = classifier_score(_one_hot_logits(labels), num_splits=1)
    # With one-hot p(y|x) the score is exp(entropy of the label histogram),
    # which a finite sample keeps below 10: about 10 exp(-9 / 2n) = 9.955.
    histogram = np.bincount(labels, minlength=10) / len(labels)
    assert mean == pytest.approx(np.exp(-np.sum(histogram * np.log(histogram))), abs=1e-9)
    assert mean == pytest.approx(10.0 * np.exp(-9.0 / 2000.0), abs=0.05)
    assert mean < 10.0
    assert std == 0.0
    # Exactly balanced labels reach the maximum, the number of classes.
    balanced, _ = classifier_score(_one_hot_logits(np.arange(1000) % 10), num_splits=1)
    assert balanced == pytest.approx(10.0, abs=1e-6)


def test_classifier_score_splits():
    logits = 3.0 * np.random.default_rng(28).normal(size=(1000, 10))
    mean, std = classifier_score(logits, num_splits=10)
    per_split = [classifier_score(part, num_splits=1)[0] for part in np.split(logits, 10)]
    assert mean == pytest.approx(np.mean(per_split), rel=1e-12)
    assert std == pytest.approx(np.std(per_split), rel=1e-9)
    assert std > 0.0
    # Clamped to one sample per split, where p(y) = p(y|x) and the score is 1.
    assert classifier_score(logits[:5], num_splits=10) == pytest.approx((1.0, 0.0), abs=1e-9)


def test_radii_exclude_the_point_itself():
    line = np.arange(10, dtype=np.float64)[:, None]
    np.testing.assert_allclose(_knn_radii(line, k=1), np.ones(10))
    # A duplicated point is its own nearest neighbour at distance 0.
    np.testing.assert_allclose(_knn_radii(np.array([[0.0], [0.0], [1.0], [3.0]]), 1), [0, 0, 1, 2])
    # Half-integer fakes sit in the unit balls of both integer neighbours;
    # balls of radius 0 would contain none of them.
    halves = line[:-1] + 0.5
    assert density_coverage(line, halves, k=1) == {"density": 2.0, "coverage": 1.0}
    assert precision_recall(line, halves, k=1) == {"precision": 1.0, "recall": 1.0}
    # Balls are closed: 10 lies on the boundary of the ball around 9, 11 outside.
    beyond = np.array([[10.0], [11.0]])
    assert density_coverage(line, beyond, k=1) == {"density": 0.5, "coverage": 0.1}


def test_ball_membership_matches_brute_force_across_chunks():
    queries, centres = _normal(29, 23, 3), _normal(30, 17, 3)
    radii = np.random.default_rng(31).uniform(0.5, 2.0, size=17)
    inside = scipy.spatial.distance.cdist(queries, centres) <= radii
    # 7 elements per block leaves one query row per chunk.
    for chunk_elements in (7, 40, 10_000):
        counts, hit = _ball_membership(queries, centres, radii, chunk_elements)
        np.testing.assert_array_equal(counts, inside.sum(axis=1))
        np.testing.assert_array_equal(hit, inside.any(axis=0))
    assert 0 < inside.sum() < inside.size  # the check above is not trivial


def test_precision_recall_convention():
    # Fakes collapsed near the centre of a wide real distribution: every fake
    # looks real (high precision) but most of the real data is missed (low
    # recall). Swapping the two would fail both bounds.
    real, fake = _normal(32, 200, 16, scale=3.0), _normal(33, 200, 16, scale=0.1)
    scores = precision_recall(real, fake, k=3)
    assert scores["precision"] > 0.8
    assert scores["recall"] < 0.3


def test_density_coverage_of_matching_distributions():
    scores = density_coverage(_normal(34, 2000, 16), _normal(35, 2000, 16), k=5)
    assert scores["density"] == pytest.approx(1.0, abs=0.15)
    # Naeem et al.: E[coverage] = 1 - 2^-k for equally many real and fake points.
    assert scores["coverage"] == pytest.approx(1.0 - 2.0**-5, abs=0.03)


def test_coverage_of_a_single_mode():
    rng = np.random.default_rng(36)
    # 10 unit Gaussians 20 apart; the fakes all come from the first one.
    centres = 20.0 * np.eye(10)
    real = centres[np.repeat(np.arange(10), 100)] + rng.normal(size=(1000, 10))
    fake = centres[0] + rng.normal(size=(1000, 10))
    assert density_coverage(real, fake, k=5)["coverage"] == pytest.approx(0.1, abs=0.03)


@pytest.mark.parametrize("metric", [precision_recall, density_coverage])
def test_nearest_neighbour_metrics_reject_bad_inputs(metric):
    with pytest.raises(ValueError, match="dimensions differ"):
        metric(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="k: need"):
        metric(_normal(37, 5, 2), _normal(38, 5, 2), k=5)


# --- InfoGAN's categorical-code accuracy ------------------------------------------------


def test_code_accuracy_undoes_a_permutation_of_the_classes():
    codes = np.arange(1000) % 10
    permutation = np.random.default_rng(0).permutation(10)
    assert permutation[0] != 0  # a plain accuracy would score this near 0
    assert matched_code_accuracy(codes, permutation[codes]) == 1.0
    # One image in ten of code 0 drawn as another class: 1% wrong.
    predicted = permutation[codes]
    predicted[:100:10] = permutation[1]
    assert matched_code_accuracy(codes, predicted) == pytest.approx(0.99)


def test_code_accuracy_of_unrelated_classes_is_about_chance():
    rng = np.random.default_rng(1)
    codes = np.arange(20_000) % 10
    accuracy = matched_code_accuracy(codes, rng.integers(0, 10, len(codes)))
    # The best of 10! matchings is a little above 1/10 on a finite sample.
    assert 0.1 <= accuracy < 0.12


def test_code_accuracy_matches_one_to_one():
    """Two codes drawing the same class: only one of them may claim it."""
    codes = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([5, 5, 5, 5, 3, 3])
    assert matched_code_accuracy(codes, predicted) == pytest.approx(4 / 6)


def test_code_accuracy_rejects_bad_inputs():
    with pytest.raises(ValueError, match="do not match"):
        matched_code_accuracy(np.arange(3), np.arange(4))
    with pytest.raises(ValueError, match="non-negative"):
        matched_code_accuracy(np.array([0, -1]), np.array([0, 1]))
