"""Reconstruction terms: what a paired translation's generator owes its known target.

Each is a part with its settings (a `Section`, told apart by `kind`) and its
math in `keras.ops`, like the adversarial losses. A term may need to know
more than the two images: where the hole of an inpainting task is, or the
evaluator whose features a content loss compares; it gets them as a
`TermContext` when the model is built. To add one: a subclass of
`Reconstruction` here, and an entry in `RECONSTRUCTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pipeline.lazy import ops
from pipeline.schema import NonNegativeFloat, PositiveFloat, Section, tagged_union

# The batch's mean distance between outputs and targets, unweighted.
Distance = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class TermContext:
    """What a term may use besides the images.

    Args:
        hole: the input domain's hole, a boolean (H, W) array, or None.
        features: a model mapping images to the evaluator's `(features,
            logits)` (`pipeline.evaluation.features.feature_extractor`), or None.
    """

    hole: Any = None
    features: Any = None


# A term that needs nothing but the images.
NO_CONTEXT = TermContext()


class Reconstruction(Section):
    """A term of G's loss comparing its outputs with the targets.

    Attributes:
        kind: the term's name in `RECONSTRUCTIONS`.
        weight: its weight in G's loss (the adversarial term weighs
            `adversarial_weight`).

    Class attributes:
        tracked_as: the name its (unweighted) distance is tracked under.
        needs_evaluator: it compares the evaluator's features, so training
            loads the evaluator.
    """

    kind: str
    weight: PositiveFloat = 1.0

    tracked_as: ClassVar[str] = "reconstruction"
    needs_evaluator: ClassVar[bool] = False

    def distance(self, context: TermContext) -> Distance:
        """The term's distance function, with what it needs from `context` bound."""
        raise NotImplementedError


class L1(Reconstruction):
    """Mean absolute error over every pixel (pix2pix: weight 100, sharper than L2)."""

    kind: Literal["l1"] = "l1"
    weight: PositiveFloat = 100.0

    tracked_as: ClassVar[str] = "l1"

    def distance(self, context: TermContext) -> Distance:
        return lambda outputs, targets: ops.mean(ops.abs(outputs - targets))


class L2(Reconstruction):
    """Mean squared error, over every pixel or over the input's hole only (the context
    encoder's masked L2, Pathak et al. 2016: weight 0.999 beside 0.001 adversarial)."""

    kind: Literal["l2"] = "l2"
    region: Literal["all", "hole"] = "all"

    tracked_as: ClassVar[str] = "l2"

    def distance(self, context: TermContext) -> Distance:
        if self.region == "all":
            return lambda outputs, targets: ops.mean(ops.square(outputs - targets))
        if context.hole is None:
            raise ValueError(
                "reconstruction.region = 'hole': the task's input domain has no hole "
                "(allowed: 'all', or a masked input such as prepare.domains' masked)"
            )
        hole = ops.convert_to_tensor(context.hole[None, :, :, None], dtype="float32")
        share = float(context.hole.mean())

        def on_hole(outputs, targets):
            return ops.mean(ops.square(outputs - targets) * hole) / share

        return on_hole


class Features(Reconstruction):
    """SRGAN's content loss with the domain evaluator in VGG's place: the mean squared
    difference of the evaluator's features of output and target, plus
    `pixel_weight` times the pixels' (SRResNet's MSE; Ledig et al. 2017)."""

    kind: Literal["features"] = "features"
    pixel_weight: NonNegativeFloat = 1.0

    tracked_as: ClassVar[str] = "content"
    needs_evaluator: ClassVar[bool] = True

    def distance(self, context: TermContext) -> Distance:
        if context.features is None:
            raise ValueError("reconstruction.kind = 'features' needs the evaluator")
        extractor = context.features

        def content(outputs, targets):
            output_features = extractor(outputs, training=False)[0]
            target_features = extractor(targets, training=False)[0]
            features = ops.mean(ops.square(output_features - target_features))
            return features + self.pixel_weight * ops.mean(ops.square(outputs - targets))

        return content


RECONSTRUCTIONS: dict[str, type[Reconstruction]] = {"l1": L1, "l2": L2, "features": Features}

ReconstructionSettings = tagged_union(RECONSTRUCTIONS, "kind")
