"""The auxiliary classifier (ACGAN, Odena et al. 2017): D also tells the class."""

from __future__ import annotations

from typing import ClassVar, Literal

from pipeline.lazy import ops
from pipeline.models.conditioning.base import InitializerFactory, LayerWrap, dense_head
from pipeline.models.conditioning.label_inputs import ClassConditioning
from pipeline.schema import PositiveFloat


def class_cross_entropy(labels, logits):
    """Per-example cross-entropy of integer `labels` (N,) under class `logits` (N, K)."""
    return ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)


class AuxiliaryClassifier(ClassConditioning):
    """D sees the image alone and outputs [score (N, 1), class logits (N, K)].

    D minimises its adversarial loss plus the classification cross-entropy on
    real images and on fakes (each against the label it was made or drawn
    with); G minimises its adversarial loss plus the cross-entropy of its fakes
    to the labels it was asked for. G takes the label as the other methods do.

    Attributes:
        weight: the cross-entropy terms' weight against the adversarial loss
            (1 in the paper).
    """

    kind: Literal["acgan"] = "acgan"
    weight: PositiveFloat = 1.0

    discriminator_takes_label: ClassVar[bool] = False
    tracked_as: ClassVar[tuple[str, ...]] = ("d_class_acc",)

    def discriminator_output(
        self,
        features,
        label,
        num_classes: int,
        wrap: LayerWrap,
        *,
        initializer: InitializerFactory | None = None,
    ):
        score = dense_head(1, "logit", wrap, initializer)(features)
        logits = dense_head(num_classes, "class_logits", wrap, initializer)(features)
        return [score, logits]

    def scores(self, outputs):
        return outputs[0]

    def discriminator_terms(self, real_outputs, fake_outputs, labels) -> tuple[object, dict]:
        real_logits, fake_logits = real_outputs[1], fake_outputs[1]
        term = self.weight * (
            ops.mean(class_cross_entropy(labels, real_logits))
            + ops.mean(class_cross_entropy(labels, fake_logits))
        )
        predicted = ops.cast(ops.argmax(real_logits, axis=-1), "int32")
        right = ops.cast(ops.equal(predicted, ops.cast(labels, "int32")), "float32")
        return term, {"d_class_acc": ops.mean(right)}

    def generator_term(self, fake_outputs, labels):
        return self.weight * ops.mean(class_cross_entropy(labels, fake_outputs[1]))
