"""Instance noise: Gaussian noise on everything D sees, annealed to 0 (Sønderby et al. 2016)."""

from __future__ import annotations

from pipeline.lazy import keras, ops
from pipeline.models.regularisers.base import Regulariser
from pipeline.schema import PositiveFloat


class InstanceNoise(Regulariser):
    """Add N(0, σ²) noise to D's real and fake inputs, σ falling linearly from `std` to 0.

    Blurring both distributions makes them overlap, so D's gradient stays
    informative early on. σ lives in the model (`instance_noise_std`), set
    each epoch by a schedule that reads only the epoch number, so a resumed
    run continues it.

    Args:
        std: σ during the first epoch.
    """

    std: PositiveFloat

    def discriminator_inputs(self, images, model):
        noise = keras.random.normal(ops.shape(images), seed=model.seed_generator)
        return images + model.instance_noise_std * noise

    def callbacks(self, epochs: int) -> list:
        from pipeline.callbacks import InstanceNoiseSchedule

        return [InstanceNoiseSchedule(self.std, epochs)]
