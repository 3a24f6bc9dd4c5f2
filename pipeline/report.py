"""A Markdown summary of every model's metrics beside their floors, and the final grids.

Plain text with relative image links, fit to paste into a pull-request
comment or read on a Git host. It reads only the evaluate and export stages'
files, so it needs neither TensorFlow nor MLflow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.fileio import atomic_file, read_json


@dataclass(frozen=True)
class Row:
    """One metric of the table.

    Args:
        key: its key in `metrics/<model>.json`.
        label: how the table names it.
        better: "lower" or "higher"; "closer" when the floor is the target.
        spread: the key of its standard deviation, if it has one.
    """

    key: str
    label: str
    better: str
    spread: str | None = None


ROWS = (
    Row("domain_fid", "Domain FID", "lower"),
    Row("kid", "KID", "lower", "kid_std"),
    Row("classifier_score", "Classifier score", "higher", "classifier_score_std"),
    Row("precision", "Precision (k-NN)", "higher"),
    Row("recall", "Recall (k-NN)", "higher"),
    Row("density", "Density", "closer"),
    Row("coverage", "Coverage", "higher"),
    Row("classes_covered", "Classes covered", "higher"),
    Row("class_kl", "Class KL (nats)", "lower"),
    Row("conditional_accuracy", "Conditional accuracy", "higher"),
    Row("conditional_cross_entropy", "Conditional cross-entropy", "lower"),
)
ARROWS = {"lower": "↓", "higher": "↑", "closer": "≈ floor"}


def load_model_metrics(models: list[str], metrics_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Each model's `metrics/<model>.json`, or an error naming the one missing."""
    loaded = {}
    for name in models:
        path = Path(metrics_dir) / f"{name}.json"
        if not path.is_file():
            raise PipelineError(f"{path}: not found; run `dvc repro evaluate@{name}` first")
        loaded[name] = read_json(path)
    return loaded


def summary_markdown(
    metrics: dict[str, dict[str, Any]], grids: dict[str, str], evaluator: dict[str, Any]
) -> str:
    """The summary as Markdown.

    Args:
        metrics: each model's metrics file, in the order to show them.
        grids: each model's final grid, as a link relative to the summary.
        evaluator: the evaluator's metrics file.
    """
    models = list(metrics)
    lines = ["# GAN pipeline: results", ""]
    lines += _sizes(next(iter(metrics.values())), evaluator)
    lines += ["", "| metric | better | real floor | " + " | ".join(models) + " |"]
    lines.append("|---|---|---|" + "---|" * len(models))
    for row in ROWS:
        if not any(row.key in m for m in metrics.values()):
            continue
        floor = next((m[f"{row.key}_floor"] for m in metrics.values() if row.key in m), None)
        cells = [_cell(m, row.key, row.spread) for m in metrics.values()]
        lines.append(
            f"| {row.label} | {ARROWS[row.better]} | {_number(floor)} | " + " | ".join(cells) + " |"
        )
    lines += ["", "## Samples", ""]
    for name in models:
        lines += [f"### {name}", "", f"![{name}: final samples]({grids[name]})", ""]
    return "\n".join(lines)


def _sizes(first: dict[str, Any], evaluator: dict[str, Any]) -> list[str]:
    accuracy = evaluator.get("test_accuracy")
    return [
        f"Every model is scored on {first['num_samples']} generated images against "
        f"{first['num_samples']} real training images, in the feature space of the "
        "pipeline's own MNIST-domain classifier"
        + (f" (test accuracy {accuracy:.3f})." if accuracy is not None else "."),
        f"The real floor scores {first['num_samples']} real test images the same way: "
        "what a perfect generator would get. KID uses "
        f"{first['kid_subsets']} subsets of {first['kid_subset_size']}; the classifier "
        f"score {first['classifier_score_splits']} splits; precision/recall "
        f"k = {first['precision_recall_k']}; density/coverage k = {first['density_coverage_k']}.",
    ]


def _cell(metrics: dict[str, Any], key: str, spread: str | None) -> str:
    if key not in metrics:
        return "–"
    text = _number(metrics[key])
    if spread and spread in metrics:
        text += f" ± {metrics[spread]:.2g}"
    return text


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def write_summary(
    models: list[str],
    metrics_dir: str | Path,
    exports_dir: str | Path,
    evaluator_metrics: str | Path,
    out_path: str | Path,
) -> None:
    """Write the summary of `models` to `out_path`, atomically.

    Args:
        models: the model names, in the order of `params.yaml`.
        metrics_dir: where the evaluate stages wrote `<model>.json`.
        exports_dir: where the export stages wrote `<model>/grid.png`.
        evaluator_metrics: the evaluator's metrics file.
        out_path: the Markdown file to write.
    """
    out_path = Path(out_path)
    metrics = load_model_metrics(models, metrics_dir)
    grids = {}
    for name in models:
        grid = Path(exports_dir) / name / "grid.png"
        if not grid.is_file():
            raise PipelineError(f"{grid}: not found; run `dvc repro export@{name}` first")
        grids[name] = Path(os.path.relpath(grid, out_path.parent)).as_posix()
    evaluator = read_json(evaluator_metrics) if Path(evaluator_metrics).is_file() else {}
    with atomic_file(out_path) as tmp:
        tmp.write_text(summary_markdown(metrics, grids, evaluator) + "\n")
