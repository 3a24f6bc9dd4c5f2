"""MLflow tracking: where the store lives, one run per model, and what goes into it.

Without `MLFLOW_TRACKING_URI`, runs go to a sqlite store and an artifact
root under `mlflow/` at the repository root. The root is taken from
`DVC_ROOT` when DVC sets it, so `dvc exp run --temp` and `--queue`, which run
in a copy of the repo, still log to the one store that `mlflow ui` reads.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.fileio import read_json
from pipeline.params import TrainStage, flatten

if TYPE_CHECKING:
    import keras

    import mlflow
    from pipeline.data import DatasetInfo

STORE_DIR = "mlflow"
SAMPLES_KEY = "samples"
QUALITY_PREFIX = "during_training/"  # MLflow groups metrics by this prefix
ERROR_TAG = "error"  # why a FAILED or KILLED run ended


def repo_root() -> Path:
    """The repository root: DVC_ROOT under DVC, else the nearest folder holding `.dvc`."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return cwd


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` if set, else the sqlite store under `mlflow/`."""
    return os.environ.get("MLFLOW_TRACKING_URI") or local_store_uri()


def local_store_uri() -> str:
    """The repository's own sqlite store."""
    return f"sqlite:///{repo_root() / STORE_DIR / 'mlflow.db'}"


def artifact_location(experiment: str) -> str:
    """Artifact root for a new experiment, anchored at the repo, never at the cwd."""
    return (repo_root() / STORE_DIR / "artifacts" / experiment).as_uri()


def use_experiment(name: str) -> str:
    """Point MLflow at the store and the experiment `name`, creating it if needed.

    Returns:
        The experiment id.
    """
    import mlflow

    uri = tracking_uri()
    local = uri == local_store_uri()
    if local:
        (repo_root() / STORE_DIR).mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        # A remote server knows its own artifact root; a local store must be told.
        location = artifact_location(name) if local else None
        experiment_id = mlflow.create_experiment(name, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def run_tags(data_hash: str | None = None) -> dict[str, str]:
    """Tags that tie a run to its code, data and DVC experiment."""
    root = repo_root()
    tags = {"git_commit": _git(root, "rev-parse", "HEAD") or "unknown"}
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    tags["git_dirty"] = "unknown" if status is None else str(bool(status)).lower()
    if data_hash:
        tags["data_hash"] = data_hash
    for variable in ("DVC_EXP_NAME", "DVC_STAGE"):
        if os.environ.get(variable):
            tags[variable.lower()] = os.environ[variable]
    return tags


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


@contextmanager
def model_run(
    stage: TrainStage, name: str, info: DatasetInfo, run_id: str | None = None
) -> Iterator[mlflow.ActiveRun]:
    """Open (or reopen) the MLflow run of model `name`, logging params and tags.

    The run ends FINISHED when the block completes, KILLED when it is
    interrupted (Ctrl-C, SIGTERM) and FAILED on any other error; a failed
    run carries the one-line reason in its `error` tag.

    Args:
        stage: the train stage's params: the seed, the experiment and the
            model's section, flattened into the run's params.
        name: the model's name in `models`.
        info: the prepared dataset's info, for the data params and hash tag.
        run_id: reopen this run (a resumed training) instead of a new one.
    """
    import mlflow

    use_experiment(stage.experiment)
    model = stage.model
    tags = {
        "model": name,
        "family": model.family,
        "network": model.network.kind,
        "conditional": str(model.conditional).lower(),
        **run_tags(info.content_hash),
    }
    run_name = None if run_id else f"{name}-{model.network.kind}"
    run = mlflow.start_run(run_id=run_id, run_name=run_name, tags=tags)
    try:
        if run_id is None:
            mlflow.log_params(model_run_params(stage, info))
        elif ERROR_TAG in run.data.tags:
            mlflow.delete_tag(ERROR_TAG)  # an earlier attempt's reason; this one may succeed
        yield run
    except BaseException as err:
        interrupted = isinstance(err, KeyboardInterrupt)
        mlflow.set_tag(ERROR_TAG, "interrupted" if interrupted else _one_line(err))
        mlflow.end_run("KILLED" if interrupted else "FAILED")
        raise
    mlflow.end_run("FINISHED")


def _one_line(err: BaseException) -> str:
    """A failure's reason as one line: the message of ours, type and first line of others."""
    text = (str(err).strip().splitlines() or [""])[0]
    return (text if isinstance(err, PipelineError) else f"{type(err).__name__}: {text}")[:500]


def model_run_params(stage: TrainStage, info: DatasetInfo) -> dict[str, Any]:
    """The flattened params that describe a training run: seed, data and model."""
    data = {
        "source": info.source,
        "image_shape": list(info.image_shape),
        "train_count": info.splits["train"].count,
    }
    shared = {"seed": stage.seed, "data": data}
    return {**flatten(shared), **flatten(stage.model, prefix="model.")}


def find_run(run_file: str | Path) -> dict[str, str]:
    """The run a model was trained in, from its `run.json`, checked to exist in the store.

    Opens nothing for writing: a missing local store means the run is not there.

    Raises:
        PipelineError: `run.json` is missing or unreadable, or names no known run.
    """
    rerun = "rerun its training (dvc repro)"
    try:
        reference = read_json(run_file)
        run_id, experiment = str(reference["run_id"]), str(reference["experiment"])
    except (OSError, ValueError, TypeError, KeyError):
        raise PipelineError(f"{run_file}: missing or unreadable; {rerun}") from None
    if not _run_exists(run_id):
        raise PipelineError(
            f"{run_file}: names MLflow run {run_id[:32]!r} of experiment {experiment[:64]!r}, "
            f"which the store at {tracking_uri()} does not hold; {rerun}"
        )
    return {"run_id": run_id, "experiment": experiment}


def _run_exists(run_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    from mlflow import MlflowClient

    uri = tracking_uri()
    if uri == local_store_uri() and not (repo_root() / STORE_DIR / "mlflow.db").is_file():
        return False  # connecting would create an empty store
    try:
        MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException:
        return False
    return True


@contextmanager
def reopen_run(reference: dict[str, str]) -> Iterator[mlflow.ActiveRun]:
    """Reopen the run that trained a model, from what `find_run` returned."""
    import mlflow

    use_experiment(reference["experiment"])
    with mlflow.start_run(run_id=reference["run_id"]) as run:
        yield run


def run_reference(run: mlflow.ActiveRun) -> dict[str, str]:
    """What later stages need to find a run again (written to `run.json`)."""
    import mlflow

    experiment = mlflow.get_experiment(run.info.experiment_id)
    return {
        "run_id": run.info.run_id,
        "experiment": experiment.name,
        "experiment_id": run.info.experiment_id,
    }


@dataclass(frozen=True)
class Sinks:
    """Callables that forward per-epoch metrics and sample grids to the active run."""

    metrics: Callable[[dict[str, float], int], None]
    grid: Callable[[np.ndarray, int], None]
    quality_metrics: Callable[[dict[str, float], int], None]

    @classmethod
    def for_active_run(cls) -> Sinks:
        import mlflow

        def log_metrics(metrics: dict[str, float], step: int) -> None:
            mlflow.log_metrics(metrics, step=step)

        def log_grid(grid: np.ndarray, step: int) -> None:
            mlflow.log_image(_rgb_or_gray(grid), key=SAMPLES_KEY, step=step)

        def log_quality(metrics: dict[str, float], step: int) -> None:
            # A prefix of their own: these are at a smaller n than the final
            # metrics, so the two must not share a curve.
            log_metrics({f"{QUALITY_PREFIX}{name}": value for name, value in metrics.items()}, step)

        return cls(metrics=log_metrics, grid=log_grid, quality_metrics=log_quality)


def _rgb_or_gray(grid: np.ndarray) -> np.ndarray:
    # MLflow reads (H, W, 1) as an error; a 2-D array is a grayscale image.
    return grid[..., 0] if grid.ndim == 3 and grid.shape[-1] == 1 else grid


def log_generator(generator: keras.Model) -> None:
    """Log the generator with MLflow's Keras flavor and a tensor signature."""
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    import mlflow

    def spec(tensor, name: str) -> TensorSpec:
        return TensorSpec(np.dtype(tensor.dtype), (-1, *tensor.shape[1:]), name)

    names = ["z", "label"][: len(generator.inputs)]
    signature = ModelSignature(
        inputs=Schema([spec(t, n) for t, n in zip(generator.inputs, names, strict=True)]),
        outputs=Schema([spec(generator.outputs[0], "images")]),
    )
    mlflow.keras.log_model(generator, name="generator", signature=signature)


def log_to_run(
    reference: dict[str, str],
    metrics: dict[str, float] | None = None,
    artifacts: list[Path] | None = None,
    artifact_dir: str | None = None,
) -> None:
    """Add metrics and artifacts to the run a model was trained in (see `find_run`)."""
    import mlflow

    with reopen_run(reference):
        if metrics:
            mlflow.log_metrics({key: float(value) for key, value in metrics.items()})
        for path in artifacts or []:
            mlflow.log_artifact(str(path), artifact_path=artifact_dir)
