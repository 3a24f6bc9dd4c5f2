"""What an adversarial loss is: a discriminator loss and a generator loss on D's raw scores.

A loss is also its own settings: a `Section` of the params schema, told
apart from the other losses by `name` (`loss: {name: hinge}` in params.yaml).
"""

from __future__ import annotations

from typing import ClassVar

from pipeline.lazy import ops
from pipeline.schema import Section


class AdversarialLoss(Section):
    """A pair of losses on the discriminator's (or critic's) raw output scores.

    Both methods return per-example losses; the model reduces them, so one
    definition serves one device or several. Scores are D's raw outputs
    (logits for the cross-entropy losses, unbounded for the others): no
    loss wants a sigmoid on D.

    Attributes:
        name: the loss's name in `LOSSES`, which picks it in params.yaml.

    Class attributes:
        threshold: the score above which D calls an image real, for the
            discriminator-accuracy trackers; None where the loss has no such
            decision (Wasserstein, relativistic).
        generator_needs_real_scores: whether `generator_loss` reads D's
            scores of real images, so the generator step must compute them.
        tracked_as: the names of the numbers `discriminator_metrics` returns.
    """

    name: str  # each loss narrows it to its own registry name

    threshold: ClassVar[float | None] = None
    tracked_as: ClassVar[tuple[str, ...]] = ()
    generator_needs_real_scores: ClassVar[bool] = False

    def discriminator_loss(self, real_scores, fake_scores):
        """Per-example loss D minimises."""
        raise NotImplementedError

    def generator_loss(self, fake_scores, real_scores=None):
        """Per-example loss G minimises (`real_scores` only where the loss asks for them)."""
        raise NotImplementedError

    def discriminator_metrics(self, real_scores, fake_scores) -> dict:
        """The numbers named in `tracked_as`, from one discriminator step."""
        return {}

    def tracked_names(self) -> list[str]:
        """What a discriminator step tracks of this loss, in history.csv's order: D's
        accuracies where there is a decision threshold, then `tracked_as`."""
        accuracies = ["d_acc_real", "d_acc_fake"] if self.threshold is not None else []
        return [*accuracies, *self.tracked_as]

    def discriminator_numbers(self, real_scores, fake_scores) -> dict:
        """The values of `tracked_names()` for one discriminator step (patch maps too)."""
        numbers = {}
        if self.threshold is not None:
            real_right = ops.cast(real_scores > self.threshold, "float32")
            fake_right = ops.cast(fake_scores < self.threshold, "float32")
            numbers = {"d_acc_real": ops.mean(real_right), "d_acc_fake": ops.mean(fake_right)}
        return {**numbers, **self.discriminator_metrics(real_scores, fake_scores)}


def binary_cross_entropy(logits, target: float):
    """-[t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))], stable for any logit."""
    if target == 1.0:
        return ops.softplus(-logits)
    if target == 0.0:
        return ops.softplus(logits)
    return target * ops.softplus(-logits) + (1.0 - target) * ops.softplus(logits)
