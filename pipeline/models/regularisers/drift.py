"""ProGAN's drift term: keeps a Wasserstein critic's scores near zero (Karras et al. 2018)."""

from __future__ import annotations

from typing import ClassVar

from pipeline.lazy import ops
from pipeline.models.regularisers.base import Critic, Regulariser
from pipeline.schema import PositiveFloat


class Drift(Regulariser):
    """ε_drift E_x[D(x)²] on the real images, added to D's loss.

    The Wasserstein loss depends only on the difference of D's scores on
    real and fake images, so both can drift far from zero together; this
    small penalty anchors them (ProGAN's appendix A.1, ε_drift = 0.001). D
    is run once more on the real slice, as the gradient penalty runs it on
    its mixtures; the loss's own run cannot be reached from here.

    Args:
        weight: ε_drift.
    """

    weight: PositiveFloat

    tracked_as: ClassVar = "drift_penalty"

    def discriminator_penalty(self, critic: Critic, real_images, fake_images, seed):
        return self.weight * ops.mean(ops.square(critic(real_images)))
