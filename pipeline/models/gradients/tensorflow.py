"""Taking gradients on the TensorFlow backend: everything TF-specific about a train step.

The step's math (`pipeline.models.adversarial`) is written in `keras.ops`
and calls only these three functions, the way Keras splits its trainers
into `keras/src/backend/<backend>/trainer.py`. Another backend is a sibling
module with the same three functions.
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
        optimizer: the optimizer that moves them.
    """
    variables = network.trainable_variables
    with tf.GradientTape() as tape:
        loss, extras = loss_fn()
        scaled = loss / replicas_in_sync()
    optimizer.apply(tape.gradient(scaled, variables), variables)
    return extras


def input_gradients(fn: Callable, inputs):
    """d(sum fn(inputs)) / d inputs, kept differentiable (penalties train through it)."""
    inputs = tf.convert_to_tensor(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fn(inputs)
    return tape.gradient(outputs, inputs)


def replicas_in_sync() -> int:
    """How many replicas share this step under tf.distribute (1 outside it)."""
    context = tf.distribute.get_replica_context()
    return context.num_replicas_in_sync if context is not None else 1
