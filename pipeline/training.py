"""Build, fit and save a GAN: seeded, resumable, and the same code on one device or several."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from pipeline import backend, cluster, tracking
from pipeline.callbacks import (
    HistoryFile,
    QualityHistory,
    SampleGrid,
    StopOnDivergence,
    TrainingCheckpoint,
    checkpoint_state,
    fingerprint_of,
    restore_checkpoint,
)
from pipeline.data import DatasetInfo, verify_prepared
from pipeline.errors import PipelineError
from pipeline.evaluation.evaluate import training_scorer
from pipeline.fileio import atomic_dir, atomic_file, read_json, write_json
from pipeline.models.adversarial import AdversarialModel
from pipeline.models.build import (
    build_networks,
    generator_optimizer_options,
    make_model,
    training_callbacks,
)
from pipeline.params import ModelParams, OptimizerParams, TrainStage
from pipeline.progress import progress_verbosity
from pipeline.sampling import grid_inputs
from pipeline.saved_models import load_keras


@dataclass(frozen=True)
class ModelFiles:
    """The files one model's training writes, all in `folder`."""

    folder: Path

    @property
    def generator(self) -> Path:
        return self.folder / "generator.keras"

    @property
    def history(self) -> Path:
        return self.folder / "history.csv"

    @property
    def quality(self) -> Path:
        return self.folder / "quality.csv"

    @property
    def samples(self) -> Path:
        return self.folder / "samples"

    @property
    def run_file(self) -> Path:
        return self.folder / "run.json"


@dataclass(frozen=True)
class TrainPaths:
    """Where one model's training reads and writes.

    While training runs, the grids and histories grow in `checkpoint_dir`
    (`live`), beside the resumable state; `out_dir` (`outputs`) is replaced
    in one step when training has succeeded, so a failure or a kill leaves
    the last good outputs there.

    Args:
        data_dir: the prepared dataset.
        out_dir: the stage's outputs (generator, histories, grids, run id).
        checkpoint_dir: resumable state and the outputs in progress, kept
            outside the DVC outputs.
        classifier: the evaluator that scores the generator during training
            (`train.eval_every`); None trains without those scores.
    """

    data_dir: Path
    out_dir: Path
    checkpoint_dir: Path
    classifier: Path | None = None

    def __post_init__(self):
        for name in ("data_dir", "out_dir", "checkpoint_dir", "classifier"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))

    @property
    def outputs(self) -> ModelFiles:
        """The finished outputs."""
        return ModelFiles(self.out_dir)

    @property
    def live(self) -> ModelFiles:
        """The outputs while training runs (no generator or run id yet)."""
        return ModelFiles(self.checkpoint_dir)

    @property
    def state_dir(self) -> Path:
        """The state a resumed run starts from, rewritten after every epoch."""
        return self.checkpoint_dir / "state"

    @property
    def attempt_file(self) -> Path:
        """The MLflow run of the training in progress, saved as soon as the run exists."""
        return self.checkpoint_dir / "run.json"


@contextmanager
def precision_policy(precision: str) -> Iterator[None]:
    """Layers made inside compute in `precision`'s dtype (`train.precision`), variables float32."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def make_optimizer(
    params: OptimizerParams, loss_scaling: bool = False, **options: Any
) -> keras.optimizers.Optimizer:
    """An optimizer from its params section.

    Args:
        params: the optimizer's params section.
        loss_scaling: wrap it in Keras' `LossScaleOptimizer` (float16): the
            loss is scaled up before the gradients are taken, they are scaled
            back down, and a step whose gradients are not finite is skipped
            and the scale halved.
        **options: more Keras optimizer arguments (`use_ema` and
            `ema_momentum`, for an average of the weights it updates).
    """
    if params.name == "adam":
        optimizer = keras.optimizers.Adam(
            params.learning_rate, beta_1=params.beta_1, beta_2=params.beta_2, **options
        )
    elif params.name == "rmsprop":
        optimizer = keras.optimizers.RMSprop(
            params.learning_rate, momentum=params.momentum, **options
        )
    else:
        optimizer = keras.optimizers.SGD(params.learning_rate, momentum=params.momentum, **options)
    return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scaling else optimizer


def inner_optimizer(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """The optimizer that moves the weights: the one a `LossScaleOptimizer` wraps, if any."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def build_model(
    params: ModelParams,
    image_shape: tuple[int, int, int],
    seed: int,
    num_classes: int = 0,
    placement: Any = None,
) -> AdversarialModel:
    """Build and compile a model of `params.family` with its optimizers' variables created.

    Args:
        params: the model's params section.
        image_shape: (height, width, channels) from the dataset's info file.
        seed: seeds weight initialisation and the noise inside `train_step`.
        num_classes: 0 for an unconditional model, else the dataset's classes.
        placement: the devices (`backend.select_placement`); by default what
            `train.strategy` names.
    """
    train = params.train
    placement = placement or backend.select_placement(train.strategy)
    xla = backend.uses_xla(train.jit_compile, placement)
    backend.seed_everything(seed, deterministic=not xla)
    scaled = train.scales_losses
    with placement.scope():
        with precision_policy(train.precision):
            generator, discriminator = build_networks(params, image_shape, num_classes)
        model = make_model(params, generator, discriminator, num_classes, seed)
        model.compile(
            d_optimizer=make_optimizer(train.d_optimizer, scaled),
            g_optimizer=make_optimizer(
                train.g_optimizer, scaled, **generator_optimizer_options(params)
            ),
            jit_compile=xla,
            steps_per_execution=train.steps_per_execution,
        )
        model.build_optimizers()
    return model


