"""The train step on the TensorFlow backend: gradients by tape, state changed in place.

Keras' TensorFlow trainer calls `train_step(data)` inside a `tf.function`,
and variables are assigned as the step goes. Under a tf.distribute strategy
the step runs once per replica, and the gradients are summed over them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from pipeline import cluster
from pipeline.errors import PipelineError

if TYPE_CHECKING:  # only a type here
    from pipeline.data.stream import BatchStream


def minimise(
    loss_fn: Callable[[], tuple], network: keras.Model, optimizer: keras.optimizers.Optimizer
):
    """One optimizer step on `network`'s trainable weights; returns `loss_fn`'s extras.

    Args:
        loss_fn: runs the network and returns `(loss, extras)`; `loss` is
            this replica's mean loss, scaled here so that the gradients
            summed over replicas average the global batch.
        network: whose trainable weights move.
        optimizer: the optimizer that moves them. A `LossScaleOptimizer`
            (float16) scales the loss here, and in `apply` unscales the
            gradients and skips the step when one is not finite.
    """
    variables = network.trainable_variables
    with tf.GradientTape() as tape:
        loss, extras = loss_fn()
        scaled = optimizer.scale_loss(loss / replicas_in_sync())
    optimizer.apply(tape.gradient(scaled, variables), variables)
    return extras


def input_gradients(fn: Callable, inputs, loss_scale=None):
    """d(sum fn(inputs)) / d inputs, kept differentiable (penalties train through it).

    Args:
        fn: maps `inputs` to one float32 value per example.
        inputs: what the gradient is taken with respect to.
        loss_scale: when given, the gradient is taken of the outputs times
            it and divided by it after, so that it survives float16 layers.
    """
    inputs = tf.convert_to_tensor(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fn(inputs)
        if loss_scale is not None:
            outputs = outputs * tf.cast(loss_scale, outputs.dtype)
    gradients = tape.gradient(outputs, inputs)
    if loss_scale is None:
        return gradients
    return gradients / tf.cast(loss_scale, gradients.dtype)


def weight_gradients(fn: Callable, values: list):
    """d fn(values) / d values, kept differentiable (G's unrolled loss trains through it).

    The inner tape runs inside `minimise`'s, which records the inner gradient's
    ops, so the outer gradient reaches whatever `fn` depends on (G's weights,
    through the fakes) and the values themselves.

    Args:
        fn: maps `values` (D's weights, as tensors) to a scalar loss.
        values: what the gradient is taken with respect to.
    """
    values = [tf.convert_to_tensor(value) for value in values]
    with tf.GradientTape() as tape:
        tape.watch(values)
        output = fn(values)
    return tape.gradient(output, values, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def step_results(results: dict) -> dict:
    """A train step's results, shaped for Keras to average over the replicas.

    Keras (3.15) averages them across workers with `strategy.reduce("MEAN",
    value, axis=0)`, which fails on a scalar under MultiWorkerMirroredStrategy;
    there each result gets a length-1 axis for it to reduce (to a scalar).
    """
    strategy = tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return results
    return {name: tf.reshape(value, (1,)) for name, value in results.items()}


def replica_index():
    """This replica's index among `replicas_in_sync()` under tf.distribute (0 outside it)."""
    context = tf.distribute.get_replica_context()
    return context.replica_id_in_sync_group if context is not None else 0


def replicas_in_sync() -> int:
    """How many replicas share this step under tf.distribute (1 outside it)."""
    context = tf.distribute.get_replica_context()
    return context.num_replicas_in_sync if context is not None else 1


def attach_optimizers(
    model: keras.Model,
    d_optimizer: keras.optimizers.Optimizer,
    g_optimizer: keras.optimizers.Optimizer,
) -> None:
    """Nothing to do: the TensorFlow trainer leaves the optimizers' state in their variables."""


def run_train_step(model: keras.Model, step: Callable[[Any], dict], data) -> dict:
    """`step(data)`, as Keras' TensorFlow trainer calls a train step (state changes in place)."""
    return step(data)


# --- the runtime: seeding, devices, XLA, the data stream ------------------------


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TensorFlow for deterministic kernels.

    Args:
        seed: the run's seed.
        deterministic: False under XLA, which Keras refuses to combine with
            deterministic kernels (it would silently turn `jit_compile` off).
    """
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    else:
        # Not in tf.config's public API; an earlier model in this process may
        # have turned determinism on, and it would keep XLA off.
        from tensorflow.python.framework.config import disable_op_determinism

        disable_op_determinism()


def avoid_failing_graph_rewrites(model: keras.Model) -> None:
    """Turn grappler's remapper off for a model it cannot rewrite, spectral norm's.

    On a convolution wrapped in `SpectralNormalization` and followed by a
    LeakyReLU, the remapper's fusion fails on the gradient graph and TensorFlow
    logs `E0000 ... remapper failed: INVALID_ARGUMENT ...` every training run.
    A failed pass leaves that graph as it was, so turning the remapper off
    changes nothing there but the noise (other graphs of the process, such as
    the grids' generator, lose its fusions: a tiny, still deterministic,
    difference in rounding). Models without spectral norm keep it.

    Call it after building each model, before its first step.
    """
    # Every layer however deep (wrapped in blocks too): Keras' own walk.
    layers = model._flatten_layers(include_self=False, recursive=True)
    spectral = any(isinstance(layer, keras.layers.SpectralNormalization) for layer in layers)
    # Set either way: the option is the process's, and a model built after a
    # spectral-norm one in the same process (the tests, the benchmark) must
    # train exactly as it would alone.
    tf.config.optimizer.set_experimental_options({"remapping": not spectral})


def select_placement(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy `train.strategy` names.

    `auto` mirrors over every GPU when there are several and otherwise uses
    the default (single-device) strategy; no device is hard-coded.
    `multi_worker` reads the cluster and this process's task from TF_CONFIG.
    """
    if name == "multi_worker":
        cluster.check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored" or (name == "auto" and len(tf.config.list_logical_devices("GPU")) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def uses_xla(setting: str | bool, strategy: tf.distribute.Strategy) -> bool:
    """Whether `train.jit_compile` turns XLA on, decided before the model is built.

    `auto` decides as Keras' own `auto` does: XLA with a GPU and no
    tf.distribute strategy; off on a CPU-only machine (where it measured
    slower) and over several replicas. True and False are taken as they are.
    """
    if setting != "auto":
        return bool(setting)
    single = not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()
    return single and bool(tf.config.list_logical_devices("GPU"))


def deterministic_ops(xla: bool) -> bool:
    """Whether the kernels are deterministic: TensorFlow's op determinism is on without XLA."""
    return not xla


def placement_name(strategy: tf.distribute.Strategy) -> str:
    """The `train.strategy` value that names `strategy`, `auto` resolved."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "multi_worker"
    return "mirrored" if isinstance(strategy, tf.distribute.MirroredStrategy) else "default"


def gpu_names() -> list[str]:
    """The model name of each GPU TensorFlow sees (empty without one)."""
    return [
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        for gpu in tf.config.list_physical_devices("GPU")
    ]


def device_names() -> list[str]:
    """Every physical device TensorFlow sees (`CPU:0`, `GPU:0`...)."""
    return [d.name.removeprefix("/physical_device:") for d in tf.config.list_physical_devices()]


def endless(batch: tuple) -> tf.data.Dataset:
    """One batch, `(x,)` or `(x, y)`, repeated forever, as `fit` takes it (for benchmarks)."""
    return tf.data.Dataset.from_tensors(batch if len(batch) > 1 else batch[0]).repeat()


def check_workers_agree(strategy: tf.distribute.Strategy, epoch: int) -> None:
    """Refuse to train when the workers would resume from different epochs.

    Every worker resumes from the chief's checkpoint; one that cannot reach
    it would start from epoch 0 while the chief resumes, and the collectives
    would pair different steps. Every worker reaches the same verdict (the
    sum of the epochs and of their squares), so none waits on the others.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    workers = strategy.extended._num_workers  # noqa: SLF001 - no public count of workers
    replicas_per_worker = strategy.num_replicas_in_sync // workers
    values = tf.constant([float(epoch), float(epoch) ** 2]) / replicas_per_worker
    total = strategy.reduce("SUM", strategy.run(lambda: tf.identity(values)), axis=None)
    mean, mean_square = (float(v) / workers for v in total.numpy())
    if mean_square - mean**2 > 1e-6:
        raise PipelineError(
            f"the {workers} workers would resume from different epochs (this one: {epoch}, "
            f"mean {mean:g}): every worker resumes from the chief's checkpoint folder, so it "
            "must be reachable from each (one machine or a shared file system); or delete "
            "it to start over"
        )


def training_batches(stream: BatchStream) -> tf.data.Dataset:
    """The seeded batch stream training fits on (`pipeline.data.stream`), as a tf.data dataset.

    The batches are the NumPy stream's, the same as on every backend. They
    are cut into examples and batched again inside tf.data, so that over
    several workers each takes its part of every global batch (the default
    auto-sharding, by file, would give them different shards, or fail).

    Args:
        stream: the batches, from the position training starts at: images
            alone, (images, labels), or a translation's (inputs, targets).
    """
    probe = stream.records.take(np.arange(1))
    parts = probe if stream.labels else probe[:1]
    signature = tuple(
        tf.TensorSpec((None, *part.shape[1:]), tf.as_dtype(part.dtype)) for part in parts
    )
    batches = tf.data.Dataset.from_generator(lambda: iter(stream), output_signature=signature)
    if not stream.labels:
        batches = batches.map(_images_alone)
    examples = batches.unbatch()
    dataset = examples.batch(stream.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _images_alone(images: tf.Tensor) -> tf.Tensor:
    return images
