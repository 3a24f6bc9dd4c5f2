"""Sample-quality metrics on classifier features and labels (numpy, float64)."""

from __future__ import annotations

import numpy as np


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
