"""The paired image-to-image model: pix2pix, and the presets built on its step.

G maps an input image to its target. D judges either (input, image) pairs
(pix2pix's conditional D) or images alone. G's loss is a weighted sum of the
adversarial term and a reconstruction term against the known target
(`pipeline.models.translation.reconstruction`): L1 for pix2pix.
"""

from __future__ import annotations

import keras
from keras import ops

from pipeline.backend import minimise, step_results
from pipeline.models.losses.base import AdversarialLoss
from pipeline.models.translation.reconstruction import NO_CONTEXT, Reconstruction, TermContext
from pipeline.models.two_networks import TwoNetworkModel


class PairedTranslation(TwoNetworkModel):
    """One discriminator update, then one generator update, per batch of (input, target) pairs.

    D's loss: the adversarial loss's, real pairs against generated ones.
    G's loss: `adversarial_weight` times the adversarial loss's, plus the
    reconstruction's (weighted in its own settings). pix2pix (Isola et al.
    2017): non-saturating adversarial loss, L1 weighted 100, D on the pair.

    Args:
        generator: maps an input image to an output image.
        discriminator: maps `[input, image]` (`conditional_discriminator`) or
            an image to raw scores: one per example, or a map of patch scores.
        loss: the adversarial loss pair.
        reconstruction: G's term against the target: its weight and name.
        context: what the term needs besides the images (the hole, the evaluator).
        adversarial_weight: the adversarial term's weight in G's loss.
        conditional_discriminator: D also sees the input image.
    """

    def __init__(
        self,
        *,
        generator: keras.Model,
        discriminator: keras.Model,
        loss: AdversarialLoss,
        reconstruction: Reconstruction,
        context: TermContext = NO_CONTEXT,
        adversarial_weight: float = 1.0,
        conditional_discriminator: bool = True,
        **kwargs,
    ):
        super().__init__(generator=generator, discriminator=discriminator, **kwargs)
        self.adversarial_loss = loss
        self.reconstruction = reconstruction
        self.distance = reconstruction.distance(context)
        self.adversarial_weight = adversarial_weight
        self.conditional_discriminator = conditional_discriminator
        self.make_trackers()

    def tracked_names(self) -> list[str]:
        names = ["d_loss", "g_loss", *self.adversarial_loss.tracked_names()]
        names += ["g_adversarial", self.reconstruction.tracked_as]
        return names

    def step(self, data) -> dict:
        inputs, targets = data[0], data[1]
        self._discriminator_step(inputs, targets)
        self._generator_step(inputs, targets)
        return step_results({name: tracker.result() for name, tracker in self.trackers.items()})

    def judge(self, inputs, images):
        """D's raw scores on `images` translated from `inputs`, in training."""
        seen = [inputs, images] if self.conditional_discriminator else images
        return self.discriminator(seen, training=True)

    def _discriminator_step(self, inputs, targets) -> None:
        outputs = self.generator(inputs, training=True)

        def losses():
            real_scores = self.judge(inputs, targets)
            fake_scores = self.judge(inputs, outputs)
            loss = ops.mean(self.adversarial_loss.discriminator_loss(real_scores, fake_scores))
            return loss, (loss, real_scores, fake_scores)

        loss, real_scores, fake_scores = minimise(losses, self.discriminator, self.d_optimizer)
        self.trackers["d_loss"].update_state(loss)
        for name, value in self.adversarial_loss.discriminator_numbers(
            real_scores, fake_scores
        ).items():
            self.trackers[name].update_state(value)

    def _generator_step(self, inputs, targets) -> None:
        needs_real = self.adversarial_loss.generator_needs_real_scores

        def losses():
            outputs = self.generator(inputs, training=True)
            fake_scores = self.judge(inputs, outputs)
            real_scores = self.judge(inputs, targets) if needs_real else None
            adversarial = ops.mean(self.adversarial_loss.generator_loss(fake_scores, real_scores))
            reconstruction = self.distance(outputs, targets)
            weights = (self.adversarial_weight, self.reconstruction.weight)
            total = weights[0] * adversarial + weights[1] * reconstruction
            return total, (total, adversarial, reconstruction)

        total, adversarial, reconstruction = minimise(losses, self.generator, self.g_optimizer)
        self.trackers["g_loss"].update_state(total)
        self.trackers["g_adversarial"].update_state(adversarial)
        self.trackers[self.reconstruction.tracked_as].update_state(reconstruction)
