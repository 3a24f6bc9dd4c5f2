"""An exponential moving average of the generator's weights (Yazıcı et al. 2019; BigGAN)."""

from __future__ import annotations

import functools
from typing import Any

from pipeline.lazy import keras, ops
from pipeline.models.regularisers.base import Regulariser
from pipeline.schema import Fraction

# The warm-up's constants, TensorFlow's ExponentialMovingAverage(num_updates)'s.
WARMUP_OFFSET = (1.0, 10.0)


class GeneratorEMA(Regulariser):
    """Keep an EMA of G's weights, and evaluate and export it instead of the last weights.

    The average smooths out the oscillation of adversarial training. It is
    Keras' own optimizer option (`use_ema`); training swaps the averaged
    weights in when it ends (`finalize_variable_values`). Its decay warms
    up (`with_ema_warmup`): Keras' average starts at the first step's
    weights, and after 1,000 steps at 0.999 a third of it would still be
    those, where ProGAN's and StyleGAN's averages ramp up.

    Args:
        momentum: the average's decay per step (0.999 is usual).
    """

    momentum: Fraction

    def generator_optimizer_options(self) -> dict[str, Any]:
        return {"use_ema": True, "ema_momentum": self.momentum}


@functools.cache
def with_ema_warmup(optimizer_class: type) -> type:
    """`optimizer_class` whose weight average's decay at step t is
    min(momentum, (1 + t) / (10 + t)), TensorFlow's `ExponentialMovingAverage`
    with `num_updates`: about 0.9 at step 80, 0.99 at 900, 0.999 from 9,000.

    It sets the decay Keras' own update reads for the duration of the update
    (on both backends the optimizer calls that update from its step).
    """

    class WarmedUp(optimizer_class):
        def _update_model_variables_moving_average(self, trainable_variables):
            configured = self.ema_momentum
            steps = ops.cast(self.iterations, "float32")
            start, offset = WARMUP_OFFSET
            self.ema_momentum = ops.minimum(configured, (start + steps) / (offset + steps))
            try:
                super()._update_model_variables_moving_average(trainable_variables)
            finally:
                self.ema_momentum = configured

    WarmedUp.__name__ = WarmedUp.__qualname__ = f"{optimizer_class.__name__}WithEMAWarmup"
    return WarmedUp


def ema_optimizer_class(name: str) -> type:
    """Keras' optimizer class `name` (Adam, RMSprop, SGD) with the average's warm-up."""
    return with_ema_warmup(getattr(keras.optimizers, name))
