"""Sample-quality metrics on classifier features and labels (numpy, float64)."""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.special


def _check_features(features: np.ndarray, name: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D (samples, features) array, got shape {features.shape}"
        )
    if features.shape[0] < 2:
        raise ValueError(
            f"{name}: need at least 2 samples for a covariance, got {features.shape[0]}"
        )
    return features


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a feature matrix, in float64.

    Args:
        features: array of shape (samples, dim), at least 2 samples.

    Returns:
        `(mu, sigma)`: the mean (dim,) and unbiased covariance (dim, dim).
    """
    features = _check_features(features, "features")
    # atleast_2d: np.cov returns a scalar for a single feature.
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix."""
    eigvals, eigvecs = np.linalg.eigh(matrix)
    # Round-off can push zero eigenvalues of a singular covariance below 0.
    root = np.sqrt(np.clip(eigvals, 0.0, None))
    return (eigvecs * root) @ eigvecs.T


def frechet_distance_from_stats(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Tr((S1 S2)^(1/2)) is computed as the sum of square roots of the
    eigenvalues of sqrt(S1) S2 sqrt(S1), which is symmetric PSD and has the
    same spectrum as S1 S2. That keeps every step real, unlike a general
    matrix square root which can return complex noise for singular inputs.

    Args:
        mu1: mean of the first Gaussian, shape (dim,).
        sigma1: covariance of the first Gaussian, shape (dim, dim).
        mu2: mean of the second Gaussian, shape (dim,).
        sigma2: covariance of the second Gaussian, shape (dim, dim).

    Returns:
        The squared Frechet (2-Wasserstein) distance, a Python float >= 0.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    dim = mu1.shape[0]
    if mu1.shape != (dim,) or mu2.shape != (dim,):
        raise ValueError(f"means must both have shape ({dim},), got {mu1.shape} and {mu2.shape}")
    if sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            f"covariances must both have shape ({dim}, {dim}), "
            f"got {sigma1.shape} and {sigma2.shape}"
        )
    sqrt1 = _sqrt_psd(sigma1)
    middle = sqrt1 @ sigma2 @ sqrt1
    middle = (middle + middle.T) / 2  # exact symmetry for eigvalsh
    eigvals = np.clip(np.linalg.eigvalsh(middle), 0.0, None)
    trace_sqrt = np.sqrt(eigvals).sum()
    diff = mu1 - mu2
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    # Cancellation can leave a tiny negative value for identical inputs.
    return float(max(distance, 0.0))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets.

    The estimate is biased upwards at small sample sizes: compare values only
    at the same number of samples, with more samples than feature dimensions.

    Args:
        features_a: array of shape (samples_a, dim), at least 2 samples.
        features_b: array of shape (samples_b, dim), at least 2 samples.

    Returns:
        The Frechet distance as a Python float.

    Raises:
        ValueError: an input is not 2-D, has fewer than 2 rows, or the
            feature dimensions differ.
    """
    features_a = _check_features(features_a, "features_a")
    features_b = _check_features(features_b, "features_b")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"feature dimensions differ: {features_a.shape[1]} and {features_b.shape[1]}"
        )
    return frechet_distance_from_stats(*feature_stats(features_a), *feature_stats(features_b))


def class_histogram(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Share of each class among `labels`.

    Args:
        labels: integer class labels in [0, num_classes).
        num_classes: number of classes.

    Returns:
        float64 array of shape (num_classes,) summing to 1.

    Raises:
        ValueError: `labels` is empty or holds a label out of range.
    """
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0:
        raise ValueError("labels: empty, cannot build a class histogram")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected integers, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels: values must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]"
        )
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    return counts / counts.sum()