def epoch_steps(steps_per_pass: int, steps_per_execution: int) -> int:
    """An epoch's generator steps: a pass over the data, cut to whole executions.

    Keras runs `steps_per_execution` steps per call even when fewer are left
    in an epoch of an endless stream, so an epoch is the largest multiple of
    it within one pass (the stream carries on where it stopped: no image is
    skipped). Where it divides the pass, epochs are the same as without it.
    """
    return steps_per_pass // steps_per_execution * steps_per_execution


@dataclass(frozen=True)
class TrainingPlan:
    """What `check_training_inputs` found: everything training needs, checked.

    Attributes:
        info: the prepared dataset's info, its shards verified.
        placement: the devices `train.strategy` names (`backend.select_placement`).
        steps_per_epoch: generator steps per pass over the training split.
        num_classes: 0 for an unconditional model, else the dataset's classes.
        classifier: the evaluator, loaded, when training scores the generator.
    """

    info: DatasetInfo
    placement: Any
    steps_per_epoch: int
    num_classes: int
    classifier: keras.Model | None


def check_training_inputs(params: ModelParams, paths: TrainPaths) -> TrainingPlan:
    """Check the data, the batch sizes and the evaluator before anything is written.

    Raises:
        PipelineError: one line naming the value and what is allowed.
    """
    info = verify_prepared(paths.data_dir)
    train = params.train
    placement = backend.select_placement(train.strategy)
    replicas = placement.num_replicas_in_sync
    if train.batch_size % replicas:
        raise PipelineError(
            f"train.batch_size = {train.batch_size}: must be divisible by the "
            f"{replicas} replicas of the {train.strategy!r} strategy"
        )
    count = info.splits["train"].count
    global_batch = train.batch_size * train.d_steps
    if global_batch > count:
        raise PipelineError(
            f"train.batch_size * train.d_steps = {global_batch}: larger than the "
            f"{count} training images; make it at most {count}"
        )
    steps_per_pass = count // global_batch
    if train.steps_per_execution > steps_per_pass:
        raise PipelineError(
            f"train.steps_per_execution = {train.steps_per_execution}: more than the "
            f"{steps_per_pass} steps of a pass over the {count} training images; "
            f"make it at most {steps_per_pass}"
        )
    # Scoring during training is the chief's; another worker would only repeat it.
    scoring = bool(train.eval_every) and paths.classifier is not None and cluster.is_chief()
    if scoring and train.eval_samples > count:
        raise PipelineError(
            f"train.eval_samples = {train.eval_samples}: larger than the {count} "
            f"training images it is compared with; use at most {count}"
        )
    classifier = load_keras(paths.classifier, "evaluator") if scoring else None
    return TrainingPlan(
        info=info,
        placement=placement,
        steps_per_epoch=epoch_steps(steps_per_pass, train.steps_per_execution),
        num_classes=info.num_classes if params.conditional else 0,
        classifier=classifier,
    )


