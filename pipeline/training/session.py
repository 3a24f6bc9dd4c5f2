"""The one training sequence: build and restore, fit with the callbacks, publish.

Every caller runs it through `run_training`; what differs between them
(the chief's MLflow run, a worker's private folder) comes in as `Hooks`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras

from pipeline import backend
from pipeline.callbacks import (
    HistoryFile,
    QualityHistory,
    SampleGrid,
    StopOnDivergence,
    StopWhenRequested,
    TrainingCheckpoint,
    restore_checkpoint,
)
from pipeline.epoch_progress import progress_callbacks
from pipeline.fileio import atomic_dir, atomic_file, write_json
from pipeline.models.build import (
    training_callbacks,
)
from pipeline.models.two_networks import TwoNetworkModel
from pipeline.params import ModelSection
from pipeline.progress import line_verbosity, progress_verbosity
from pipeline.training.model import build_model, inner_optimizer
from pipeline.training.paths import ModelFiles, TrainPaths
from pipeline.training.plan import TrainingPlan, check_training_inputs
from pipeline.training.tasks import Task

if TYPE_CHECKING:  # only a type here: a training need not load MLflow
    from pipeline import tracking


@dataclass(frozen=True)
class Training:
    """A model ready to train: built, and restored from its checkpoint or started afresh.

    Training is done in parts, each one job: `start_training` makes this,
    `fit_callbacks` and `fit_epochs` train it, `publish_outputs` replaces
    the outputs in one step (`run_training` runs them in that order), and
    `discard_checkpoint_dir` deletes the resumable state once the caller
    has closed its record of the training.

    Attributes:
        params: the model's params section.
        seed: the run's seed.
        paths: where to read data and write outputs and checkpoints.
        fingerprint: identifies this run; a checkpoint of another is ignored.
        plan: the checked inputs (`check_training_inputs`).
        model: the built model, with the checkpoint's weights on a resume.
        state: the restored checkpoint (epoch, history rows); None on a fresh start.
    """

    params: ModelSection
    seed: int
    paths: TrainPaths
    fingerprint: str
    plan: TrainingPlan
    model: TwoNetworkModel
    state: dict | None

    @property
    def initial_epoch(self) -> int:
        """The first epoch still to run: 0 on a fresh start."""
        return self.state["epoch"] if self.state else 0


def start_training(
    params: ModelSection,
    seed: int,
    paths: TrainPaths,
    fingerprint: str,
    plan: TrainingPlan | None = None,
) -> Training:
    """Build the model and restore a matching checkpoint, or clear another run's leftovers.

    Args:
        params: the model's params section.
        seed: the run's seed.
        paths: where to read data and write outputs and checkpoints.
        fingerprint: identifies this run; a checkpoint of another is ignored.
        plan: the result of `check_training_inputs`, if the caller has it.
    """
    plan = plan or check_training_inputs(params, paths)
    image_shape, target_shape = plan.task.shapes
    model = build_model(
        params,
        image_shape,
        seed,
        plan.num_classes,
        plan.placement,
        target_shape=target_shape,
        context=plan.task.term_context(plan.classifier),
    )
    state = restore_checkpoint(paths.state_dir, fingerprint, model)
    backend.check_workers_agree(plan.placement, state["epoch"] if state else 0)
    if state is None:
        _clear_leftovers(paths)
    paths.live.samples.mkdir(parents=True, exist_ok=True)
    return Training(params, seed, paths, fingerprint, plan, model, state)


def fit_callbacks(
    training: Training,
    sinks: tracking.Sinks | None = None,
    name: str = "model",
    extra: Sequence[keras.callbacks.Callback] = (),
) -> list[keras.callbacks.Callback]:
    """The callbacks that write the grids and histories and checkpoint every epoch.

    Args:
        training: what `start_training` returned.
        sinks: where per-epoch metrics and grids go besides the files.
        name: the model's name, for messages.
        extra: more callbacks, run after the checkpoint is written.
    """
    params, paths = training.params, training.paths
    histories = _histories(training, sinks)
    draw = training.plan.task.grid(
        paths.data_dir, training.seed, params.train.grid_size, **training.model.task_networks()
    )
    callbacks = [
        StopWhenRequested(),
        # The model's parts' own (instance noise's schedule) set up each epoch.
        *training_callbacks(params),
        # Then: a diverged epoch must reach neither the grids nor the checkpoint.
        StopOnDivergence(name),
        SampleGrid(
            draw,
            paths.live.samples,
            training.initial_epoch,
            sinks.grid if sinks else None,
            save_every=params.train.eval_every or params.train.epochs,
            on_file=sinks.grid_file if sinks else None,
        ),
        *histories.values(),
        TrainingCheckpoint(paths.state_dir, training.fingerprint, histories),
        *extra,
    ]
    return callbacks


def fit_epochs(
    training: Training,
    callbacks: list[keras.callbacks.Callback],
    verbose: int | None = None,
    progress: str | None = None,
) -> None:
    """Run the epochs still to run, then put in the generator weights that get published.

    Args:
        training: what `start_training` returned; its model is trained in place.
        callbacks: from `fit_callbacks`.
        verbose: passed to `fit`; by default the Keras progress bar on a
            terminal, and otherwise the progress line alone, or Keras' line
            per epoch without one.
        progress: the label of a line after each epoch (`train@gan (model 1
            of 4): epoch 12/200, 2.1 s/epoch, about 6 min 35 s left`), or
            None for none (`pipeline.epoch_progress`).

    Raises:
        RunFailed: a loss or weight became NaN or infinite.
    """
    params, model = training.params, training.model
    if verbose is None:
        verbose = line_verbosity() if progress else progress_verbosity()
    if progress:
        # Last: the line counts every other callback's work in the epoch's time.
        callbacks = [*callbacks, *progress_callbacks(progress, verbose)]
    if training.initial_epoch < params.train.epochs:
        model.fit(
            _training_stream(training),
            epochs=params.train.epochs,
            initial_epoch=training.initial_epoch,
            steps_per_epoch=training.plan.steps_per_epoch,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the stream is already shuffled, reproducibly
        )
    if inner_optimizer(model.g_optimizer).use_ema:
        # Evaluation and export use the averaged weights.
        model.g_optimizer.finalize_variable_values(model.generator.trainable_variables)


@dataclass(frozen=True)
class Hooks:
    """What a caller adds to the one training sequence (`run_training`).

    Attributes:
        sinks: where per-epoch metrics and grids go besides the files (MLflow).
        before_publish: called with the staged outputs and the model before
            they replace the published ones; what it writes is published with
            them (the logged model's id, in run.json).
        callbacks: more callbacks, run after the checkpoint is written.
    """

    sinks: tracking.Sinks | None = None
    before_publish: Callable[[ModelFiles, TwoNetworkModel], None] | None = None
    callbacks: Sequence[keras.callbacks.Callback] = ()


def run_training(
    params: ModelSection,
    seed: int,
    paths: TrainPaths,
    fingerprint: str,
    plan: TrainingPlan | None = None,
    hooks: Hooks = Hooks(),
    name: str = "model",
    verbose: int | None = None,
    progress: str | None = None,
) -> TwoNetworkModel:
    """Train a model, resuming from a matching checkpoint, and publish its outputs.

    The one sequence every training runs: build and restore, fit, publish.
    The checkpoint stays behind: the caller discards it (`discard_checkpoint_dir`)
    once whatever records the training is closed, so that a kill after
    publishing but before that still resumes.

    Args:
        params: the model's params section.
        seed: the run's seed.
        paths: where to read data and write outputs and checkpoints.
        fingerprint: identifies this run; a checkpoint of another is ignored.
        plan: the result of `check_training_inputs`, if the caller has it.
        hooks: what the caller adds (MLflow sinks, a step before publishing).
        name: the model's name, for messages.
        verbose: passed to `fit` (see `fit_epochs`).
        progress: the label of the line printed after each epoch, or None
            for none (see `fit_epochs`).

    Returns:
        The trained model. Its outputs are in `paths.out_dir`.

    Raises:
        RunFailed: a loss or weight became NaN or infinite; nothing is published.
    """
    training = start_training(params, seed, paths, fingerprint, plan)
    callbacks = fit_callbacks(training, hooks.sinks, name, hooks.callbacks)
    fit_epochs(training, callbacks, verbose, progress)
    publish_outputs(training.model, paths, hooks.before_publish, training.plan.task)
    return training.model


def fit_model(
    params: ModelSection,
    seed: int,
    paths: TrainPaths,
    fingerprint: str,
    sinks: tracking.Sinks | None = None,
    verbose: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    name: str = "model",
    plan: TrainingPlan | None = None,
    progress: str | None = None,
) -> TwoNetworkModel:
    """`run_training` with nothing recorded around it; the checkpoint is discarded after.

    See `run_training` for the arguments (`sinks` and `callbacks` are its hooks).
    """
    hooks = Hooks(sinks=sinks, callbacks=tuple(callbacks))
    model = run_training(params, seed, paths, fingerprint, plan, hooks, name, verbose, progress)
    discard_checkpoint_dir(paths)
    return model


def _clear_leftovers(paths: TrainPaths) -> None:
    """Delete another run's checkpoint and outputs in progress; keep the attempt file."""
    if not paths.checkpoint_dir.is_dir():
        return
    for entry in paths.checkpoint_dir.iterdir():
        if entry == paths.attempt_file:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def discard_checkpoint_dir(paths: TrainPaths) -> None:
    """Delete the checkpoint, the outputs in progress and the attempt file: training is done."""
    shutil.rmtree(paths.checkpoint_dir, ignore_errors=True)


def _training_stream(training: Training):
    """The seeded batch stream, positioned where epoch `training.initial_epoch` starts."""
    params, plan = training.params, training.plan
    stream = plan.task.batches(
        training.paths.data_dir,
        params.train.examples_per_step,
        training.seed,
        start_batch=training.initial_epoch * plan.steps_per_epoch,
    )
    return backend.training_batches(stream)


def _histories(training: Training, sinks: tracking.Sinks | None) -> dict[str, HistoryFile]:
    """The losses file, and the quality file when training scores the generator."""
    params, paths, state = training.params, training.paths, training.state
    saved_rows = state["histories"] if state else {}
    histories: dict[str, HistoryFile] = {
        "losses": HistoryFile(
            paths.live.history, saved_rows.get("losses"), sinks.metrics if sinks else None
        )
    }
    if training.plan.scoring:
        scorer = training.plan.task.scorer(
            paths.data_dir,
            training.plan.classifier,
            training.seed,
            params.train.eval_samples,
            **training.model.task_networks(),
        )
        histories["quality"] = QualityHistory(
            paths.live.quality,
            scorer,
            params.train.eval_every,
            training.initial_epoch,
            saved_rows.get("quality"),
            sinks.quality_metrics if sinks else None,
        )
    elif paths.classifier is not None:
        # Scoring is off, but the stage still declares the file: leave a header only.
        with atomic_file(paths.live.quality) as tmp:
            tmp.write_text("epoch\n")
    return histories


def publish_outputs(
    model: TwoNetworkModel,
    paths: TrainPaths,
    before_publish: Callable[[ModelFiles, TwoNetworkModel], None] | None = None,
    task: Task | None = None,
) -> None:
    """Replace `paths.out_dir` with the finished outputs in one step.

    Args:
        model: the trained model; its generator is saved.
        paths: where the outputs in progress are and where they go.
        before_publish: called with the staged outputs and the model before
            they replace `paths.out_dir`; what it writes there is published
            with them.
        task: what the model learnt; a translation's is written to task.json.
    """
    with atomic_dir(paths.out_dir) as staging:
        staged = ModelFiles(staging)
        # Copied, not moved: if publishing fails, a rerun resumes with them intact.
        shutil.copytree(paths.live.samples, staged.samples)
        for live, final in (
            (paths.live.history, staged.history),
            (paths.live.quality, staged.quality),
        ):
            if live.is_file():
                shutil.copy2(live, final)
        model.generator.save(staged.generator)
        staged.networks.mkdir()
        for stem, network in model.published_networks().items():
            network.save(staged.networks / f"{stem}.keras")
        if task is not None:
            write_json(staged.task, task.describe())
        if before_publish is not None:
            before_publish(staged, model)
