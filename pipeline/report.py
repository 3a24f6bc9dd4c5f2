"""A Markdown summary of every model's metrics beside their floors, and the plots' data.

The summary is plain text with relative image links, fit to paste into a
pull-request comment or read on a Git host: a row per metric of the registry
(`pipeline.evaluation.suite.METRICS`), with its label, direction and spread.
The plot data gathers the training histories of the models in `params.yaml`
into a few CSV files that `dvc plots show` draws (dvc.yaml's top-level
`plots`, with the templates in `.dvc/plots/`). It reads only files the
stages wrote, so it needs neither TensorFlow nor MLflow (the registry's
module needs numpy, scipy and scikit-learn).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.evaluation.across_seeds import mean_and_std
from pipeline.evaluation.suite import METRICS
from pipeline.evaluation.translation_suite import TRANSLATION_METRICS
from pipeline.fileio import atomic_dir, atomic_file, read_json


def load_model_metrics(models: list[str], metrics_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Each model's `metrics/<model>.json`, or an error naming the one missing."""
    return _each_model_file(models, metrics_dir, "evaluate")


def load_seed_summaries(models: list[str], seeds_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Each model's `metrics/seeds/<model>.json` (the `seeds` stage's), or an error naming it."""
    return _each_model_file(models, seeds_dir, "seeds")


def _each_model_file(models: list[str], folder: str | Path, stage: str) -> dict[str, dict]:
    """`<folder>/<model>.json` for each model, read; missing: run `stage` first."""
    loaded = {}
    for name in models:
        path = Path(folder) / f"{name}.json"
        if not path.is_file():
            raise PipelineError(f"{path}: not found; run `dvc repro {stage}@{name}` first")
        loaded[name] = read_json(path)
    return loaded


def summary_markdown(
    metrics: dict[str, dict[str, Any]],
    grids: dict[str, str],
    evaluator: dict[str, Any],
    seeds: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The summary as Markdown: the models from noise beside the real floor, then the
    translation models each beside its baseline, then the scores over seeds.

    Args:
        metrics: each model's metrics file, in the order to show them.
        grids: each model's final grid, as a link relative to the summary.
        evaluator: the evaluator's metrics file.
        seeds: each model's scores over seeds (`pipeline.evaluation.across_seeds`);
            shown when a model has more than one seed.
    """
    models = list(metrics)
    generators = {name: m for name, m in metrics.items() if not is_translation(m)}
    translators = {name: m for name, m in metrics.items() if is_translation(m)}
    lines = ["# GAN pipeline: results", ""]
    if generators:
        lines += _sizes(next(iter(generators.values())), evaluator)
        lines += ["", *_floor_table(generators)]
    if translators:
        lines += ["", "## Image-to-image models", "", *_baseline_table(translators)]
    if seeds and any(summary["n"] > 1 for summary in seeds.values()):
        lines += ["", "## Over seeds", "", *_seeds_table(seeds)]
    lines += ["", "## Samples", ""]
    for name in models:
        lines += [f"### {name}", "", f"![{name}: final samples]({grids[name]})", ""]
    return "\n".join(lines)


def is_translation(metrics: dict[str, Any]) -> bool:
    """Whether a metrics file is a translation model's (its metrics have baselines)."""
    return any(f"{name}_baseline" in metrics for name in TRANSLATION_METRICS)


