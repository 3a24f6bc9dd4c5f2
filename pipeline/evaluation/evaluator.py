"""Fit the domain classifier on the real training split and save it."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import progress_verbosity
from pipeline.data import load_info, load_split
from pipeline.evaluation.classifier import train_classifier
from pipeline.fileio import atomic_file
from pipeline.params import EvaluatorParams


def fit_evaluator(
    params: EvaluatorParams, seed: int, data_dir: str | Path, model_path: str | Path
) -> dict[str, float]:
    """Train the evaluator, save it to `model_path` and return its test metrics.

    Args:
        params: the `evaluator` params section.
        seed: the run's seed.
        data_dir: the prepared dataset.
        model_path: the `.keras` file to write.
    """
    info = load_info(data_dir)
    model, metrics = train_classifier(
        load_split(data_dir, "train"),
        load_split(data_dir, "test"),
        params,
        info.image_shape,
        info.num_classes,
        seed,
        verbose=progress_verbosity(),
    )
    with atomic_file(model_path) as tmp:
        model.save(tmp)
    return {**metrics, "train_count": info.splits["train"].count}
