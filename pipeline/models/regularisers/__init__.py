"""Regularisers and stabilisers: one file each, named here.

To add one: write `pipeline/models/regularisers/<name>.py` with a subclass
of `Regulariser` that declares its settings and fills in the hooks it needs,
and add it to `REGULARISERS` below. A model's `regularisers` section then
accepts `<name>: {...settings}` (and `<name>: null` to drop a preset's).
"""

from __future__ import annotations

from typing import Any

from pydantic import SerializerFunctionWrapHandler, create_model, model_serializer

from pipeline.models.regularisers.base import Critic, Regulariser
from pipeline.models.regularisers.diff_augment import DiffAugment
from pipeline.models.regularisers.drift import Drift
from pipeline.models.regularisers.ema import GeneratorEMA
from pipeline.models.regularisers.gradient_penalty import GradientPenalty
from pipeline.models.regularisers.instance_noise import InstanceNoise
from pipeline.models.regularisers.l2 import L2
from pipeline.models.regularisers.r1 import R1
from pipeline.models.regularisers.spectral_norm import SpectralNorm
from pipeline.models.regularisers.weight_clipping import WeightClipping
from pipeline.schema import Section

# In the order their hooks run: penalties are added, and inputs transformed, in this order.
REGULARISERS: dict[str, type[Regulariser]] = {
    "weight_clipping": WeightClipping,
    "gradient_penalty": GradientPenalty,
    "r1": R1,
    "drift": Drift,
    "l2": L2,
    "spectral_norm": SpectralNorm,
    "diff_augment": DiffAugment,
    "instance_noise": InstanceNoise,
    "ema": GeneratorEMA,
}


class _RegulariserSet(Section):
    def named_parts(self) -> list[tuple[str, Regulariser]]:
        """(name, part) of each regulariser that is on, in `REGULARISERS` order."""
        return [(name, part) for name in REGULARISERS if (part := getattr(self, name)) is not None]

    def parts(self) -> list[Regulariser]:
        """The regularisers that are on, in `REGULARISERS` order."""
        return [part for _, part in self.named_parts()]

    @model_serializer(mode="wrap")
    def _only_those_on(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A part that is off is left out of resolved/ and the run's params, so
        # registering a new part changes no existing model's record.
        return {name: value for name, value in handler(self).items() if value is not None}


def _fields() -> dict[str, Any]:
    return {name: (part | None, None) for name, part in REGULARISERS.items()}


# A model's `regularisers` section: one optional key per registered part.
Regularisers = create_model("Regularisers", __base__=_RegulariserSet, **_fields())

__all__ = ["REGULARISERS", "Critic", "Regulariser", "Regularisers"]
