"""The building blocks of the params schema: the section base, number types and limits.

Shared by `pipeline.params` (the file's sections) and the model parts, each
of which declares its own settings as a `Section` (a loss's label smoothing,
a network's widths), so that a part and its settings are one file.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# --- limits --------------------------------------------------------------------
# Upper bounds on sizes that can only be typos (an extra zero or three): each is
# well above any real GPU experiment, but stops a value like 10**9 here, in one
# line, instead of as an out-of-memory crash an hour into a stage.
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 65_536
MAX_LATENT_DIM = 4_096
MAX_UNITS = 16_384  # one hidden layer's width
MAX_LAYERS = 32  # hidden layers per mlp network
MAX_FILTERS = 2_048  # a convolutional network's base width; deeper blocks double it
MAX_D_STEPS = 100  # the WGAN reference code's warm-up n_critic
MAX_STEPS_PER_EXECUTION = 10_000  # steps fused into one call of the compiled step
MAX_SAMPLES = 100_000  # twice the usual FID-50k
MAX_KID_SUBSETS = 10_000
MAX_SHARD_SIZE = 1_000_000
MAX_FEATURE_DIM = 4_096  # twice InceptionV3's 2,048
MAX_GRID_SIZE = 32  # rows (and columns) of a saved image grid
MAX_INTERPOLATION_STEPS = 64
# A score needs two samples: FID's covariance, a k-NN neighbour.
MIN_SAMPLES = 2
# Two end points make the shortest interpolation.
MIN_INTERPOLATION_STEPS = 2
SEED_LIMIT = 2**31  # seeds are in [0, SEED_LIMIT)
MAX_SEEDS = 64  # the `seeds` list: each is a whole training per model
# BigGAN's truncation threshold psi (`pipeline.sampling.truncated_normal`). Its
# figures go down to 0.04, where every z is nearly the mode; below that the
# redraws cost more (about 1 / psi per component) for no visible change. At 4,
# about 1 component in 16,000 is redrawn: more is no truncation, or a typo (70 for 0.7).
MIN_TRUNCATION = 0.04
MAX_TRUNCATION = 4.0


def _yaml_float(value: Any) -> Any:
    # PyYAML reads `1e-3` (no dot) as a string; accept it as the number it means.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


# inf and nan can only be mistakes in this file: a nan learning rate turns every
# weight to nan, an infinite clip value silently turns clipping off.
Float = Annotated[float, BeforeValidator(_yaml_float), Field(allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[Float, Field(gt=0)]
Fraction = Annotated[Float, Field(gt=0, lt=1)]
Rate = Annotated[Float, Field(ge=0, lt=1)]
NonNegativeFloat = Annotated[Float, Field(ge=0)]
Epochs = Annotated[int, Field(gt=0, le=MAX_EPOCHS)]
BatchSize = Annotated[int, Field(gt=0, le=MAX_BATCH_SIZE)]
SampleCount = Annotated[int, Field(ge=MIN_SAMPLES, le=MAX_SAMPLES)]
GridSize = Annotated[int, Field(ge=1, le=MAX_GRID_SIZE)]
Filters = Annotated[int, Field(gt=0, le=MAX_FILTERS)]
Units = Annotated[
    list[Annotated[int, Field(gt=0, le=MAX_UNITS)]],
    Field(min_length=1, max_length=MAX_LAYERS),
]
Seed = Annotated[int, Field(ge=0, lt=SEED_LIMIT)]
Truncation = Annotated[Float, Field(ge=MIN_TRUNCATION, le=MAX_TRUNCATION)]


class Section(BaseModel):
    """Base for every section: unknown keys and silent coercions are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def tagged_union(registry: dict[str, type[Section]], tag: str) -> Any:
    """The settings of whichever part of `registry` the key `tag` names, as one pydantic type.

    A discriminated union: pydantic picks the member by `tag` and then holds
    the section to that member's own keys, so a key of another part is an
    error that names the part.
    """
    members = tuple(registry.values())
    return Annotated[Union[members], Field(discriminator=tag)]  # noqa: UP007