@dataclass(frozen=True)
class Training:
    """A model ready to train: built, and restored from its checkpoint or started afresh.

    Training is done in parts, each one job: `start_training` makes this,
    `fit_callbacks` and `fit_epochs` train it, `publish_outputs`
    replaces the outputs in one step, and `discard_checkpoint_dir` deletes
    the resumable state. `fit_model` runs them in that order; `train_model`
    calls them itself, because the checkpoint must outlive its MLflow run:
    a kill after publishing but before the run ends still resumes it.

    Attributes:
        params: the model's params section.
        seed: the run's seed.
        paths: where to read data and write outputs and checkpoints.
        fingerprint: identifies this run; a checkpoint of another is ignored.
        plan: the checked inputs (`check_training_inputs`).
        model: the built model, with the checkpoint's weights on a resume.
        state: the restored checkpoint (epoch, history rows); None on a fresh start.
    """

    params: ModelParams
    seed: int
    paths: TrainPaths
    fingerprint: str
    plan: TrainingPlan
    model: AdversarialModel
    state: dict | None

    @property
    def initial_epoch(self) -> int:
        """The first epoch still to run: 0 on a fresh start."""
        return self.state["epoch"] if self.state else 0


def start_training(
    params: ModelParams,
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
    model = build_model(params, plan.info.image_shape, seed, plan.num_classes, plan.placement)
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
    grid = grid_inputs(
        training.seed, params.network.latent_dim, params.train.grid_size, training.plan.num_classes
    )
    callbacks = [
        # The model's parts' own (instance noise's schedule) set up each epoch.
        *training_callbacks(params),
        # Then: a diverged epoch must reach neither the grids nor the checkpoint.
        StopOnDivergence(name),
        SampleGrid(
            *grid,
            paths.live.samples,
            training.initial_epoch,
            sinks.grid if sinks else None,
            save_every=params.train.eval_every or params.train.epochs,
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
) -> None:
    """Run the epochs still to run, then put in the generator weights that get published.

    Args:
        training: what `start_training` returned; its model is trained in place.
        callbacks: from `fit_callbacks`.
        verbose: passed to `fit`; by default the Keras progress bar on a
            terminal and one line per epoch otherwise.

    Raises:
        RunFailed: a loss or weight became NaN or infinite.
    """
    params, model = training.params, training.model
    if training.initial_epoch < params.train.epochs:
        model.fit(
            _training_stream(training),
            epochs=params.train.epochs,
            initial_epoch=training.initial_epoch,
            steps_per_epoch=training.plan.steps_per_epoch,
            callbacks=callbacks,
            verbose=progress_verbosity() if verbose is None else verbose,
            shuffle=False,  # the stream is already shuffled, reproducibly
        )
    if inner_optimizer(model.g_optimizer).use_ema:
        # Evaluation and export use the averaged weights.
        model.g_optimizer.finalize_variable_values(model.generator.trainable_variables)


def fit_model(
    params: ModelParams,
    seed: int,
    paths: TrainPaths,
    fingerprint: str,
    sinks: tracking.Sinks | None = None,
    verbose: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    name: str = "model",
    plan: TrainingPlan | None = None,
) -> AdversarialModel:
    """Train a model on the prepared data, resuming from a matching checkpoint, and publish it.

    Every part in order, for a caller with nothing to do between them (see
    `Training`); the checkpoint is discarded once the outputs are published.

    Args:
        params: the model's params section.
        seed: the run's seed.
        paths: where to read data and write outputs and checkpoints.
        fingerprint: identifies this run; a checkpoint of another is ignored.
        sinks: where per-epoch metrics and grids go besides the files.
        verbose: passed to `fit` (see `fit_epochs`).
        callbacks: more callbacks, run after the checkpoint is written.
        name: the model's name, for messages.
        plan: the result of `check_training_inputs`, if the caller has it.

    Returns:
        The trained model. Its outputs are in `paths.out_dir`.

    Raises:
        RunFailed: a loss or weight became NaN or infinite; nothing is published.
    """
    training = start_training(params, seed, paths, fingerprint, plan)
    fit_epochs(training, fit_callbacks(training, sinks, name, callbacks), verbose)
    publish_outputs(training.model, paths)
    discard_checkpoint_dir(paths)
    return training.model


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
    return backend.training_batches(
        training.paths.data_dir,
        params.train.batch_size * params.train.d_steps,
        training.seed,
        start_batch=training.initial_epoch * plan.steps_per_epoch,
        labels=bool(plan.num_classes),
        count=plan.info.splits["train"].count,
    )


def _histories(training: Training, sinks: tracking.Sinks | None) -> dict[str, HistoryFile]:
    """The losses file, and the quality file when training scores the generator."""
    params, paths, state = training.params, training.paths, training.state
    saved_rows = state["histories"] if state else {}
    histories: dict[str, HistoryFile] = {
        "losses": HistoryFile(
            paths.live.history, saved_rows.get("losses"), sinks.metrics if sinks else None
        )
    }
    classifier = training.plan.classifier
    if classifier is not None:
        histories["quality"] = QualityHistory(
            paths.live.quality,
            training_scorer(classifier, paths.data_dir, training.seed, params.train.eval_samples),
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
    model: AdversarialModel,
    paths: TrainPaths,
    before_publish: Callable[[ModelFiles, AdversarialModel], None] | None = None,
) -> None:
    """Replace `paths.out_dir` with the finished outputs in one step.

    Args:
        model: the trained model; its generator is saved.
        paths: where the outputs in progress are and where they go.
        before_publish: called with the staged outputs and the model before
            they replace `paths.out_dir`; what it writes there is published
            with them.
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
        if before_publish is not None:
            before_publish(staged, model)


def train_model(stage: TrainStage, name: str, paths: TrainPaths) -> str:
    """Train model `name` inside one MLflow run and publish its outputs with the run id.

    Every input is checked before the run is opened. A training interrupted
    at any point (before its first checkpoint, between epochs, while its
    model is logged, after publishing but before its run ended) resumes from
    its last completed epoch in the same MLflow run when the params, seed
    and data are unchanged, and says so. A run that fails is marked FAILED
    (KILLED when interrupted) with the reason.

    Returns:
        The MLflow run id.
    """
    plan = check_training_inputs(stage.model, paths)
    fingerprint = fingerprint_of(stage.model.model_dump(), stage.seed, plan.info.content_hash)
    if not cluster.is_chief():
        return _train_as_worker(stage, name, paths, fingerprint, plan)
    resume = _interrupted_attempt(paths, fingerprint)
    devices = device_tags(plan.placement, stage.model)
    with tracking.model_run(stage, name, plan.info, resume=resume, devices=devices) as run:
        run_id = run.info.run_id
        logged = _record_attempt(paths, fingerprint, run_id, resume, name, stage.model)
        training = start_training(stage.model, stage.seed, paths, fingerprint, plan)
        sinks = tracking.Sinks.for_active_run(logged)
        fit_epochs(training, fit_callbacks(training, sinks, name))

        def log_and_reference(staged: ModelFiles, model: AdversarialModel) -> None:
            model_id = tracking.log_generator(model.generator, name, stage.model.train.epochs)
            write_json(staged.run_file, tracking.run_reference(run, name, model_id))

        publish_outputs(training.model, paths, log_and_reference)
    # Only once the run has ended FINISHED: until then a rerun resumes it.
    discard_checkpoint_dir(paths)
    return run_id


def device_tags(placement: Any, params: ModelParams) -> dict[str, str]:
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
        "devices.deterministic_ops": str(not xla).lower(),
        "devices.steps_per_execution": str(train.steps_per_execution),
    }


def _train_as_worker(
    stage: TrainStage, name: str, paths: TrainPaths, fingerprint: str, plan: TrainingPlan
) -> str:
    """Take part in a multi-worker training without writing the stage's outputs or MLflow.

    The worker trains in step with the chief in a folder of its own beside
    the chief's (`cluster.worker_dir`), thrown away at the end. It resumes
    from the chief's checkpoint, as TensorFlow's own multi-worker backups
    do, so every worker starts from the same epoch whichever process a kill
    caught between two saves; that folder must be reachable from every
    worker (one machine, or a shared file system).

    Returns:
        An empty run id: the chief's process records the run.
    """
    own = cluster.worker_dir(paths.checkpoint_dir)
    worker_paths = TrainPaths(paths.data_dir, own / "outputs", own / "state", paths.classifier)
    shutil.rmtree(own, ignore_errors=True)
    if paths.state_dir.is_dir():
        # The chief writes no checkpoint before the first collective, which
        # waits for this worker: the folder is not being rewritten now.
        shutil.copytree(paths.state_dir, worker_paths.state_dir)
    fit_model(stage.model, stage.seed, worker_paths, fingerprint, name=name, plan=plan)
    shutil.rmtree(own, ignore_errors=True)
    return ""


def _record_attempt(
    paths: TrainPaths,
    fingerprint: str,
    run_id: str,
    resume: tracking.Resume | None,
    name: str,
    params: ModelParams,
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
