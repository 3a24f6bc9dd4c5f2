"""The params section of an unpaired image-to-image model (CycleGAN).

A model section whose `family` names an unpaired preset
(`pipeline.models.translation.presets.UNPAIRED_PRESETS`) is validated here;
`pipeline.params.section_class` picks by family.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from pipeline.models.losses import LossSettings
from pipeline.models.translation.networks import DiscriminatorSettings, GeneratorSettings
from pipeline.models.translation.presets import UNPAIRED_PRESETS, with_unpaired_preset
from pipeline.models.translation.settings import TaskParams
from pipeline.schema import NonNegativeFloat, PositiveFloat, Section
from pipeline.train_settings import TrainingSettings

# A typo guard far above the paper's 50: the pool is two variables of this many images.
MAX_POOL_SIZE = 10_000

UnpairedFamily = Literal[tuple(UNPAIRED_PRESETS)]  # type: ignore[valid-type]


class UnpairedTranslationParams(Section):
    """An unpaired image-to-image model's section (CycleGAN): G_AB maps `task.input` to
    `task.target` and G_BA back, learnt from images of each domain that never pair up.

    What the section leaves out comes from its preset, then from each part's own defaults.
    """

    family: UnpairedFamily
    task: TaskParams
    # One kind for both generators (G_AB, G_BA) and both discriminators (D_B, D_A).
    generator: GeneratorSettings
    discriminator: DiscriminatorSettings
    loss: LossSettings
    # λ of |G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b| in the generators' loss.
    cycle_weight: PositiveFloat = 10.0
    # The identity term |G_AB(b) - b| + |G_BA(a) - a| weighs identity_weight * cycle_weight
    # (the reference code's 0.5 * λ); 0 turns it off. It needs the same channels in both
    # domains: with different ones (digits to colour) it is left out, and not tracked.
    identity_weight: NonNegativeFloat = 0.5
    # Generated images each discriminator keeps (Shrivastava et al. 2017; 0: none).
    pool_size: Annotated[int, Field(ge=0, le=MAX_POOL_SIZE)] = 50
    train: TrainingSettings = TrainingSettings()

    # The two domains' images need not pair up (the schema's paired check does not apply).
    learns_from_pairs: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("family") not in UNPAIRED_PRESETS:
            return data
        return with_unpaired_preset(data["family"], data)

    @property
    def conditional(self) -> bool:
        """Translation models take no class label."""
        return False

    def part_tags(self) -> dict[str, str]:
        """Which part fills each slot, as the training run's MLflow tags."""
        return {
            "task": f"{self.task.input} <-> {self.task.target} (unpaired)",
            "loss": self.loss.name,
            "network": f"{self.generator.kind} / {self.discriminator.kind}",
            "reconstruction": "cycle",
        }

    def domains_read(self) -> dict[str, str]:
        """The prepared domains it reads, by the key that names each."""
        return {"task.input": self.task.input, "task.target": self.task.target}


UNPAIRED_FAMILIES: tuple[str, ...] = tuple(UNPAIRED_PRESETS)
