"""What a run logs: per-epoch metrics and sample grids, final scores, scores over seeds, files.

MLflow's metric histories only grow, so nothing here logs a value the run
already holds: a resumed training skips the (metric, step) pairs and grids a
killed attempt logged (`LoggedSteps`), and a re-run evaluation or seeds stage
adds only the scores that changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mlflow import MlflowClient

SAMPLES_KEY = "samples"
SAMPLES_DIR = "samples"  # the run's artifacts: the grids DVC keeps, by their file names
QUALITY_PREFIX = "during_training/"  # MLflow groups metrics by this prefix
IMAGE_STEP = re.compile(r"\+step\+(\d+)\+")  # in MLflow's names for logged images


def log_final_metrics(reference: dict[str, str], metrics: dict[str, float]) -> None:
    """Log a model's final scores to the active (child) run, its training run and its model.

    The training run gets them through the client, which leaves its status
    and end time alone; the logged model gets them linked to its id, so
    `mlflow ui` shows them on the model's page. MLflow's metric history only
    grows, so a score the training run already shows is not logged again: a
    re-run evaluation (after a kill, or forced) adds nothing. One with other
    settings logs the scores that changed at the next step, which is what
    MLflow shows as the run's value: the new scores replace the old in every
    view, and the history keeps one value per step.
    """
    import mlflow
    from mlflow import MlflowClient

    values = {key: float(value) for key, value in metrics.items()}
    mlflow.log_metrics(values)
    client = MlflowClient()
    run_id = reference["run_id"]
    changed = _not_shown(client, run_id, values)
    earlier = [entry.step for key in changed for entry in client.get_metric_history(run_id, key)]
    step = max(earlier) + 1 if earlier else 0
    _log_at_step(client, run_id, changed, step, model_id=reference.get("model_id"))


def log_seed_summary(reference: dict[str, str], summary: dict) -> None:
    """Put a model's scores over several seeds on its training run.

    Metrics `seeds.<metric>.mean` and `seeds.<metric>.std`, and the tag
    `seeds` listing them (the training's own first). A rerun with the same
    seeds and scores adds nothing to the metrics' histories.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    run_id = reference["run_id"]
    values = {f"seeds.{key}.mean": float(value) for key, value in summary["mean"].items()}
    values.update(
        {f"seeds.{key}.std": float(value) for key, value in summary.get("std", {}).items()}
    )
    _log_at_step(client, run_id, _not_shown(client, run_id, values), step=0)
    client.set_tag(run_id, "seeds", ", ".join(str(seed) for seed in summary["seeds"]))


def _not_shown(client: MlflowClient, run_id: str, values: dict[str, float]) -> dict[str, float]:
    """The values the run does not show already: MLflow's metric history only grows,
    so a score logged again unchanged (a rerun, a resumed stage) would add a point."""
    shown = client.get_run(run_id).data.metrics
    return {key: value for key, value in values.items() if shown.get(key) != value}


def _log_at_step(
    client: MlflowClient,
    run_id: str,
    values: dict[str, float],
    step: int,
    model_id: str | None = None,
) -> None:
    """Log `values` to run `run_id` (not the active run: its status is left alone) at `step`."""
    import time

    from mlflow.entities import Metric

    if not values:
        return
    timestamp = int(time.time() * 1000)
    metrics = [
        Metric(key, value, timestamp, step, model_id=model_id) for key, value in values.items()
    ]
    client.log_batch(run_id, metrics=metrics)


@dataclass
class LoggedSteps:
    """The (key, step) pairs a run already holds, so a resumed attempt does not repeat them."""

    metrics: dict[str, set[int]] = field(default_factory=dict)
    images: dict[str, set[int]] = field(default_factory=dict)

    @classmethod
    def of_run(cls, run_id: str) -> LoggedSteps:
        from mlflow import MlflowClient

        client = MlflowClient()
        metrics = {
            key: {entry.step for entry in client.get_metric_history(run_id, key)}
            for key in client.get_run(run_id).data.metrics
        }
        images: dict[str, set[int]] = {}
        for entry in client.list_artifacts(run_id, "images"):
            step = IMAGE_STEP.search(entry.path)
            key = Path(entry.path).name.split("+", 1)[0]
            if step:
                images.setdefault(key, set()).add(int(step.group(1)))
        return cls(metrics, images)

    def new_metrics(self, metrics: dict[str, float], step: int) -> dict[str, float]:
        return {k: v for k, v in metrics.items() if step not in self.metrics.get(k, ())}

    def has_image(self, key: str, step: int) -> bool:
        return step in self.images.get(key, ())


@dataclass(frozen=True)
class Sinks:
    """Callables that forward per-epoch metrics and sample grids to the active run."""

    metrics: Callable[[dict[str, float], int], None]
    grid: Callable[[np.ndarray, int], None]
    quality_metrics: Callable[[dict[str, float], int], None]
    grid_file: Callable[[Path], None] | None = None

    @classmethod
    def for_active_run(cls, logged: LoggedSteps | None = None) -> Sinks:
        """Sinks into the active run, skipping what `logged` says is already there."""
        import mlflow

        logged = logged or LoggedSteps()

        def log_metrics(metrics: dict[str, float], step: int) -> None:
            fresh = logged.new_metrics(metrics, step)
            if fresh:
                mlflow.log_metrics(fresh, step=step)

        def log_grid(grid: np.ndarray, step: int) -> None:
            if not logged.has_image(SAMPLES_KEY, step):
                # Synchronous (MLflow's default here is not): a failed upload must
                # stop the training with its error, not pass as a logged line.
                grid = _rgb_or_gray(grid)
                mlflow.log_image(grid, key=SAMPLES_KEY, step=step, synchronous=True)

        def log_grid_file(path: Path) -> None:
            # The image chart's files have internal names (`samples+step+2+...`);
            # these are the grids of samples/ (every eval_every epochs), by name.
            mlflow.log_artifact(str(path), artifact_path=SAMPLES_DIR)

        def log_quality(metrics: dict[str, float], step: int) -> None:
            # A prefix of their own: these are at a smaller n than the final
            # metrics, so the two must not share a curve.
            log_metrics({f"{QUALITY_PREFIX}{name}": value for name, value in metrics.items()}, step)

        return cls(
            metrics=log_metrics,
            grid=log_grid,
            quality_metrics=log_quality,
            grid_file=log_grid_file,
        )


def _rgb_or_gray(grid: np.ndarray) -> np.ndarray:
    # MLflow reads (H, W, 1) as an error; a 2-D array is a grayscale image.
    return grid[..., 0] if grid.ndim == 3 and grid.shape[-1] == 1 else grid


def log_metrics(metrics: dict[str, float]) -> None:
    """Log metrics to the active run."""
    import mlflow

    mlflow.log_metrics(metrics)


def log_artifacts(paths: list[Path], artifact_dir: str | None = None) -> None:
    """Log files, and folders with what they hold, to the active run."""
    import mlflow

    for path in paths:
        if path.is_dir():
            folder = path.name if artifact_dir is None else f"{artifact_dir}/{path.name}"
            mlflow.log_artifacts(str(path), artifact_path=folder)
        else:
            mlflow.log_artifact(str(path), artifact_path=artifact_dir)
