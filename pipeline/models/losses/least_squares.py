"""The least-squares loss of LSGAN (Mao et al. 2017), with the usual targets a = 0, b = c = 1."""

from __future__ import annotations

from typing import ClassVar, Literal

from pipeline.lazy import ops
from pipeline.models.losses.base import AdversarialLoss

REAL_TARGET = 1.0  # b, and c (what G wants D to say of its fakes)
FAKE_TARGET = 0.0  # a


class LeastSquares(AdversarialLoss):
    """D: ½(D(x) - 1)² + ½D(G(z))². G: ½(D(G(z)) - 1)².

    Fakes on the right side of the boundary but far from the real data
    still cost G something, unlike under cross-entropy. D's linear output
    is called real above the midpoint of the two targets.
    """

    name: Literal["least_squares"] = "least_squares"

    threshold: ClassVar = (REAL_TARGET + FAKE_TARGET) / 2

    def discriminator_loss(self, real_scores, fake_scores):
        return 0.5 * ops.square(real_scores - REAL_TARGET) + 0.5 * ops.square(
            fake_scores - FAKE_TARGET
        )

    def generator_loss(self, fake_scores, real_scores=None):
        return 0.5 * ops.square(fake_scores - REAL_TARGET)
