"""Wasserstein GANs: weight clipping (WGAN) and gradient penalty (WGAN-GP)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from pipeline.models.base import AdversarialModel
from pipeline.models.losses import critic_loss, wasserstein_generator_loss


class WGAN(AdversarialModel):
    """A critic with a linear output estimates the Wasserstein-1 distance.

    The critic minimises E[D(G(z))] - E[D(x)], the generator -E[D(G(z))].
    After every critic update its weights are clipped to [-clip_value,
    clip_value], which keeps it (crudely) Lipschitz.

    Args:
        generator: maps z (and a label) to images.
        discriminator: the critic: images (and a label) to one score each.
        latent_dim: size of z.
        d_steps: critic updates per generator update (n_critic).
        clip_value: c, the bound on every critic weight.
        seed: seed of the noise drawn inside `train_step`.
        num_classes: 0, or the number of classes of a conditional model.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        d_steps: int = 5,
        clip_value: float | None = 0.01,
        seed: int | None = None,
        num_classes: int = 0,
        **kwargs,
    ):
        super().__init__(generator, discriminator, latent_dim, num_classes, d_steps, seed, **kwargs)
        self.clip_value = clip_value
        self.wasserstein_tracker = keras.metrics.Mean(name="wasserstein")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [*super().metrics, self.wasserstein_tracker]

    def discriminator_loss(self, real_scores, fake_scores):
        return critic_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores):
        return wasserstein_generator_loss(fake_scores)

    def after_discriminator_update(self) -> None:
        if self.clip_value is None:
            return
        for weight in self.discriminator.trainable_variables:
            weight.assign(ops.clip(weight, -self.clip_value, self.clip_value))

    def update_discriminator_metrics(self, real_scores, fake_scores, penalty) -> None:
        self.wasserstein_tracker.update_state(ops.mean(real_scores) - ops.mean(fake_scores))


class WGANGP(WGAN):
    """WGAN with a gradient penalty instead of clipping.

    The critic's loss gains lambda * E[(||grad D(x_hat)|| - 1)^2] on
    x_hat = eps x + (1 - eps) G(z), eps ~ Uniform[0, 1] per sample (not
    normal: keras-team/keras-io#624). Pair it with a critic without
    BatchNorm, which would make the penalty depend on the whole batch.

    Args:
        gradient_penalty: lambda. The other arguments are `WGAN`'s, less
            `clip_value`.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        d_steps: int = 5,
        gradient_penalty: float = 10.0,
        seed: int | None = None,
        num_classes: int = 0,
        **kwargs,
    ):
        super().__init__(
            generator, discriminator, latent_dim, d_steps, None, seed, num_classes, **kwargs
        )
        self.gradient_penalty_weight = gradient_penalty
        self.penalty_tracker = keras.metrics.Mean(name="gradient_penalty")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [*super().metrics, self.penalty_tracker]

    def interpolation_weights(self, batch_size, rank: int):
        """eps ~ Uniform[0, 1], one per sample, shaped to broadcast over an example."""
        shape = (batch_size,) + (1,) * (rank - 1)
        return keras.random.uniform(shape, 0.0, 1.0, seed=self.seed_generator)

    def discriminator_penalty(self, real_images, fake_images, labels):
        rank = len(real_images.shape)
        eps = self.interpolation_weights(ops.shape(real_images)[0], rank)
        mixed = eps * real_images + (1.0 - eps) * fake_images
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            scores = self.discriminator(self.discriminator_inputs(mixed, labels), training=True)
        grads = tape.gradient(scores, mixed)
        norms = ops.sqrt(ops.sum(ops.square(grads), axis=list(range(1, rank))) + 1e-12)
        return self.gradient_penalty_weight * ops.mean(ops.square(norms - 1.0))

    def update_discriminator_metrics(self, real_scores, fake_scores, penalty) -> None:
        super().update_discriminator_metrics(real_scores, fake_scores, penalty)
        self.penalty_tracker.update_state(penalty)
