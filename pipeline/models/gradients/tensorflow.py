"""Taking gradients on the TensorFlow backend: everything TF-specific about a train step.

The step's math (`pipeline.models.adversarial`) is written in `keras.ops`
and calls only these functions, the way Keras splits its trainers
into `keras/src/backend/<backend>/trainer.py`. Another backend is a sibling
module with the same functions.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf


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
