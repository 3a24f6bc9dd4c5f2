"""Fit the domain classifier on the real training split and save it."""

from __future__ import annotations

from pathlib import Path

from pipeline.data import SplitRecords, load_arrays, verify_prepared
from pipeline.evaluation.classifier import mixture_classifier, test_scores, train_classifier
from pipeline.evaluation.mixture import Mixture
from pipeline.fileio import atomic_file, write_json
from pipeline.params import EvaluatorParams
from pipeline.progress import progress_verbosity


def fit_evaluator(
    params: EvaluatorParams,
    seed: int,
    data_dir: str | Path,
    model_path: str | Path,
    metrics_path: str | Path,
) -> dict[str, float]:
    """Train the evaluator, then save it and its test metrics.

    Both files are written only once training has finished, so a failure
    leaves the previous ones in place.

    Args:
        params: the `evaluator` params section.
        seed: the run's seed.
        data_dir: the prepared dataset.
        model_path: the `.keras` file to write.
        metrics_path: the JSON file for the test metrics.

    Returns:
        The metrics written.
    """
    info = verify_prepared(data_dir)
    mixture = Mixture.from_extra(info.extra)
    if mixture is not None:
        # Points from a known mixture: its Bayes classifier, exact, nothing to fit.
        model = mixture_classifier(mixture, info.image_shape)
        metrics = test_scores(model, *load_arrays(data_dir, "test"), params.batch_size)
    else:
        model, metrics = train_classifier(
            SplitRecords.open(data_dir, "train"),
            load_arrays(data_dir, "test"),
            params,
            info.image_shape,
            info.num_classes,
            seed,
            verbose=progress_verbosity(),
        )
    metrics = {**metrics, "train_count": info.splits["train"].count}
    with atomic_file(model_path) as tmp:
        model.save(tmp)
    write_json(metrics_path, metrics)
    return metrics
