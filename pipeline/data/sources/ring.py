"""Eight Gaussians on a ring: the 2-D benchmark of mode collapse (Metz et al. 2017, VEEGAN).

Points, not images: each example is a (1, 1, 2) float32 array of
coordinates, labelled with its mode, stored and read as it is (the shards'
`float32` storage). The mixture's geometry goes into `info.json`'s `extra`
(`mixture`: the centres and the std), where the evaluator and the ring's
metrics (modes covered, high-quality share) read it.

The paper's ring has radius 2 and std 0.02. The generators here end in tanh,
whose range is (-1, 1), so the default ring is the paper's scaled by 0.4:
radius 0.8, std 0.008. Every score is relative to the std, so the scale
changes nothing but the units.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field

from pipeline.data.raw import RawData
from pipeline.data.shards import POINTS
from pipeline.data.sources.base import DataSource
from pipeline.schema import NonNegativeInt

# Centres at most this far out: tanh reaches 0.95 at an input of 1.83, so a
# generator can still put the whole 3-std disc of a mode inside its range.
MAX_RADIUS = 0.9


class Ring(DataSource):
    """`count` points from an equal-weight mixture of `modes` isotropic Gaussians.

    Centre k sits at angle 2 pi k / modes on the circle of `radius`; a point
    of mode k is that centre plus N(0, std^2 I). The draws come from
    `sample_seed` alone, so the data set is the same whatever the run's seed
    (which, as for any source, picks the split).

    Attributes:
        modes: how many Gaussians (8 in the paper).
        radius: the circle's radius (0.8: the paper's 2, scaled by 0.4).
        std: each Gaussian's standard deviation (0.008: the paper's 0.02, scaled).
        count: how many points, split by mode like any labelled source.
        sample_seed: the seed of the points themselves.
    """

    kind: Literal["ring"] = "ring"
    gives_points: ClassVar[bool] = True
    modes: Annotated[int, Field(ge=2, le=64)] = 8
    radius: Annotated[float, Field(gt=0, le=MAX_RADIUS)] = 0.8
    std: Annotated[float, Field(gt=0, le=0.2)] = 0.008
    count: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000
    sample_seed: NonNegativeInt = 0

    def centres(self) -> np.ndarray:
        """The modes' centres, (modes, 2) float64, mode 0 on the positive x axis."""
        angles = 2 * math.pi * np.arange(self.modes) / self.modes
        return self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)

    def read(self, scratch: Path) -> RawData:
        rng = np.random.default_rng(self.sample_seed)
        labels = rng.integers(0, self.modes, self.count)
        points = self.centres()[labels] + self.std * rng.standard_normal((self.count, 2))
        return RawData(
            source=f"ring:{self.modes}",
            chunks=[points.astype(np.float32).reshape(-1, 1, 1, 2)],
            labels=labels.astype(np.int64),
            num_classes=self.modes,
            class_names=[f"mode {k}" for k in range(self.modes)],
            extra={"mixture": {"centres": self.centres().tolist(), "std": self.std}},
            storage=POINTS,
        )