def _floor_table(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """A row per registered metric that some model has, beside the real floor."""
    lines = ["| metric | better | real floor | " + " | ".join(metrics) + " |"]
    lines.append("|---|---|---|" + "---|" * len(metrics))
    for metric in METRICS.values():
        if not any(metric.name in m for m in metrics.values()):
            continue
        floor_key = f"{metric.name}_floor"
        floor = next((m.get(floor_key) for m in metrics.values() if metric.name in m), None)
        cells = [_cell(m, metric.name, metric.spread) for m in metrics.values()]
        lines.append(
            f"| {metric.label} | {metric.better.arrow} | {_number(floor)} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def _baseline_table(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """A row per translation metric some model has; each cell beside that model's baseline
    (the baselines differ between tasks: bicubic upsampling, the mean fill...)."""
    first = next(iter(metrics.values()))
    lines = [
        f"Scored on {first['num_samples']} test pairs; in brackets, the same score of "
        "the model's baseline (its task's, named in `trained/<model>/task.json`).",
        "",
        "| metric | better | " + " | ".join(metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    for metric in TRANSLATION_METRICS.values():
        if not any(metric.name in m for m in metrics.values()):
            continue
        cells = []
        for m in metrics.values():
            cell = _cell(m, metric.name, metric.spread)
            baseline = m.get(f"{metric.name}_baseline")
            cells.append(cell if baseline is None else f"{cell} ({_number(baseline)})")
        lines.append(f"| {metric.label} | {metric.better.arrow} | " + " | ".join(cells) + " |")
    return lines


def _seeds_table(seeds: dict[str, dict[str, Any]]) -> list[str]:
    """A row per registered metric: each model's mean ± sample standard deviation over seeds."""
    lines = [
        "Each model trained and scored again with each seed of `seeds` (the `seeds` stage); "
        "mean ± sample standard deviation over the seeds, their number in the header.",
        "",
        "| metric | better | "
        + " | ".join(f"{name} (n={summary['n']})" for name, summary in seeds.items())
        + " |",
        "|---|---|" + "---|" * len(seeds),
    ]
    for metric in [*METRICS.values(), *TRANSLATION_METRICS.values()]:
        cells = [mean_and_std(summary, metric.name) for summary in seeds.values()]
        if all(cell is None for cell in cells):
            continue
        shown = " | ".join(cell or "–" for cell in cells)
        lines.append(f"| {metric.label} | {metric.better.arrow} | {shown} |")
    return lines


def _sizes(first: dict[str, Any], evaluator: dict[str, Any]) -> list[str]:
    """The sample sizes, and each metric's settings (`Metric.settings`), in two sentences."""
    accuracy = evaluator.get("test_accuracy")
    settings = [m.settings.format(**first) for m in METRICS.values() if m.settings]
    return [
        f"Every model is scored on {first['num_samples']} generated images against "
        f"{first['num_samples']} real training images, in the feature space of the "
        "pipeline's own classifier of the prepared data"
        + (f" (test accuracy {accuracy:.3f})." if accuracy is not None else "."),
        f"The real floor scores {first['num_samples']} real test images the same way: "
        "what a perfect generator would get."
        + (" " + "; ".join(settings) + "." if settings else ""),
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
    seeds: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Write the summary of `models` to `out_path`, atomically.

    Args:
        models: the model names, in the order of `params.yaml`.
        metrics_dir: where the evaluate stages wrote `<model>.json`.
        exports_dir: where the export stages wrote `<model>/grid.png`.
        evaluator_metrics: the evaluator's metrics file.
        out_path: the Markdown file to write.
        seeds: each model's scores over seeds (`load_seed_summaries`).
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
        tmp.write_text(summary_markdown(metrics, grids, evaluator, seeds) + "\n")


FLOOR = "floor"
BASELINE = "baseline"


def headline_table(
    metrics: dict[str, dict[str, Any]], seeds: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, float | int]]:
    """Every model's headline metrics, metric first, and their floors under `floor`.

    What `dvc exp show` lists. DVC names a column by the metric's key alone
    when no other metrics file has that key, and by `<file>:<key>` otherwise;
    so each model's own headline file (same keys in every file) would make
    columns of 40 characters, while `domain_fid.gan` here is unique and short,
    and `--keep 'domain_fid'` picks one metric for every model. The floors are
    the same for every model (real against real, with the same data and
    settings: every evaluate stage depends on resolved/evaluate.json), so they
    are given once, from the first model that has the metric.

    A model scored over several seeds adds `<metric>_mean` and `<metric>_std`
    (`domain_fid_std.gan`), the seeds' mean and sample standard deviation.

    Args:
        metrics: each model's full metrics file, in the order of params.yaml.
        seeds: each model's scores over seeds (`load_seed_summaries`).
    """
    table: dict[str, dict[str, float | int]] = {}
    floors: dict[str, float | int] = {}
    baselines: dict[str, dict[str, float | int]] = {}
    for metric in [*METRICS.values(), *TRANSLATION_METRICS.values()]:
        scored = {name: m[metric.name] for name, m in metrics.items() if metric.name in m}
        if not metric.headline or not scored:
            continue
        table[metric.name] = scored
        for part in ("mean", "std"):
            spread = {
                name: summary[part][metric.name]
                for name, summary in (seeds or {}).items()
                if summary["n"] > 1 and metric.name in summary.get(part, {})
            }
            if spread:
                table[f"{metric.name}_{part}"] = spread
        if metric.floor:
            first = next(m for m in metrics.values() if metric.name in m)
            floors[metric.name] = first[f"{metric.name}_floor"]
        if metric.baseline:
            # A baseline is the task's: one per model.
            key = f"{metric.name}_baseline"
            baselines[metric.name] = {name: m[key] for name, m in metrics.items() if key in m}
    return {**table, FLOOR: floors, **({BASELINE: baselines} if baselines else {})}


# The plot files: each one a chart or several of dvc.yaml's top-level `plots`.
# Long format (a `series` and a `value` column) where a chart draws several
# columns of a history per model; wide where each chart takes one column.
LOSSES = "losses.csv"
DISCRIMINATOR_ACCURACY = "discriminator_accuracy.csv"
QUALITY = "quality.csv"
LOSS_COLUMNS = ("d_loss", "g_loss")
LONG_SERIES = {LOSSES: LOSS_COLUMNS, DISCRIMINATOR_ACCURACY: ("d_acc_real", "d_acc_fake")}

Table = list[list[str]]


def plot_tables(models: list[str], models_dir: str | Path) -> dict[str, Table]:
    """The plot files' rows, header first, from each model's history and quality files.

    Values are copied as training wrote them. A model whose history has no
    accuracy columns (the Wasserstein families) adds no accuracy rows; one
    never scored during training (`eval_every: 0`) adds no quality rows.

    Args:
        models: the model names, in the order of `params.yaml`, which the
            charts' panels and legends keep.
        models_dir: where the train stages wrote `<model>/history.csv` and
            `<model>/quality.csv`.

    Returns:
        Each plot file's name and its rows.
    """
    tables: dict[str, Table] = {
        name: [["epoch", "model", "series", "value"]] for name in LONG_SERIES
    }
    quality_columns: list[str] = []
    quality_rows: list[tuple[str, dict[str, str]]] = []
    for model in models:
        columns, history = _read_csv(Path(models_dir) / model / "history.csv", model, LOSS_COLUMNS)
        for name, series in LONG_SERIES.items():
            present = [s for s in series if s in columns]
            tables[name] += [[row["epoch"], model, s, row[s]] for row in history for s in present]
        columns, scores = _read_csv(Path(models_dir) / model / "quality.csv", model, ())
        quality_columns += [c for c in columns if c != "epoch" and c not in quality_columns]
        quality_rows += [(model, row) for row in scores]
    tables[QUALITY] = [["epoch", "model", *quality_columns]] + [
        [row["epoch"], model, *(row.get(c, "") for c in quality_columns)]
        for model, row in quality_rows
    ]
    return tables


def _read_csv(
    path: Path, model: str, required: tuple[str, ...]
) -> tuple[list[str], list[dict[str, str]]]:
    """A history file's columns and rows, or an error naming the stage to run."""
    if not path.is_file():
        raise PipelineError(f"{path}: not found; run `dvc repro train@{model}` first")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    missing = [c for c in ("epoch", *required) if c not in columns]
    if missing:
        raise PipelineError(
            f"{path}: no {', '.join(missing)} column; run `dvc repro train@{model}`"
        )
    return columns, rows


def write_plot_tables(tables: dict[str, Table], out_dir: str | Path) -> None:
    """Write the plot files into `out_dir`, replacing the folder in one step."""
    with atomic_dir(out_dir) as tmp:
        for name, rows in tables.items():
            with (tmp / name).open("w", newline="") as f:
                csv.writer(f, lineterminator="\n").writerows(rows)
