"""The Wasserstein-1 critic loss (Arjovsky et al. 2017)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pipeline.lazy import ops
from pipeline.models.losses.base import AdversarialLoss


class Wasserstein(AdversarialLoss):
    """Critic: D(G(z)) - D(x). G: -D(G(z)).

    The critic's negated mean loss estimates W1 only while the critic is
    (close to) 1-Lipschitz: pair it with clipping, a gradient penalty or
    spectral normalisation. Tracks that estimate as `wasserstein`.
    """

    name: Literal["wasserstein"] = "wasserstein"

    tracked_as: ClassVar = ("wasserstein",)

    def discriminator_loss(self, real_scores, fake_scores):
        return fake_scores - real_scores

    def generator_loss(self, fake_scores, real_scores=None):
        return -fake_scores

    def discriminator_metrics(self, real_scores, fake_scores) -> dict:
        return {"wasserstein": ops.mean(real_scores) - ops.mean(fake_scores)}
