"""Adversarial losses: a discriminator/generator pair each, one file each, named here.

To add one: write `pipeline/models/losses/<name>.py` with a subclass of
`AdversarialLoss` whose `name` is `Literal["<name>"]`, and add it to
`LOSSES` below; `loss: {name: <name>}` then picks it in params.yaml.
"""

from __future__ import annotations

from pipeline.models.losses.base import AdversarialLoss
from pipeline.models.losses.hinge import Hinge
from pipeline.models.losses.least_squares import LeastSquares
from pipeline.models.losses.minimax import Minimax
from pipeline.models.losses.non_saturating import NonSaturating
from pipeline.models.losses.relativistic import Relativistic
from pipeline.models.losses.wasserstein import Wasserstein
from pipeline.schema import tagged_union

LOSSES: dict[str, type[AdversarialLoss]] = {
    "non_saturating": NonSaturating,
    "minimax": Minimax,
    "wasserstein": Wasserstein,
    "hinge": Hinge,
    "least_squares": LeastSquares,
    "relativistic": Relativistic,
}

# A model's `loss` section: whichever loss its `name` picks, with that loss's own keys.
LossSettings = tagged_union(LOSSES, "name")

__all__ = ["LOSSES", "AdversarialLoss", "LossSettings"]
