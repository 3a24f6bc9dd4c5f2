"""An exponential moving average of the generator's weights (Yazıcı et al. 2019; BigGAN)."""

from __future__ import annotations

from typing import Any

from pipeline.models.regularisers.base import Regulariser
from pipeline.schema import Fraction


class GeneratorEMA(Regulariser):
    """Keep an EMA of G's weights, and evaluate and export it instead of the last weights.

    The average smooths out the oscillation of adversarial training. It is
    Keras' own optimizer option (`use_ema`); training swaps the averaged
    weights in when it ends (`finalize_variable_values`).

    Args:
        momentum: the average's decay per step (0.999 is usual).
    """

    momentum: Fraction

    def generator_optimizer_options(self) -> dict[str, Any]:
        return {"use_ema": True, "ema_momentum": self.momentum}
