"""A training inside its MLflow run: resumed in place, tagged with its devices, logged once."""

from __future__ import annotations

from typing import Any

from pipeline import backend, cluster, tracking
from pipeline.callbacks import (
    checkpoint_state,
    fingerprint_of,
)
from pipeline.fileio import read_json, write_json
from pipeline.models.two_networks import TwoNetworkModel
from pipeline.params import ModelSection
from pipeline.stage_values import TrainStage
from pipeline.training.paths import ModelFiles, TrainPaths
from pipeline.training.plan import check_training_inputs
from pipeline.training.session import Hooks, discard_checkpoint_dir, run_training
from pipeline.training.worker import train_as_worker


def train_model(
    stage: TrainStage,
    name: str,
    paths: TrainPaths,
    progress: str | None = None,
    tags: dict[str, str] | None = None,
    register: bool = True,
) -> str:
    """Train model `name` inside one MLflow run and publish its outputs with the run id.

    Every input is checked before the run is opened. A training interrupted
    at any point (before its first checkpoint, between epochs, while its
    model is logged, after publishing but before its run ended) resumes from
    its last completed epoch in the same MLflow run when the params, seed
    and data are unchanged, and says so. A run that fails is marked FAILED
    (KILLED when interrupted) with the reason.

    Args:
        stage: the train stage's values.
        name: the model's name in `models`.
        paths: where to read data and write outputs and checkpoints.
        progress: the label of the line printed after each epoch (the
            stage's, `train@gan (model 1 of 4)`), or None for none.
        tags: more tags for the run (the `seeds` stage's, which group a
            model's trainings with other seeds).
        register: register the generator as a new version of the registered
            model `name`; the `seeds` stage's trainings are not.

    Returns:
        The MLflow run id.
    """
    plan = check_training_inputs(stage.model, paths)
    fingerprint = fingerprint_of(stage.model.model_dump(), stage.seed, plan.info.content_hash)
    if not cluster.is_chief():
        return train_as_worker(stage, name, paths, fingerprint, plan)
    resume = _interrupted_attempt(paths, fingerprint)
    devices = {**device_tags(plan.placement, stage.model), **(tags or {})}
    with tracking.model_run(stage, name, plan.info, resume=resume, devices=devices) as run:
        run_id = run.info.run_id
        logged = _record_attempt(paths, fingerprint, run_id, resume, name, stage.model)

        def log_and_reference(staged: ModelFiles, model: TwoNetworkModel) -> None:
            model_id = tracking.log_generator(model.generator, name, stage.model.train.epochs)
            version = tracking.register_generator(model_id, name) if register else None
            reference = tracking.run_reference(
                run, name, model_id, stage.model.train.backend, version
            )
            write_json(staged.run_file, reference)

        hooks = Hooks(sinks=tracking.Sinks.for_active_run(logged), before_publish=log_and_reference)
        run_training(
            stage.model, stage.seed, paths, fingerprint, plan, hooks, name, progress=progress
        )
    # Only once the run has ended FINISHED: until then a rerun resumes it.
    discard_checkpoint_dir(paths)
    return run_id


def device_tags(placement: Any, params: ModelSection) -> dict[str, str]:
    """What a training ran on, as MLflow tags: backend, GPUs, replicas, precision, XLA."""
    names = backend.gpu_names()
    train = params.train
    xla = backend.uses_xla(train.jit_compile, placement)
    return {
        "devices.backend": backend.NAME,
        "devices.gpu_count": str(len(names)),
        "devices.gpus": ", ".join(names) or "none",
        "devices.replicas": str(placement.num_replicas_in_sync),
        "devices.strategy": backend.placement_name(placement),
        "devices.workers": str(len(cluster.worker_addresses()) or 1),
        "devices.precision": train.precision,
        "devices.xla": str(xla).lower(),
        "devices.deterministic_ops": str(backend.deterministic_ops(xla)).lower(),
        "devices.steps_per_execution": str(train.steps_per_execution),
    }


def _record_attempt(
    paths: TrainPaths,
    fingerprint: str,
    run_id: str,
    resume: tracking.Resume | None,
    name: str,
    params: ModelSection,
) -> tracking.LoggedSteps:
    """Save the run of this attempt, so a rerun resumes it; say so if this is one.

    Returns:
        The steps the run already holds, which are not logged again.
    """
    write_json(paths.attempt_file, {"fingerprint": fingerprint, "run_id": run_id})
    if resume is None or resume.run_id != run_id:
        return tracking.LoggedSteps()
    logged = tracking.LoggedSteps.of_run(run_id)
    print(
        f"{name}: resumed from epoch {resume.epoch} of {params.train.epochs} "
        f"in MLflow run {run_id}",
        flush=True,
    )
    return logged


def _interrupted_attempt(paths: TrainPaths, fingerprint: str) -> tracking.Resume | None:
    """The run an interrupted training of the same params, seed and data left, if any."""
    try:
        attempt = read_json(paths.attempt_file)
    except (OSError, ValueError):
        return None
    if not isinstance(attempt, dict) or attempt.get("fingerprint") != fingerprint:
        return None
    state = checkpoint_state(paths.state_dir, fingerprint)
    return tracking.Resume(run_id=str(attempt.get("run_id")), epoch=state["epoch"] if state else 0)
