"""Conditioning methods: where the class label enters the networks, one file each, named here.

To add one: write `pipeline/models/conditioning/<kind>.py` with a subclass
of `Conditioning` (or of `ClassConditioning`, for one that takes a label and
offers G both routes) that fills in the hooks it needs, and add it to
`CONDITIONING` below. A model's `conditioning` section then accepts
`{kind: <kind>, ...settings}`.
"""

from __future__ import annotations

from pipeline.models.conditioning.acgan import AuxiliaryClassifier
from pipeline.models.conditioning.base import Conditioning, LayerWrap
from pipeline.models.conditioning.concat import Concatenation
from pipeline.models.conditioning.info import InformationCodes
from pipeline.models.conditioning.label_inputs import ClassConditioning
from pipeline.models.conditioning.none import Unconditional
from pipeline.models.conditioning.projection import Projection
from pipeline.schema import tagged_union

CONDITIONING: dict[str, type[Conditioning]] = {
    "none": Unconditional,
    "concat": Concatenation,
    "projection": Projection,
    "acgan": AuxiliaryClassifier,
    "info": InformationCodes,
}

# A model's `conditioning` section: one of the methods above, picked by `kind`.
ConditioningSettings = tagged_union(CONDITIONING, "kind")

__all__ = [
    "CONDITIONING",
    "AuxiliaryClassifier",
    "ClassConditioning",
    "Concatenation",
    "Conditioning",
    "ConditioningSettings",
    "InformationCodes",
    "LayerWrap",
    "Projection",
    "Unconditional",
]
