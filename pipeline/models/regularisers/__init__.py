"""Regularisers and constraints: one file each, named here.

To add one: write `pipeline/models/regularisers/<name>.py` with a subclass
of `Regulariser` that fills in the hooks it needs, and add it below.
"""

from __future__ import annotations

from pipeline.models.regularisers.base import Critic, Regulariser
from pipeline.models.regularisers.gradient_penalty import GradientPenalty
from pipeline.models.regularisers.l2 import L2
from pipeline.models.regularisers.r1 import R1
from pipeline.models.regularisers.weight_clipping import WeightClipping

REGULARISERS: dict[str, type[Regulariser]] = {
    "weight_clipping": WeightClipping,
    "gradient_penalty": GradientPenalty,
    "r1": R1,
    "l2": L2,
}

__all__ = ["REGULARISERS", "Critic", "Regulariser"]
