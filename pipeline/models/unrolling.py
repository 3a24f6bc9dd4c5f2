"""Unrolled GAN (Metz et al. 2017): G's loss taken through k unrolled discriminator updates.

The generator step copies D's trainable weights as tensors, takes `steps`
gradient steps of D's loss on them, and scores G's images with the
unrolled weights. The graph is kept, so G's gradient flows through the
unrolled updates (the paper's full second-order version): G is trained
against where D is heading, not only where it is, which the paper shows
keeps G from collapsing onto the mode D currently misjudges. The real D
and its optimizer are untouched (its `d_steps` updates stay as they are),
and the unrolling draws no random numbers and holds no state of its own.

The update rule is the paper's equation 3, plain gradient descent on D's
loss, θ_D ← θ_D − η ∇ L_D (the authors' code unrolls D's Adam instead;
see `learning_rate`). Each unrolled step uses the generator step's own
real slice and its fakes (the same z), as the authors' code does: it
rewrites one D loss, on one batch, k times.

A model section turns it on with `unrolling: {steps: 5}`; absent (or
`null`) it is off and the step is exactly the plain one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from pipeline.schema import PositiveFloat, Section

if TYPE_CHECKING:
    from pipeline.train_settings import TrainParams

# Each unrolled step is one more forward and backward pass of D inside G's
# step (and memory for its graph): 100 would be a typo, not an experiment.
MAX_UNROLLING_STEPS = 50

# The regularisers that leave D's step alone (`ema` averages G's weights); the
# others change D's loss, inputs or weights, which the unrolled steps leave out.
ALLOWED_REGULARISERS = ("ema",)


class Unrolling(Section):
    """How G's loss looks ahead: k unrolled gradient steps of D.

    Args:
        steps: k, the unrolled D updates (the paper's 5 to 10; 0 is plain GAN
            training, which is the section left out).
        learning_rate: η of the unrolled steps; null takes D's optimizer's
            learning rate. Plain gradient steps move D by η times its
            gradient, where Adam moves each weight by about η whatever the
            gradient's size, so a rate a few times D's Adam rate makes the
            look-ahead comparable to D's real updates.
    """

    steps: Annotated[int, Field(gt=0, le=MAX_UNROLLING_STEPS)] = 5
    learning_rate: PositiveFloat | None = None

    def rate(self, d_learning_rate: Any) -> Any:
        """η: this section's rate, or D's optimizer's (a float or its variable)."""
        return d_learning_rate if self.learning_rate is None else self.learning_rate

    def unroll(
        self,
        loss_fn: Callable[[list[Any]], Any],
        weights: Sequence[Any],
        learning_rate: Any,
    ) -> list[Any]:
        """D's weights after `steps` gradient steps on `loss_fn`, kept differentiable.

        Args:
            loss_fn: D's weights (tensors) -> D's scalar loss on the step's
                batch; it may depend on G's weights (through the fakes).
            weights: D's current trainable weights, as tensors.
            learning_rate: η.
        """
        from pipeline.backend import weight_gradients
        from pipeline.lazy import ops

        weights = list(weights)
        for _ in range(self.steps):
            gradients = weight_gradients(loss_fn, weights)
            weights = [
                weight - ops.cast(learning_rate, weight.dtype) * gradient
                for weight, gradient in zip(weights, gradients, strict=True)
            ]
        return weights


def unrolling_conflict(unrolling: Unrolling | None, regularisers: list[str], train: TrainParams):
    """Why `unrolling` cannot combine with the rest of a model section; None when it can."""
    if unrolling is None:
        return None
    refused = [name for name in regularisers if name not in ALLOWED_REGULARISERS]
    if refused:
        return (
            f"unrolling: the unrolled D steps take D's loss without regularisers, so "
            f"{refused[0]} would apply to the real D only (allowed with unrolling: "
            f"{', '.join(ALLOWED_REGULARISERS)})"
        )
    if train.scales_losses:
        return (
            "unrolling: its inner gradients are not loss-scaled, so they underflow in float16 "
            "(allowed: train.precision float32 or mixed_bfloat16)"
        )
    return None
