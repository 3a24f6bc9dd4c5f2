"""What every model of the pipeline shares: a generator and a discriminator, two optimizers,
named trackers, and a train step the backend runs.

The noise-to-image model (`pipeline.models.adversarial`) and the image-to-image
ones (`pipeline.models.translation`) differ only in `step`, the math of one
training step in `keras.ops`.
"""

from __future__ import annotations

import keras

from pipeline.backend import attach_optimizers, run_train_step


class NetworkGroup:
    """Networks updated by one optimizer step: their trainable weights, each once.

    CycleGAN's two generators share one optimizer, as do its two
    discriminators (the reference code chains both parameter lists); CoGAN's
    pairs do too, and share layers: a shared layer belongs to both networks,
    and listing its weights twice would give the optimizer two gradients for
    one variable.
    """

    def __init__(self, *networks: keras.Model):
        self.networks = networks

    @property
    def trainable_variables(self) -> list[keras.Variable]:
        seen: set[int] = set()
        unique = []
        for network in self.networks:
            for variable in network.trainable_variables:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    unique.append(variable)
        return unique


class TwoNetworkModel(keras.Model):
    """A generator and a discriminator, each with its optimizer, and what a step tracks.

    Subclasses define `step(data) -> dict` (one training step, written once
    in `keras.ops`) and `tracked_names()` (what it reports, in the order of
    history.csv's columns).

    Args:
        generator: the network that is published (`generator.keras`).
        discriminator: the network that judges its outputs.
    """

    def __init__(self, *, generator: keras.Model, discriminator: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator

    def make_trackers(self) -> None:
        """One running mean per name in `tracked_names()`; call at the end of `__init__`."""
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.tracked_names()}
        # Both networks arrive built. Without this, `fit` under a distribution
        # strategy builds the model by calling it on a data batch, which is
        # not what `call` takes.
        self.built = True

    def tracked_names(self) -> list[str]:
        raise NotImplementedError

    def published_networks(self) -> dict[str, keras.Model]:
        """The networks published beside `generator.keras`, by file stem (`networks/<stem>.keras`).

        The discriminator always; a model whose evaluation needs more (a second
        generator) adds them.
        """
        return {"discriminator": self.discriminator}

    def task_networks(self) -> dict[str, keras.Model]:
        """What the task's grid and scorer take besides the generator, by keyword
        (`pipeline.training.tasks`); nothing for a model of one generator."""
        return {}

    def compile(
        self,
        *,
        d_optimizer: keras.optimizers.Optimizer,
        g_optimizer: keras.optimizers.Optimizer,
        **kwargs,
    ) -> None:
        """Configure the two optimizers (and no third: `optimizer` stays None).

        Args:
            d_optimizer: updates the discriminator.
            g_optimizer: updates the generator.
        """
        # Keras' `compile` defaults `optimizer` to a third, unused RMSprop
        # with slots for every weight; None keeps it out of the model's state.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        attach_optimizers(self, d_optimizer, g_optimizer)

    def build_optimizers(self) -> None:
        """Create the optimizers' slot variables now, not inside the first step.

        Under a tf.distribute strategy, slots first created inside the traced
        `train_step` fail (keras-team/keras#20164); building them here, inside
        the strategy's scope, avoids that. It also lets a checkpoint restore
        optimizer state before training starts.
        """
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def call(self, inputs, training: bool = False):
        return self.generator(inputs, training=training)

    def train_step(self, *args):
        # `(data)` on TensorFlow, `(state, data)` on JAX: the backend runs the one step.
        return run_train_step(self, self.step, *args)

    def step(self, data) -> dict:
        raise NotImplementedError
