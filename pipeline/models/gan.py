"""The GAN of Goodfellow et al. 2014; given a label, the CGAN of Mirza & Osindero 2014."""

from __future__ import annotations

import keras
from keras import ops

from pipeline.models.base import AdversarialModel
from pipeline.models.losses import GENERATOR_LOSSES, discriminator_loss


class GAN(AdversarialModel):
    """D maximises log D(x) + log(1 - D(G(z))) on logits; G plays `loss`.

    Args:
        generator: maps z (and a label) to images.
        discriminator: maps images (and a label) to one logit each.
        latent_dim: size of z.
        d_steps: discriminator updates per generator update (k in the paper).
        loss: `"non_saturating"` (G maximises log D(G(z))) or `"minimax"`
            (G minimises log(1 - D(G(z)))).
        seed: seed of the noise drawn inside `train_step`.
        num_classes: 0, or the number of classes of a conditional GAN.
        label_smoothing: one-sided: D's target for real images is 1 - this.
        **kwargs: passed to `AdversarialModel` (l2_penalty, instance_noise).
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        d_steps: int = 1,
        loss: str = "non_saturating",
        seed: int | None = None,
        num_classes: int = 0,
        label_smoothing: float = 0.0,
        **kwargs,
    ):
        if loss not in GENERATOR_LOSSES:
            raise ValueError(f"loss must be one of {sorted(GENERATOR_LOSSES)}, got {loss!r}")
        super().__init__(generator, discriminator, latent_dim, num_classes, d_steps, seed, **kwargs)
        self.loss_name = loss
        self.label_smoothing = label_smoothing
        self.d_acc_real_tracker = keras.metrics.Mean(name="d_acc_real")
        self.d_acc_fake_tracker = keras.metrics.Mean(name="d_acc_fake")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [*super().metrics, self.d_acc_real_tracker, self.d_acc_fake_tracker]

    def discriminator_loss(self, real_scores, fake_scores):
        return discriminator_loss(real_scores, fake_scores, self.label_smoothing)

    def generator_loss(self, fake_scores):
        return GENERATOR_LOSSES[self.loss_name](fake_scores)

    def update_discriminator_metrics(self, real_scores, fake_scores, penalty) -> None:
        self.d_acc_real_tracker.update_state(ops.mean(ops.cast(real_scores > 0, "float32")))
        self.d_acc_fake_tracker.update_state(ops.mean(ops.cast(fake_scores < 0, "float32")))
