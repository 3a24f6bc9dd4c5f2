"""The gradient penalty of WGAN-GP (Gulrajani et al. 2017)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.lazy import keras, ops
from pipeline.models.regularisers.base import Critic, Regulariser
from pipeline.schema import PositiveFloat


class GradientPenalty(Regulariser):
    """λ E[(‖∇D(x̂)‖ - 1)²] on x̂ = εx + (1 - ε)G(z), ε ~ Uniform[0, 1] per sample.

    ε is uniform, not normal (keras-team/keras-io#624). The critic must not
    use BatchNorm, which would make the penalty depend on the whole batch.

    Args:
        weight: λ.
    """

    weight: PositiveFloat

    tracked_as: ClassVar = "gradient_penalty"
    needs_per_example_critic: ClassVar = True

    def discriminator_penalty(self, critic: Critic, real_images, fake_images, seed):
        rank = len(real_images.shape)
        shape = (ops.shape(real_images)[0],) + (1,) * (rank - 1)
        eps = keras.random.uniform(shape, 0.0, 1.0, seed=seed)
        mixed = eps * real_images + (1.0 - eps) * fake_images
        norms = per_example_norms(critic.input_gradients(mixed))
        return self.weight * ops.mean(ops.square(norms - 1.0))


def per_example_norms(gradients):
    """‖g‖ of each example's gradient; the epsilon keeps the norm's own gradient finite at 0."""
    axes = list(range(1, len(gradients.shape)))
    return ops.sqrt(ops.sum(ops.square(gradients), axis=axes) + 1e-12)
