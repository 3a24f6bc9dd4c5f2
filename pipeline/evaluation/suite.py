"""Every metric of one sample against a reference, and the real-vs-real floor beside it.

A sample is scored in the evaluator's space: its features (for the Frechet
distance, KID and the k-NN metrics) and its logits (for the classifier score,
the classes covered and the conditional scores). The floor scores a real
sample the same way, so a perfect generator would match it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.evaluation.metrics import (
    classifier_score,
    conditional_scores,
    density_coverage,
    frechet_distance,
    kernel_inception_distance,
    mode_coverage,
    precision_recall,
)
from pipeline.params import EvaluateParams


@dataclass(frozen=True)
class Embedded:
    """A sample of images seen through the evaluator.

    Args:
        features: penultimate-layer features, (n, feature_dim).
        logits: class logits, (n, num_classes).
        requested: for a conditional sample, the class each image was asked
            to show (for a real sample, its true label); else None.
    """

    features: np.ndarray
    logits: np.ndarray
    requested: np.ndarray | None = None

    @property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.logits, axis=1)


@dataclass(frozen=True)
class Reference:
    """The real data a sample is compared with.

    Args:
        features: the evaluator's features of real training images.
        class_counts: how many training images each class has.
    """

    features: np.ndarray
    class_counts: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        """A label array with the training split's class histogram."""
        return np.repeat(np.arange(len(self.class_counts)), self.class_counts)


def quick_scores(
    reference: Reference, sample: Embedded, coverage_threshold: float = 0.1
) -> dict[str, float]:
    """The cheap metrics, fit to track during training.

    Returns:
        domain_fid, classifier_score, classes_covered and class_kl; a
        conditional sample adds conditional_accuracy and
        conditional_cross_entropy.
    """
    # One split: the spread over splits is not worth its noise at a small n.
    score, _ = classifier_score(sample.logits, num_splits=1)
    return {
        "domain_fid": frechet_distance(sample.features, reference.features),
        "classifier_score": score,
        **_class_scores(reference, sample, coverage_threshold),
    }


def full_scores(reference: Reference, sample: Embedded, params: EvaluateParams) -> dict[str, float]:
    """Every metric of `sample` against `reference`.

    Args:
        reference: the real training sample.
        sample: the sample to score (generated, or real test for the floor).
        params: the `evaluate` section: subset sizes, splits and k.

    Returns:
        The metrics, keyed as in `metrics/<model>.json`.
    """
    kid, kid_std = kernel_inception_distance(
        sample.features,
        reference.features,
        num_subsets=params.kid_subsets,
        subset_size=params.kid_subset_size,
    )
    score, score_std = classifier_score(sample.logits, params.classifier_score_splits)
    return {
        "domain_fid": frechet_distance(sample.features, reference.features),
        "kid": kid,
        "kid_std": kid_std,
        "classifier_score": score,
        "classifier_score_std": score_std,
        **precision_recall(reference.features, sample.features, params.precision_recall_k),
        **density_coverage(reference.features, sample.features, params.density_coverage_k),
        **_class_scores(reference, sample, params.coverage_threshold),
    }


def _class_scores(
    reference: Reference, sample: Embedded, coverage_threshold: float
) -> dict[str, float]:
    """Classes covered and class KL; conditional accuracy and cross-entropy when asked for."""
    coverage = mode_coverage(
        sample.predicted, reference.labels, len(reference.class_counts), coverage_threshold
    )
    scores = {"classes_covered": coverage["classes_covered"], "class_kl": coverage["class_kl"]}
    if sample.requested is not None:
        scores.update(conditional_scores(sample.logits, sample.requested))
    return scores


def with_floors(scores: dict[str, float], floors: dict[str, float]) -> dict[str, float]:
    """Interleave each metric with its real-vs-real floor, `<name>_floor`."""
    merged: dict[str, float] = {}
    for name, value in scores.items():
        merged[name] = value
        if name in floors:
            merged[f"{name}_floor"] = floors[name]
    return merged


# The settings behind the numbers, recorded beside them in the metrics file;
# they are settings, not measurements (MLflow gets them as params).
SAMPLE_SIZE_KEYS = (
    "num_samples",
    "num_classes",
    "kid_subsets",
    "kid_subset_size",
    "classifier_score_splits",
    "precision_recall_k",
    "density_coverage_k",
)


def sample_sizes(params: EvaluateParams, num_classes: int) -> dict[str, int]:
    """The sizes behind the numbers, keyed by `SAMPLE_SIZE_KEYS`."""
    values = (
        params.num_samples,
        num_classes,
        params.kid_subsets,
        min(params.kid_subset_size, params.num_samples),
        min(params.classifier_score_splits, params.num_samples),
        params.precision_recall_k,
        params.density_coverage_k,
    )
    return dict(zip(SAMPLE_SIZE_KEYS, values, strict=True))
