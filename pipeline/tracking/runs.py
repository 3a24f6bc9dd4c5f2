"""One MLflow run per training, whatever happens to the process.

A training run is opened once and resumed in place: its id is saved beside
the checkpoint as soon as it exists, so a rerun after a kill, even one before
the first checkpoint, reopens it. A run whose process died without ending it
(SIGKILL, out of memory) is marked KILLED by the next pipeline process that
opens the experiment. Metrics and images a killed attempt already logged are
not logged again. Evaluation and export are child runs of the training run,
so the training run's duration is its training.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.errors import PipelineError, first_line, typed_first_line
from pipeline.faults import server_unreachable
from pipeline.fileio import read_json
from pipeline.interrupts import raise_if_requested
from pipeline.stage_values import TrainStage
from pipeline.tracking import record
from pipeline.tracking.logged_models import discard_unfinished_models
from pipeline.tracking.store import (
    ARTIFACT_SCHEME,
    connect_store,
    experiment_artifact_root,
    is_server,
    stop_waiting_for_server,
    store_exists,
    tracking_uri,
)
from pipeline.train_settings import BACKENDS

if TYPE_CHECKING:
    import mlflow

    from pipeline.data import DatasetInfo

# What MLflow's UI (3.x) reads to show an experiment as model training, not
# GenAI: runs with metric charts, rather than traces and agent versions.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
SAMPLES_KEY = "samples"
SAMPLES_DIR = "samples"  # the run's artifacts: the grids DVC keeps, by their file names
QUALITY_PREFIX = "during_training/"  # MLflow groups metrics by this prefix
ERROR_TAG = "error"  # why a FAILED or KILLED run ended
PROCESS_TAG = "pipeline.process"  # host:pid:start of the process that has the run open
RESUMED_TAG = "resumed_from_epoch"
PARENT_TAG = "mlflow.parentRunId"
ORPHAN_REASON = (
    "the process stopped without ending the run (killed by SIGKILL, out of memory "
    "or a lost machine); running the stage again resumes it"
)
# A child run (evaluate, export) is marked KILLED from the moment it opens until
# its logging has ended: a kill then leaves no RUNNING run, and no later
# stage need come to mark it (once its outputs are in place, dvc repro runs
# nothing). The stage never replaced its outputs, so DVC still sees it as
# not run.
STOPPED_STAGE_REASON = (
    "the stage stopped before it ended (killed, out of memory or a lost machine); its "
    "outputs were left as they were, and running it again (dvc repro) logs a new child run"
)
IMAGE_STEP = re.compile(r"\+step\+(\d+)\+")  # in MLflow's names for logged images


def use_experiment(name: str) -> str:
    """Connect to the store and select experiment `name`, creating it if needed.

    Returns:
        The experiment id.

    Raises:
        PipelineError: a local experiment made with absolute artifact paths
            (by an earlier version), which would not survive a move.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    connect_store()
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        try:
            experiment_id = mlflow.create_experiment(
                name, artifact_location=experiment_artifact_root(name), tags=EXPERIMENT_KIND
            )
        except MlflowException:
            # Another process created it first.
            experiment = mlflow.get_experiment_by_name(name)
            if experiment is None:
                raise
            experiment_id = experiment.experiment_id
    else:
        experiment_id = experiment.experiment_id
        _check_portable(experiment)
        for key, value in EXPERIMENT_KIND.items():
            if experiment.tags.get(key) != value:  # made by an earlier version
                mlflow.MlflowClient().set_experiment_tag(experiment_id, key, value)
    mlflow.set_experiment(experiment_id=experiment_id)
    end_orphaned_runs(experiment_id)
    discard_unfinished_models(experiment_id)
    return experiment_id


def _check_portable(experiment: Any) -> None:
    if is_server(tracking_uri()) or experiment.artifact_location.startswith(f"{ARTIFACT_SCHEME}:"):
        return
    raise PipelineError(
        f"MLflow experiment {experiment.name!r} keeps its artifacts at "
        f"{experiment.artifact_location[:120]}, an absolute path that breaks when the "
        "repository moves; move mlflow/ aside (or set mlflow.experiment to a new name) "
        "and run again"
    )


