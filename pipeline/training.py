"""Build, fit and save a GAN: seeded, resumable, and the same code on one device or several."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from pipeline import tracking
from pipeline.callbacks import (
    HistoryFile,
    InstanceNoiseSchedule,
    QualityHistory,
    SampleGrid,
    TrainingCheckpoint,
    checkpoint_state,
    fingerprint_of,
    restore_checkpoint,
)
from pipeline.cli import progress_verbosity
from pipeline.data import load_info, load_split
from pipeline.errors import PipelineError
from pipeline.evaluation.evaluate import training_scorer
from pipeline.fileio import atomic_file, write_json
from pipeline.models import AdversarialModel, make_model
from pipeline.networks import build_networks
from pipeline.params import ModelParams, OptimizerParams, Params
from pipeline.sampling import grid_inputs

SHUFFLE_BUFFER = 20_000


@dataclass(frozen=True)
class TrainPaths:
    """Where one model's training reads and writes.

    Args:
        data_dir: the prepared dataset.
        out_dir: the stage's outputs (generator, history, grids, run id).
        checkpoint_dir: resumable state, kept outside the DVC outputs.
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
    def generator(self) -> Path:
        return self.out_dir / "generator.keras"

    @property
    def history(self) -> Path:
        return self.out_dir / "history.csv"

    @property
    def quality(self) -> Path:
        return self.out_dir / "quality.csv"

    @property
    def samples(self) -> Path:
        return self.out_dir / "samples"

    @property
    def run_file(self) -> Path:
        return self.out_dir / "run.json"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TensorFlow for deterministic kernels."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def select_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy `train.strategy` names.

    `auto` mirrors over every GPU when there are several and otherwise uses
    the default (single-device) strategy; no device is hard-coded.
    """
    if name == "mirrored" or (name == "auto" and len(tf.config.list_logical_devices("GPU")) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def make_optimizer(params: OptimizerParams, ema: float = 0.0) -> keras.optimizers.Optimizer:
    """An optimizer from its params section.

    Args:
        params: the optimizer's params section.
        ema: if > 0, the optimizer also keeps an exponential moving average
            of the weights it updates, with this momentum (Keras' own
            `use_ema`); `finalize_variable_values` swaps it in.
    """
    averaging = {"use_ema": True, "ema_momentum": ema} if ema else {}
    if params.name == "adam":
        return keras.optimizers.Adam(
            params.learning_rate, beta_1=params.beta_1, beta_2=params.beta_2, **averaging
        )
    if params.name == "rmsprop":
        return keras.optimizers.RMSprop(params.learning_rate, momentum=params.momentum, **averaging)
    return keras.optimizers.SGD(params.learning_rate, momentum=params.momentum, **averaging)


def epoch_batches(
    dataset: tf.data.Dataset,
    batch_size: int,
    seed: int,
    skip_batches: int = 0,
    buffer_size: int = SHUFFLE_BUFFER,
) -> tf.data.Dataset:
    """An endless stream of shuffled batches, the same for the same seed.

    Every pass over the data is reshuffled, in an order fixed by `seed`. A
    resumed run skips the batches the interrupted one consumed, so it sees
    exactly the batches an uninterrupted run would. (Seeding each epoch's
    shuffle from the epoch number needs a tensor seed, which tf.data rejects
    once op determinism is on.)

    Args:
        dataset: unbatched examples.
        batch_size: examples per batch, across all replicas.
        seed: fixes the order of every pass.
        skip_batches: batches already consumed before a resume.
        buffer_size: upper bound on the shuffle buffer.
    """
    shuffled = dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    stream = shuffled.repeat().skip(skip_batches * batch_size)
    return stream.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _with_label(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return image, label


def _image_only(image: tf.Tensor, label: tf.Tensor) -> tf.Tensor:
    # Named functions, not two lambdas on one line, which AutoGraph cannot tell apart.
    return image


def build_model(
    params: ModelParams,
    image_shape: tuple[int, int, int],
    seed: int,
    num_classes: int = 0,
    strategy: tf.distribute.Strategy | None = None,
) -> AdversarialModel:
    """Build and compile a model of `params.family` with its optimizers' variables created.

    Args:
        params: the model's params section.
        image_shape: (height, width, channels) from the dataset's info file.
        seed: seeds weight initialisation and the noise inside `train_step`.
        num_classes: 0 for an unconditional model, else the dataset's classes.
        strategy: the distribution strategy; the current one when None.
    """
    seed_everything(seed)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        generator, discriminator = build_networks(
            params.network, image_shape, num_classes, params.network.discriminator_norm
        )
        model = make_model(params, generator, discriminator, num_classes, seed)
        model.compile(
            d_optimizer=make_optimizer(params.train.d_optimizer),
            g_optimizer=make_optimizer(params.train.g_optimizer, params.train.generator_ema),
        )
        model.build_optimizers()
    return model


def fit_model(
    params: ModelParams,
    seed: int,
    paths: TrainPaths,
    fingerprint: str,
    sinks: tracking.Sinks | None = None,
    extra_state: dict | None = None,
    verbose: int | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> AdversarialModel:
    """Train a model on the prepared data, resuming from a matching checkpoint.

    Args:
        params: the model's params section.
        seed: the run's seed.
        paths: where to read data and write outputs and checkpoints.
        fingerprint: identifies this run; a checkpoint of another is ignored.
        sinks: where per-epoch metrics and grids go besides the files.
        extra_state: saved with each checkpoint (e.g. the MLflow run id).
        verbose: passed to `fit`; by default the Keras progress bar on a
            terminal and one line per epoch otherwise.
        callbacks: more callbacks, run after the checkpoint is written.

    Returns:
        The trained model. Its generator is saved to `paths.generator`.
    """
    info = load_info(paths.data_dir)
    strategy = select_strategy(params.train.strategy)
    replicas = strategy.num_replicas_in_sync
    if params.train.batch_size % replicas:
        raise PipelineError(
            f"train.batch_size = {params.train.batch_size}: must be divisible by the "
            f"{replicas} replicas of the {params.train.strategy!r} strategy"
        )
    num_classes = info.num_classes if params.conditional else 0
    model = build_model(params, info.image_shape, seed, num_classes, strategy)
    paths.samples.mkdir(parents=True, exist_ok=True)

    state = restore_checkpoint(paths.checkpoint_dir, fingerprint, model, paths.samples)
    initial_epoch = state["epoch"] if state else 0
    saved_rows = state["histories"] if state else {}

    global_batch = params.train.batch_size * params.train.d_steps
    count = info.splits["train"].count
    steps_per_epoch = count // global_batch
    if steps_per_epoch == 0:
        raise PipelineError(
            f"train.batch_size * train.d_steps = {global_batch}: larger than the "
            f"{count} training images; make it smaller"
        )
    batches = epoch_batches(
        # Cached after the first pass: parsing the records again every epoch
        # costs a quarter of an MLP epoch. (MNIST takes 190 MB as float32.)
        load_split(paths.data_dir, "train")
        .map(_with_label if num_classes else _image_only)
        .cache(),
        global_batch,
        seed,
        skip_batches=initial_epoch * steps_per_epoch,
        buffer_size=min(count, SHUFFLE_BUFFER),
    )
    grid = grid_inputs(seed, params.network.latent_dim, params.train.grid_size, num_classes)
    histories = {
        "losses": HistoryFile(
            paths.history, saved_rows.get("losses"), sinks.metrics if sinks else None
        )
    }
    if params.train.eval_every and paths.classifier is not None:
        histories["quality"] = QualityHistory(
            paths.quality,
            training_scorer(paths.classifier, paths.data_dir, seed, params.train.eval_samples),
            params.train.eval_every,
            initial_epoch,
            saved_rows.get("quality"),
            sinks.quality_metrics if sinks else None,
        )
    elif paths.classifier is not None:
        # Scoring is off, but the stage still declares the file: leave a header only.
        with atomic_file(paths.quality) as tmp:
            tmp.write_text("epoch\n")
    callbacks = [
        SampleGrid(*grid, paths.samples, initial_epoch, sinks.grid if sinks else None),
        *histories.values(),
        TrainingCheckpoint(
            paths.checkpoint_dir, fingerprint, histories, paths.samples, extra_state
        ),
        *(callbacks or []),
    ]
    if params.train.instance_noise:
        callbacks.insert(0, InstanceNoiseSchedule(params.train.instance_noise, params.train.epochs))
    if initial_epoch < params.train.epochs:
        model.fit(
            batches,
            epochs=params.train.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            verbose=progress_verbosity() if verbose is None else verbose,
            shuffle=False,  # the stream is already shuffled, reproducibly
        )
    if params.train.generator_ema:
        # Evaluation and export use the averaged weights.
        model.g_optimizer.finalize_variable_values(model.generator.trainable_variables)
    with atomic_file(paths.generator) as tmp:
        model.generator.save(tmp)
    shutil.rmtree(paths.checkpoint_dir, ignore_errors=True)
    return model


def train_model(params: Params, name: str, paths: TrainPaths) -> str:
    """Train model `name` inside one MLflow run and write the run id to its outputs.

    A run interrupted by a crash or a kill resumes from its last completed
    epoch, in the same MLflow run, when the params, seed and data are unchanged.

    Returns:
        The MLflow run id.
    """
    model_params = params.model(name)
    info = load_info(paths.data_dir)
    fingerprint = fingerprint_of(model_params.model_dump(), params.seed, info.content_hash)
    interrupted = checkpoint_state(paths.checkpoint_dir, fingerprint)
    previous_run = interrupted["extra"].get("run_id") if interrupted else None
    with tracking.model_run(params, name, info, run_id=previous_run) as run:
        run_id = run.info.run_id
        model = fit_model(
            model_params,
            params.seed,
            paths,
            fingerprint,
            sinks=tracking.Sinks.for_active_run(),
            extra_state={"run_id": run_id},
        )
        tracking.log_generator(model.generator)
        write_json(paths.run_file, tracking.run_reference(run))
    return run_id