def mode_coverage(
    generated_labels: np.ndarray,
    real_labels: np.ndarray,
    num_classes: int,
    threshold: float = 0.1,
) -> dict:
    """How many classes a generator covers, and how far its class mix is off.

    A class counts as covered when its share among generated samples is at
    least `threshold` times its share among real samples. A bare "present"
    test would let one stray sample (a misclassified blob, say) count as a
    mode the generator has learned; the relative threshold asks for a real
    fraction of the expected mass.

    Args:
        generated_labels: classifier labels of generated samples.
        real_labels: labels of real samples (the reference histogram).
        num_classes: number of classes.
        threshold: fraction of the real share a class needs to count.

    Returns:
        `{"classes_covered": int, "class_kl": float, "generated_histogram":
        list[float]}`, where `class_kl` is KL(p_generated || p_real) in nats.
        It is finite whenever every class occurs among the real labels;
        classes missing from the generated samples contribute 0.
    """
    p_gen = class_histogram(generated_labels, num_classes)
    p_real = class_histogram(real_labels, num_classes)
    # `p_gen > 0` keeps a class absent from both histograms from counting.
    covered = int(np.sum((p_gen > 0) & (p_gen >= threshold * p_real)))
    support = p_gen > 0
    with np.errstate(divide="ignore"):
        class_kl = float(np.sum(p_gen[support] * np.log(p_gen[support] / p_real[support])))
    return {
        "classes_covered": covered,
        "class_kl": class_kl,
        "generated_histogram": [float(p) for p in p_gen],
    }


def conditional_scores(logits: np.ndarray, requested: np.ndarray) -> dict[str, float]:
    """How well a conditional generator honours the labels it was asked for.

    Args:
        logits: the evaluator's logits of the generated samples, (n, K).
        requested: the label each sample was generated for, (n,).

    Returns:
        `conditional_accuracy`: the share classified as requested;
        `conditional_cross_entropy`: mean -log p(requested | sample) in nats
        (TF-GAN's measure for conditional MNIST).
    """
    logits = np.asarray(logits, dtype=np.float64)
    requested = np.asarray(requested).reshape(-1)
    if logits.ndim != 2 or len(logits) != len(requested) or len(requested) == 0:
        raise ValueError(
            f"logits {logits.shape} and requested labels {requested.shape} do not match"
        )
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    picked = log_probs[np.arange(len(requested)), requested]
    return {
        "conditional_accuracy": float(np.mean(np.argmax(logits, axis=1) == requested)),
        "conditional_cross_entropy": float(-picked.mean()),
    }


def matched_code_accuracy(codes: np.ndarray, predicted: np.ndarray) -> float:
    """The share of samples whose class is the one matched to their code (InfoGAN's check).

    An unsupervised code's values carry no class names: value 3 may draw
    sevens. Each code value is matched to one class, the one-to-one matching
    that agrees with the most samples (Hungarian algorithm on the code-by-class
    counts), and the accuracy is scored under it. With more code values than
    classes (or fewer), the values (or classes) left unmatched count as wrong.

    Args:
        codes: the categorical code each sample was made with, (n,) ints >= 0.
        predicted: the class the evaluator gives each sample, (n,) ints >= 0.
    """
    codes = np.asarray(codes).reshape(-1)
    predicted = np.asarray(predicted).reshape(-1)
    if len(codes) != len(predicted) or len(codes) == 0:
        raise ValueError(
            f"codes {codes.shape} and predicted classes {predicted.shape} do not match"
        )
    if min(codes.min(), predicted.min()) < 0:
        raise ValueError("codes and classes must be non-negative integers")
    counts = np.zeros((codes.max() + 1, predicted.max() + 1), dtype=np.int64)
    np.add.at(counts, (codes, predicted), 1)
    rows, columns = scipy.optimize.linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, columns].sum() / len(codes))


def _check_feature_pair(
    features_a: np.ndarray, features_b: np.ndarray, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    features_a = _check_features(features_a, names[0])
    features_b = _check_features(features_b, names[1])
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"feature dimensions differ: {names[0]} has {features_a.shape[1]}, "
            f"{names[1]} has {features_b.shape[1]}"
        )
    return features_a, features_b


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    kernel = x @ y.T
    kernel /= x.shape[1]
    kernel += 1.0
    # In place and by products: a generic `** 3` costs more than the matmul.
    cube = kernel * kernel
    cube *= kernel
    return cube