def end_orphaned_runs(experiment_id: str) -> list[str]:
    """Mark KILLED the runs of this host whose process died while they were RUNNING.

    Returns:
        The ids of the runs it ended.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    running = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    ended = []
    for run in running:
        owner = run.data.tags.get(PROCESS_TAG)
        if owner and record.process_is_gone(owner):
            # A training run is resumed by its next attempt; a child run never is.
            child = "stage" in run.data.tags
            reason = STOPPED_STAGE_REASON if child else ORPHAN_REASON
            client.set_tag(run.info.run_id, ERROR_TAG, reason)
            client.set_terminated(run.info.run_id, "KILLED")
            ended.append(run.info.run_id)
    return ended


def run_exists(run_id: str) -> bool:
    """Whether the store holds a (not deleted) run `run_id`; creates no store."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = tracking_uri()
    if not store_exists(uri):
        return False
    connect_store()
    try:
        run = MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException:
        return False
    return run.info.lifecycle_stage == "active"


@dataclass(frozen=True)
class Resume:
    """What a resumed training run continues from.

    Attributes:
        run_id: the run to reopen.
        epoch: completed epochs in the checkpoint (0: killed before the first).
    """

    run_id: str
    epoch: int


@contextmanager
def model_run(
    stage: TrainStage,
    name: str,
    info: DatasetInfo,
    resume: Resume | None = None,
    devices: dict[str, str] | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Open the training run of model `name`, or reopen the one `resume` names.

    A new run gets its name, params, tags and dataset. A reopened one says
    from which epoch it resumed. Both take `devices` as tags (what this
    attempt ran on: a resume may run on other hardware) and sample system
    metrics (CPU, memory, and GPUs where `pynvml` is installed) while open.
    The run ends FINISHED when the block completes, KILLED when it is
    interrupted (Ctrl-C, SIGTERM) and FAILED on any other error, with the
    one-line reason in its `error` tag.
    """
    import mlflow

    use_experiment(stage.experiment)
    # Its monitor announces itself at INFO on stderr, which holds only errors here.
    logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)
    process = {PROCESS_TAG: record.process_tag(), **(devices or {})}
    if resume is not None and run_exists(resume.run_id):
        run = mlflow.start_run(run_id=resume.run_id, tags=process, log_system_metrics=True)
        _clear_error(run)
        mlflow.set_tag(RESUMED_TAG, str(resume.epoch))
    else:
        tags = {**record.model_tags(name, stage, info), **process}
        run = mlflow.start_run(run_name=record.run_name(name), tags=tags, log_system_metrics=True)
        mlflow.log_params(record.training_params(stage, info))
        record.log_dataset(info, context="training")
    with _ending(run):
        yield run


def _clear_error(run: mlflow.ActiveRun) -> None:
    import mlflow

    if ERROR_TAG in run.data.tags:
        mlflow.delete_tag(ERROR_TAG)  # an earlier attempt's reason; this one may succeed


@contextmanager
def _ending(run: mlflow.ActiveRun) -> Iterator[None]:
    """End the active run with the status the block's outcome calls for."""
    import mlflow

    try:
        yield
        raise_if_requested()  # a stop some library swallowed still ends the run KILLED
    except BaseException as err:
        interrupted = isinstance(err, KeyboardInterrupt)
        if server_unreachable(err) is not None:
            # Ending the run would wait for the dead server again (and so would
            # MLflow's own end at exit); a later process marks it KILLED.
            stop_waiting_for_server()
        try:
            mlflow.set_tag(ERROR_TAG, "interrupted" if interrupted else _one_line(err))
            mlflow.end_run("KILLED" if interrupted else "FAILED")
        except Exception:
            # The store itself failed (full, read-only, gone): the first error is
            # the one to report. The run stays open here; the next pipeline
            # process marks it KILLED, this process being gone by then.
            pass
        raise
    mlflow.end_run("FINISHED")


def _one_line(err: BaseException) -> str:
    """A failure's reason as one line: the message of ours, type and first line of others."""
    return first_line(err, 500) if isinstance(err, PipelineError) else typed_first_line(err, 500)


@contextmanager
def stage_run(
    reference: dict[str, str], stage: str, params: dict[str, Any], info: DatasetInfo
) -> Iterator[mlflow.ActiveRun]:
    """A child run of a model's training run, for a later stage (evaluate, export).

    The training run is not reopened, so its duration stays its training.
    The child carries the stage's settings as params and ends like a
    training run (FINISHED, FAILED or KILLED). Until it ends it is marked
    KILLED, with the reason a kill would leave (`STOPPED_STAGE_REASON`).
    """
    import mlflow
    from mlflow import MlflowClient

    use_experiment(reference["experiment"])
    parent = reference["run_id"]
    tags = {**record.environment_tags(), PROCESS_TAG: record.process_tag(), "stage": stage}
    name = f"{reference.get('run_name') or reference.get('model', 'model')} · {stage}"
    run = mlflow.start_run(
        run_name=name, parent_run_id=parent, tags={**tags, ERROR_TAG: STOPPED_STAGE_REASON}
    )
    MlflowClient().set_terminated(run.info.run_id, "KILLED")
    mlflow.log_params(params)
    record.log_dataset(info, context=stage)
    with _ending(run):
        yield run
        mlflow.delete_tag(ERROR_TAG)


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
    from mlflow.entities import Metric

    values = {key: float(value) for key, value in metrics.items()}
    mlflow.log_metrics(values)
    client = MlflowClient()
    run_id = reference["run_id"]
    shown = client.get_run(run_id).data.metrics
    changed = {key: value for key, value in values.items() if shown.get(key) != value}
    if not changed:
        return
    earlier = [entry.step for key in changed for entry in client.get_metric_history(run_id, key)]
    step = max(earlier) + 1 if earlier else 0
    timestamp = _now_ms()
    model_id = reference.get("model_id")
    client.log_batch(
        run_id,
        metrics=[
            Metric(key, value, timestamp, step, model_id=model_id) for key, value in changed.items()
        ],
    )


def log_seed_summary(reference: dict[str, str], summary: dict) -> None:
    """Put a model's scores over several seeds on its training run.

    Metrics `seeds.<metric>.mean` and `seeds.<metric>.std`, and the tag
    `seeds` listing them (the training's own first). A rerun with the same
    seeds and scores adds nothing to the metrics' histories.
    """
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient()
    run_id = reference["run_id"]
    values = {f"seeds.{key}.mean": value for key, value in summary["mean"].items()}
    values.update({f"seeds.{key}.std": value for key, value in summary.get("std", {}).items()})
    shown = client.get_run(run_id).data.metrics
    timestamp = _now_ms()
    changed = [
        Metric(key, float(value), timestamp, 0)
        for key, value in values.items()
        if shown.get(key) != float(value)
    ]
    client.log_batch(run_id, metrics=changed)
    client.set_tag(run_id, "seeds", ", ".join(str(seed) for seed in summary["seeds"]))


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


RERUN_TRAINING = "rerun its training (dvc repro)"


def read_reference(run_file: str | Path) -> dict[str, str]:
    """The fields of a model's `run.json`, read without opening the store.

    A stage reads it before Keras loads: it names the backend the model
    trained on, which its evaluation and export run on too.

    Raises:
        PipelineError: `run.json` is missing, unreadable, or lacks a field a
            stage needs (a file from before backends were recorded).
    """
    try:
        reference = read_json(run_file)
        fields = {key: str(reference[key]) for key in ("run_id", "experiment", "backend")}
    except (OSError, ValueError, TypeError, KeyError):
        raise PipelineError(f"{run_file}: missing or unreadable; {RERUN_TRAINING}") from None
    if fields["backend"] not in BACKENDS:
        raise PipelineError(
            f"{run_file}: backend {fields['backend'][:32]!r} is not one of "
            f"{', '.join(BACKENDS)}; {RERUN_TRAINING}"
        )
    return {key: str(value) for key, value in reference.items()}


def find_run(run_file: str | Path) -> dict[str, str]:
    """The run a model was trained in, from its `run.json`, checked to exist in the store.

    Opens nothing for writing: a missing local store means the run is not there.

    Raises:
        PipelineError: `run.json` is missing or unreadable, or names no known run.
    """
    reference = read_reference(run_file)
    run_id, experiment = reference["run_id"], reference["experiment"]
    if not run_exists(run_id):
        # DVC sees nothing changed (the store is no output of its), so only a
        # forced run of the training and what follows it rebuilds the record.
        model = reference.get("model", "<model>")[:64]
        raise PipelineError(
            f"{run_file}: names MLflow run {run_id[:32]!r} of experiment {experiment[:64]!r}, "
            f"which the store at {tracking_uri()} does not hold (an emptied or replaced "
            f"store); retrain it into this store: dvc repro --force --downstream train@{model}"
        )
    return reference


def run_reference(
    run: mlflow.ActiveRun,
    name: str,
    model_id: str | None,
    backend: str,
    model_version: str | None = None,
) -> dict[str, str]:
    """What later stages need to find a run and its model again (written to `run.json`).

    A registered generator is version `model_version` of the registered model `name`.
    """
    import mlflow

    experiment = mlflow.get_experiment(run.info.experiment_id)
    reference = {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "experiment": experiment.name,
        "experiment_id": run.info.experiment_id,
        "model": name,
        "backend": backend,
    }
    if model_id:
        reference["model_id"] = model_id
    if model_version:
        reference["registered_model"] = name
        reference["model_version"] = model_version
    return reference


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
