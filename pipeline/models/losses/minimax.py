"""The GAN loss as the minimax game defines it (Goodfellow et al. 2014, eq. 1)."""

from __future__ import annotations

from typing import Literal

from pipeline.models.losses.base import binary_cross_entropy
from pipeline.models.losses.non_saturating import NonSaturating


class Minimax(NonSaturating):
    """D as in `NonSaturating`; G minimises log(1 - sigmoid(D(G(z)))).

    Its gradient vanishes while D rejects the fakes confidently, which is
    why the paper recommends the non-saturating form; kept for comparison.
    """

    name: Literal["minimax"] = "minimax"  # type: ignore[assignment]

    def generator_loss(self, fake_scores, real_scores=None):
        return -binary_cross_entropy(fake_scores, 0.0)
