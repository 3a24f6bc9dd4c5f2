"""Evaluation: the domain classifier and the metrics computed on its outputs.

`metrics` needs only numpy; import `pipeline.evaluation.classifier` explicitly
for the Keras parts, so that metric users do not pay for importing TensorFlow.
"""

from pipeline.evaluation.metrics import (
    class_histogram,
    feature_stats,
    frechet_distance,
    frechet_distance_from_stats,
    mode_coverage,
)

__all__ = [
    "class_histogram",
    "feature_stats",
    "frechet_distance",
    "frechet_distance_from_stats",
    "mode_coverage",
]
