"""Weight clipping: the original WGAN's crude Lipschitz constraint (Arjovsky et al. 2017)."""

from __future__ import annotations

import keras
from keras import ops

from pipeline.models.regularisers.base import Regulariser


class WeightClipping(Regulariser):
    """After every critic update, clip each critic weight to [-c, c].

    Args:
        clip_value: c.
    """

    def __init__(self, clip_value: float):
        self.clip_value = clip_value

    def after_discriminator_update(self, discriminator: keras.Model) -> None:
        for weight in discriminator.trainable_variables:
            weight.assign(ops.clip(weight, -self.clip_value, self.clip_value))