def kernel_inception_distance(
    features_a: np.ndarray,
    features_b: np.ndarray,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018) between two feature sets.

    The unbiased MMD^2 estimate with the kernel k(x, y) = (x.y / dim + 1)^3,
    averaged over random subsets. Unlike the Frechet distance it has no
    small-sample bias, so values at different sample sizes are comparable.
    Being unbiased, it can come out slightly negative for matching sets.

    Args:
        features_a: array of shape (samples_a, dim), at least 2 samples.
        features_b: array of shape (samples_b, dim), at least 2 samples.
        num_subsets: number of random subsets to average over.
        subset_size: samples per subset, clamped to the smaller set.
        seed: seed of the subset draws.

    Returns:
        `(mean, std)` of the MMD^2 estimates over the subsets (population std).

    Raises:
        ValueError: bad shapes, differing feature dimensions, fewer than
            2 samples per subset or `num_subsets` < 1.
    """
    features_a, features_b = _check_feature_pair(
        features_a, features_b, ("features_a", "features_b")
    )
    m = min(subset_size, len(features_a), len(features_b))
    if m < 2:
        raise ValueError(f"subset_size: the unbiased estimate needs at least 2 samples, got {m}")
    if num_subsets < 1:
        raise ValueError(f"num_subsets: need at least 1, got {num_subsets}")
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets)
    for i in range(num_subsets):
        a = features_a[rng.choice(len(features_a), m, replace=False)]
        b = features_b[rng.choice(len(features_b), m, replace=False)]
        k_aa, k_bb = _polynomial_kernel(a, a), _polynomial_kernel(b, b)
        # The diagonal k(x, x) pairs a sample with itself; dropping it is
        # what removes the bias of the plain V-statistic.
        within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
        estimates[i] = within - 2.0 * _polynomial_kernel(a, b).mean()
    return float(estimates.mean()), float(estimates.std())


def classifier_score(logits: np.ndarray, num_splits: int = 10) -> tuple[float, float]:
    """Inception Score analogue from a classifier's logits.

    exp(E_x KL(p(y|x) || p(y))), where p(y) is the marginal over the split.
    It ranges from 1 (every sample gets the same class distribution) to K
    (confident predictions spread evenly over all K classes). With a finite
    split the empirical marginal is never exactly uniform, so even a perfect
    generator scores a little below K (about K exp(-(K - 1) / 2n)).

    Args:
        logits: classifier logits of shape (samples, classes).
        num_splits: number of contiguous splits, clamped to the sample count.

    Returns:
        `(mean, std)` of the per-split scores (population std).

    Raises:
        ValueError: `logits` is not a non-empty 2-D array or `num_splits` < 1.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(
            f"logits: expected a non-empty (samples, classes) array, got {logits.shape}"
        )
    if num_splits < 1:
        raise ValueError(f"num_splits: need at least 1, got {num_splits}")
    # Log-probabilities stay finite where softmax would underflow to 0,
    # so the KL terms below never meet 0 * log(0).
    log_probs = scipy.special.log_softmax(logits, axis=1)
    scores = []
    for split in np.array_split(log_probs, min(num_splits, len(log_probs))):
        log_marginal = scipy.special.logsumexp(split, axis=0) - np.log(len(split))
        kl = np.sum(np.exp(split) * (split - log_marginal), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest neighbour in its own set."""
    if not 1 <= k < len(features):
        raise ValueError(f"k: need 1 <= k < number of samples ({len(features)}), got {k}")
    # Imported here: scikit-learn takes about 2 s to import, which the
    # Frechet and classifier metrics should not pay for.
    from sklearn.neighbors import NearestNeighbors

    # A self-query returns each point first at distance 0; column k skips it.
    # Skipping by index instead would give a duplicated point a radius > 0.
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return distances[:, k]


def _ball_membership(
    queries: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk_elements: int = 10_000_000
) -> tuple[np.ndarray, np.ndarray]:
    """Which balls B(centres[i], radii[i]) contain which queries, closed balls.

    Args:
        queries: array of shape (num_queries, dim).
        centres: array of shape (num_centres, dim).
        radii: array of shape (num_centres,).
        chunk_elements: size of one block of the distance matrix, 80 MB at
            the default; a full 10k x 10k float64 matrix would be 800 MB.

    Returns:
        `(counts, hit)`: for each query the number of balls containing it,
        (num_queries,); for each ball whether it contains any query,
        (num_centres,).
    """
    counts = np.empty(len(queries), dtype=np.int64)
    hit = np.zeros(len(centres), dtype=bool)
    # |q - c|^2 <= r^2 rearranged as |c|^2 - r^2 - 2 q.c <= -|q|^2: the -2 is
    # folded into the centres and one add and one compare touch each block
    # element. Negative round-off needs no clipping since r^2 >= 0.
    scaled_centres = -2.0 * centres
    centre_offsets = np.einsum("ij,ij->i", centres, centres) - radii**2
    query_norms = np.einsum("ij,ij->i", queries, queries)
    chunk = max(1, chunk_elements // len(centres))
    for start in range(0, len(queries), chunk):
        rows = slice(start, start + chunk)
        block = queries[rows] @ scaled_centres.T
        block += centre_offsets
        inside = block <= -query_norms[rows, None]
        counts[rows] = np.count_nonzero(inside, axis=1)
        hit |= inside.any(axis=0)
    return counts, hit


def precision_recall(
    real_features: np.ndarray, fake_features: np.ndarray, k: int = 3
) -> dict[str, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each point gets a ball reaching to its k-th nearest neighbour in its own
    set. Precision is the share of fake points inside some real ball (how
    realistic the samples are); recall is the share of real points inside
    some fake ball (how much of the real data the generator reaches).

    Args:
        real_features: array of shape (real_samples, dim).
        fake_features: array of shape (fake_samples, dim).
        k: neighbour that sets the ball radii; both sets need more than k points.

    Returns:
        `{"precision": float, "recall": float}`, both in [0, 1].

    Raises:
        ValueError: bad shapes, differing feature dimensions or k out of range.
    """
    real, fake = _check_feature_pair(
        real_features, fake_features, ("real_features", "fake_features")
    )
    fake_in_real, _ = _ball_membership(fake, real, _knn_radii(real, k))
    real_in_fake, _ = _ball_membership(real, fake, _knn_radii(fake, k))
    return {
        "precision": float(np.mean(fake_in_real > 0)),
        "recall": float(np.mean(real_in_fake > 0)),
    }


def density_coverage(
    real_features: np.ndarray, fake_features: np.ndarray, k: int = 5
) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020).

    Both use balls around the real points only (k-th nearest real neighbour),
    which makes them less sensitive to fake outliers than precision and
    recall. Density is the mean number of real balls a fake point falls in,
    over k: about 1 when the distributions match, above 1 where fake points
    crowd dense real regions. Coverage is the share of real balls holding at
    least one fake point; for matching distributions of equal size it is
    about 1 - 2^-k.

    Args:
        real_features: array of shape (real_samples, dim), more than k samples.
        fake_features: array of shape (fake_samples, dim).
        k: neighbour that sets the real ball radii.

    Returns:
        `{"density": float, "coverage": float}`; coverage lies in [0, 1].

    Raises:
        ValueError: bad shapes, differing feature dimensions or k out of range.
    """
    real, fake = _check_feature_pair(
        real_features, fake_features, ("real_features", "fake_features")
    )
    counts, hit = _ball_membership(fake, real, _knn_radii(real, k))
    return {
        "density": float(counts.sum() / (k * len(fake))),
        "coverage": float(np.mean(hit)),
    }
