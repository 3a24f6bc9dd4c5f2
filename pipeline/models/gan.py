"""The original GAN (Goodfellow et al. 2014) as a `keras.Model` with its own `train_step`."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from pipeline.models.losses import GENERATOR_LOSSES, discriminator_loss


class GAN(keras.Model):
    """A generator and a discriminator trained by Algorithm 1 of the paper.

    Each `train_step` takes a batch of `d_steps * batch_size` real images and
    makes `d_steps` discriminator updates, each on its own slice of that
    batch and fresh noise, then one generator update through the updated
    discriminator. An epoch therefore shows every real image to D once.

    Args:
        generator: maps z of shape (batch, latent_dim) to images.
        discriminator: maps images to one logit each.
        latent_dim: size of z.
        d_steps: discriminator updates per generator update (k in the paper).
        loss: `"non_saturating"` (G maximises log D(G(z))) or `"minimax"`
            (G minimises log(1 - D(G(z)))).
        seed: seed of the noise drawn inside `train_step`.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        d_steps: int = 1,
        loss: str = "non_saturating",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if loss not in GENERATOR_LOSSES:
            raise ValueError(f"loss must be one of {sorted(GENERATOR_LOSSES)}, got {loss!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.d_steps = d_steps
        self.loss_name = loss
        self.generator_loss = GENERATOR_LOSSES[loss]
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_acc_real_tracker = keras.metrics.Mean(name="d_acc_real")
        self.d_acc_fake_tracker = keras.metrics.Mean(name="d_acc_fake")
        # Both networks arrive built. Without this, `fit` under a distribution
        # strategy builds the model by calling it on a data batch: images,
        # where `call` expects z.
        self.built = True

    def compile(
        self,
        d_optimizer: keras.optimizers.Optimizer,
        g_optimizer: keras.optimizers.Optimizer,
        **kwargs,
    ) -> None:
        """Configure the two optimizers.

        Args:
            d_optimizer: updates the discriminator.
            g_optimizer: updates the generator.
        """
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

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
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_acc_real_tracker,
            self.d_acc_fake_tracker,
        ]

    def call(self, z, training: bool = False):
        return self.generator(z, training=training)

    def sample_latents(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def train_step(self, data):
        real_images = data[0] if isinstance(data, tuple) else data
        batch_size = ops.shape(real_images)[0] // self.d_steps
        for step in range(self.d_steps):
            real = real_images[step * batch_size : (step + 1) * batch_size]
            self._discriminator_step(real)
        self._generator_step(batch_size)
        return {m.name: m.result() for m in self.metrics}

    def _discriminator_step(self, real_images) -> None:
        batch_size = ops.shape(real_images)[0]
        fake_images = self.generator(self.sample_latents(batch_size), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            loss = ops.mean(discriminator_loss(real_logits, fake_logits))
            scaled_loss = _scaled(loss)
        grads = tape.gradient(scaled_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply(grads, self.discriminator.trainable_variables)
        self.d_loss_tracker.update_state(loss)
        self.d_acc_real_tracker.update_state(ops.mean(ops.cast(real_logits > 0, "float32")))
        self.d_acc_fake_tracker.update_state(ops.mean(ops.cast(fake_logits < 0, "float32")))

    def _generator_step(self, batch_size) -> None:
        z = self.sample_latents(batch_size)
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(self.generator(z, training=True), training=True)
            loss = ops.mean(self.generator_loss(fake_logits))
            scaled_loss = _scaled(loss)
        grads = tape.gradient(scaled_loss, self.generator.trainable_variables)
        self.g_optimizer.apply(grads, self.generator.trainable_variables)
        self.g_loss_tracker.update_state(loss)


def _scaled(replica_mean_loss):
    """Scale a replica's mean loss: summed over replicas, the gradients average the global batch."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    return replica_mean_loss / replicas
