"""Weight clipping: the original WGAN's crude Lipschitz constraint (Arjovsky et al. 2017)."""

from __future__ import annotations

from pipeline.lazy import ops
from pipeline.models.regularisers.base import Regulariser
from pipeline.schema import PositiveFloat


class WeightClipping(Regulariser):
    """After every critic update, clip each critic weight to [-c, c].

    Args:
        clip_value: c.
    """

    clip_value: PositiveFloat

    def after_discriminator_update(self, discriminator) -> None:
        for weight in discriminator.trainable_variables:
            weight.assign(ops.clip(weight, -self.clip_value, self.clip_value))
