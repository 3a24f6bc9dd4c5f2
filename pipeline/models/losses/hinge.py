"""The hinge loss (Lim & Ye 2017; SNGAN, Miyato et al. 2018)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pipeline.lazy import ops
from pipeline.models.losses.base import AdversarialLoss


class Hinge(AdversarialLoss):
    """D: relu(1 - D(x)) + relu(1 + D(G(z))). G: -D(G(z)).

    D stops pushing a score once it is beyond the margin (above 1 for real,
    below -1 for fake), so confident scores cost nothing; the sign of a
    score is D's decision.
    """

    name: Literal["hinge"] = "hinge"

    threshold: ClassVar = 0.0

    def discriminator_loss(self, real_scores, fake_scores):
        return ops.relu(1.0 - real_scores) + ops.relu(1.0 + fake_scores)

    def generator_loss(self, fake_scores, real_scores=None):
        return -fake_scores
