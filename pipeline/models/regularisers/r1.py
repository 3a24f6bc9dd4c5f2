"""R1: a gradient penalty on real data only (Mescheder et al. 2018)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.lazy import ops
from pipeline.models.regularisers.base import Critic, Regulariser
from pipeline.schema import PositiveFloat


class R1(Regulariser):
    """(γ/2) E_x[‖∇_x D(x)‖²] on the real images.

    It pulls D's gradient on the data to zero, which makes the simple GAN
    losses converge locally; unlike the WGAN-GP penalty it draws no noise.

    Args:
        gamma: γ (10 is common at 32 px; 0.1 to 1 for MNIST-sized networks).
    """

    gamma: PositiveFloat

    tracked_as: ClassVar = "r1_penalty"
    needs_per_example_critic: ClassVar = True

    def discriminator_penalty(self, critic: Critic, real_images, fake_images, seed):
        gradients = critic.input_gradients(real_images)
        axes = list(range(1, len(gradients.shape)))
        return 0.5 * self.gamma * ops.mean(ops.sum(ops.square(gradients), axis=axes))
