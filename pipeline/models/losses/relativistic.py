"""The relativistic average GAN loss, RaGAN with cross-entropy (Jolicoeur-Martineau 2018)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pipeline.lazy import ops
from pipeline.models.losses.base import AdversarialLoss, binary_cross_entropy


class Relativistic(AdversarialLoss):
    """D asks how much more real x looks than the average fake, and the reverse.

    With C_r = D(x) - mean D(G(z)) and C_f = D(G(z)) - mean D(x):
    D: BCE(C_r, 1) + BCE(C_f, 0); G: BCE(C_f, 1) + BCE(C_r, 0), so G also
    lowers how real the real images look. The means are over the batch.
    A raw score means nothing on its own: no accuracy is tracked.
    """

    name: Literal["relativistic"] = "relativistic"

    generator_needs_real_scores: ClassVar = True

    def discriminator_loss(self, real_scores, fake_scores):
        real_vs_fake, fake_vs_real = relative_scores(real_scores, fake_scores)
        return binary_cross_entropy(real_vs_fake, 1.0) + binary_cross_entropy(fake_vs_real, 0.0)

    def generator_loss(self, fake_scores, real_scores=None):
        real_vs_fake, fake_vs_real = relative_scores(real_scores, fake_scores)
        return binary_cross_entropy(fake_vs_real, 1.0) + binary_cross_entropy(real_vs_fake, 0.0)


def relative_scores(real_scores, fake_scores):
    """(C_r, C_f): each side's scores less the other side's batch mean."""
    return (
        real_scores - ops.mean(fake_scores),
        fake_scores - ops.mean(real_scores),
    )
