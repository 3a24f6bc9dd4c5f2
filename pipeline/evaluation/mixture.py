"""A Gaussian-mixture source's evaluator and checks: the `ring` benchmark's (VEEGAN protocol).

Point data has no domain classifier to train: the mixture that made it is
known (`info.json`'s `extra.mixture`), so the evaluator is its Bayes
classifier, exact and built, not fitted
(`pipeline.evaluation.classifier.mixture_classifier`). Its features are the points
themselves, so every registered metric (FID, KID, precision/recall,
coverage...) compares the point clouds directly, and its logits pick each
point's nearest mode (the classes covered are then the modes hit).

The checks of Metz et al. 2017 and VEEGAN (Srivastava et al. 2017): a sample
is of high quality when it lies within 3 standard deviations of its nearest
mode; a mode is covered when enough high-quality samples land on it.
NumPy only: the metric registry, which the report reads, imports this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# How far from its nearest centre a high-quality sample may lie, in standard deviations.
QUALITY_STDS = 3.0


@dataclass(frozen=True)
class Mixture:
    """Equal-weight isotropic Gaussians: their centres (K, D) and their common std."""

    centres: np.ndarray
    std: float

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> Mixture | None:
        """The mixture a source recorded in `info.json`'s `extra`; None for any other data."""
        recorded = extra.get("mixture")
        if recorded is None:
            return None
        return cls(np.asarray(recorded["centres"], dtype=np.float64), float(recorded["std"]))

    def nearest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each point's nearest centre and its distance to it (points: (n, D))."""
        points = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
        distances = np.linalg.norm(points[:, None, :] - self.centres[None], axis=-1)
        nearest = np.argmin(distances, axis=1)
        return nearest, distances[np.arange(len(points)), nearest]


def mixture_scores(
    points: np.ndarray, mixture: Mixture, real_share: np.ndarray, threshold: float
) -> dict[str, float]:
    """The share of high-quality samples, and the modes they cover.

    Args:
        points: the samples, (n, D) (the evaluator's features).
        mixture: the data's mixture.
        real_share: each mode's share of the real data.
        threshold: a mode counts as covered when its high-quality samples are
            at least this fraction of its real share (`evaluate.coverage_threshold`,
            as for the classes covered).

    Returns:
        `high_quality` (share of samples within 3 std of their nearest mode)
        and `modes_covered`.
    """
    nearest, distance = mixture.nearest(points)
    good = distance <= QUALITY_STDS * mixture.std
    if not len(points):
        return {"high_quality": 0.0, "modes_covered": 0.0}
    counts = np.bincount(nearest[good], minlength=len(mixture.centres))
    covered = counts / len(points) >= threshold * np.asarray(real_share)
    return {"high_quality": float(good.mean()), "modes_covered": float(covered.sum())}
