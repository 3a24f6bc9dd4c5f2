"""One MLflow run per training, whatever happens to the process.

A training run is opened once and resumed in place: its id is saved beside
the checkpoint as soon as it exists, so a rerun after a kill, even one before
the first checkpoint, reopens it. A run whose process died without ending it
(SIGKILL, out of memory) is marked KILLED by the next pipeline process that
opens the experiment. Metrics and images a killed attempt already logged are
not logged again (`pipeline.tracking.metrics`). Evaluation and export are
child runs of the training run, so the training run's duration is its
training.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.errors import PipelineError, first_line, typed_first_line
from pipeline.faults import server_unreachable
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

if TYPE_CHECKING:
    import mlflow

    from pipeline.data import DatasetInfo

# What MLflow's UI (3.x) reads to show an experiment as model training, not
# GenAI: runs with metric charts, rather than traces and agent versions.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
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
