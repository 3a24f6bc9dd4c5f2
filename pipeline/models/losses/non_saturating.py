"""The GAN loss with the generator's non-saturating fix (Goodfellow et al. 2014, section 3)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pipeline.models.losses.base import AdversarialLoss, binary_cross_entropy
from pipeline.schema import Rate


class NonSaturating(AdversarialLoss):
    """D: BCE(D(x), 1 - s) + BCE(D(G(z)), 0). G: -log sigmoid(D(G(z))).

    G maximises log D(G(z)) instead of minimising log(1 - D(G(z))): the
    same fixed point, and strong gradients while D still wins easily.

    Args:
        label_smoothing: s, one-sided (Salimans et al. 2016): only the real
            target moves, so D is never taught to favour fakes.
    """

    name: Literal["non_saturating"] = "non_saturating"
    label_smoothing: Rate = 0.0

    threshold: ClassVar = 0.0

    def discriminator_loss(self, real_scores, fake_scores):
        real = binary_cross_entropy(real_scores, 1.0 - self.label_smoothing)
        return real + binary_cross_entropy(fake_scores, 0.0)

    def generator_loss(self, fake_scores, real_scores=None):
        return binary_cross_entropy(fake_scores, 1.0)
