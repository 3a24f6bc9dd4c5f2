"""Evaluation: the domain classifier and the metrics computed on its outputs.

`metrics` and `suite` need only numpy, scipy and scikit-learn; import
`pipeline.evaluation.classifier` or `evaluate` explicitly for the Keras parts,
so that metric users do not pay for importing TensorFlow.
"""

from pipeline.evaluation.metrics import (
    class_histogram,
    classifier_score,
    conditional_scores,
    density_coverage,
    feature_stats,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_inception_distance,
    mode_coverage,
    precision_recall,
)

__all__ = [
    "class_histogram",
    "classifier_score",
    "conditional_scores",
    "density_coverage",
    "feature_stats",
    "frechet_distance",
    "frechet_distance_from_stats",
    "kernel_inception_distance",
    "mode_coverage",
    "precision_recall",
]
