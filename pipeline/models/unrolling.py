"""Unrolled GAN (Metz et al. 2017): G's loss taken through k unrolled discriminator updates.

The generator step copies D's trainable weights as tensors, takes `steps`
updates of D's loss on them, and scores G's images with the unrolled
weights. The graph is kept, so G's gradient flows through the unrolled
updates (the paper's full second-order version): G is trained against where
D is heading, not only where it is, which the paper shows keeps G from
collapsing onto the mode D currently misjudges. The real D and its optimizer
are untouched (its `d_steps` updates stay as they are), and the unrolling
draws no random numbers and holds no state of its own.

The update rule (`rule`):

- `adam` (the default): D's own Adam, continued from its current moments
  and step count, as the authors' code unrolls it (it rewrites the
  optimizer's update ops, moments included). Adam moves each weight by about
  its learning rate whatever the gradient's size, so k unrolled steps look as
  far ahead as k real D updates would go.
- `sgd`: plain gradient descent, θ_D ← θ_D − η ∇L_D, the paper's equation 3.
  It needs no optimizer state, but at a GAN's Adam rates (1e-4) it barely
  moves D: raise `learning_rate` for it.

Each unrolled step uses the generator step's own real slice and its fakes
(the same z), as the authors' code does: it rewrites one D loss, on one
batch, k times.

A model section turns it on with `unrolling: {steps: 5}`; absent (or
`null`) it is off and the step is exactly the plain one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from pipeline.lazy import keras, ops
from pipeline.schema import PositiveFloat, Section

if TYPE_CHECKING:
    from pipeline.train_settings import TrainParams

# Each unrolled step is one more forward and backward pass of D inside G's
# step (and memory for its graph): 100 would be a typo, not an experiment.
MAX_UNROLLING_STEPS = 50

# The regularisers that leave D's step alone (`ema` averages G's weights); the
# others change D's loss, inputs or weights, which the unrolled steps leave out.
ALLOWED_REGULARISERS = ("ema",)

# Below this a velocity is zero: its square root's derivative is infinite there, and
# inf * 0 (a weight whose gradient is zero) would make G's gradient NaN. Its root,
# 1e-15, is far below Adam's epsilon (1e-7), so no value moves.
SMALLEST_VELOCITY = 1e-30


class Unrolling(Section):
    """How G's loss looks ahead: k unrolled updates of D.

    Args:
        steps: k, the unrolled D updates (the paper's 5 to 10; leave the
            section out for plain GAN training).
        rule: `adam`, D's own Adam from its current state (D's optimizer must
            be Adam), or `sgd`, plain gradient steps.
        learning_rate: the unrolled updates' rate; null takes D's optimizer's.
    """

    steps: Annotated[int, Field(gt=0, le=MAX_UNROLLING_STEPS)] = 5
    rule: Literal["adam", "sgd"] = "adam"
    learning_rate: PositiveFloat | None = None

    def unroll(
        self,
        loss_fn: Callable[[list[Any]], Any],
        variables: Sequence[Any],
        optimizer: keras.optimizers.Optimizer,
    ) -> list[Any]:
        """D's weights after `steps` updates on `loss_fn`, kept differentiable.

        Args:
            loss_fn: D's weights (tensors) -> D's scalar loss on the step's
                batch; it may depend on G's weights (through the fakes).
            variables: D's trainable variables, read as they are now.
            optimizer: D's optimizer: its learning rate, and under `adam` its
                moments and step count, read, never changed.
        """
        from pipeline.backend import weight_gradients

        rate = optimizer.learning_rate if self.learning_rate is None else self.learning_rate
        weights = [ops.convert_to_tensor(variable) for variable in variables]
        state = adam_state(optimizer, variables) if self.rule == "adam" else None
        for step in range(self.steps):
            gradients = weight_gradients(loss_fn, weights)
            if state is None:
                weights = [
                    weight - ops.cast(rate, weight.dtype) * gradient
                    for weight, gradient in zip(weights, gradients, strict=True)
                ]
            else:
                weights, state = adam_step(weights, gradients, state, rate, optimizer, step)
        return weights


AdamState = tuple[list[Any], list[Any]]


def adam_state(optimizer: keras.optimizers.Optimizer, variables: Sequence[Any]) -> AdamState:
    """The first and second moments D's Adam holds for `variables`, as tensors.

    Keras gives no public accessor for an optimizer's slot of a variable; these
    are the lists its Adam keeps them in (tests/test_unrolling.py checks a step
    taken from them against the optimizer's own).
    """
    if not isinstance(optimizer, keras.optimizers.Adam) or optimizer.amsgrad:
        raise ValueError(f"unrolling.rule adam unrolls D's Adam, not {type(optimizer).__name__}")
    slots = [optimizer._get_variable_index(variable) for variable in variables]
    momentums = [ops.convert_to_tensor(optimizer._momentums[i]) for i in slots]
    velocities = [ops.convert_to_tensor(optimizer._velocities[i]) for i in slots]
    return momentums, velocities


def adam_step(
    weights: list[Any],
    gradients: list[Any],
    state: AdamState,
    rate: Any,
    optimizer: keras.optimizers.Optimizer,
    step: int,
) -> tuple[list[Any], AdamState]:
    """One Adam update of `weights`, as D's optimizer would make it `step` updates from now.

    Keras' Adam: the moments move towards g and g² by (1 - β), and the weight
    by rate · sqrt(1 - β₂ᵗ) / (1 - β₁ᵗ) · m / (sqrt(v) + ε), t counting this update.
    """
    new_weights, momentums, velocities = [], [], []
    for weight, gradient, m, v in zip(weights, gradients, *state, strict=True):
        dtype = weight.dtype
        t = ops.cast(optimizer.iterations, dtype) + (step + 1)
        beta_1, beta_2 = ops.cast(optimizer.beta_1, dtype), ops.cast(optimizer.beta_2, dtype)
        m = m + (gradient - m) * (1 - beta_1)
        v = v + (ops.square(gradient) - v) * (1 - beta_2)
        size = ops.cast(rate, dtype) * ops.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        root = ops.sqrt(ops.maximum(v, SMALLEST_VELOCITY))
        new_weights.append(weight - m * size / (root + optimizer.epsilon))
        momentums.append(m)
        velocities.append(v)
    return new_weights, (momentums, velocities)


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
    if unrolling.rule == "adam" and train.d_optimizer.name != "adam":
        return (
            f"unrolling.rule: adam continues D's Adam, and train.d_optimizer is "
            f"{train.d_optimizer.name} (allowed: d_optimizer adam, or rule sgd)"
        )
    if train.scales_losses:
        return (
            "unrolling: its inner gradients are not loss-scaled, so they underflow in float16 "
            "(allowed: train.precision float32 or mixed_bfloat16)"
        )
    return None
