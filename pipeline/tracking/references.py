"""A model's `run.json`: how later stages find its training run, and its model, again.

The training writes it (`run_reference`); evaluate, export and seeds read it
(`read_reference` before Keras loads, since it names the backend the model
trained on; `find_run` when the run must be in the store).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import PipelineError
from pipeline.fileio import read_json
from pipeline.tracking.runs import run_exists
from pipeline.tracking.store import tracking_uri
from pipeline.train_settings import BACKENDS

if TYPE_CHECKING:
    import mlflow

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
