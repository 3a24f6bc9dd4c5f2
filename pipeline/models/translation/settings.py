"""The params section of an image-to-image model: its task, networks, losses and training.

A model section whose `family` names a translation preset
(`pipeline.models.translation.presets`) is validated here instead of as a
noise-to-image model; `pipeline.params` picks by family.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from pipeline.models.losses import LossSettings
from pipeline.models.translation.networks import DiscriminatorSettings, GeneratorSettings
from pipeline.models.translation.presets import PAIRED_PRESETS, with_paired_preset
from pipeline.models.translation.reconstruction import ReconstructionSettings
from pipeline.schema import PositiveFloat, Section
from pipeline.train_settings import TrainingSettings

# A domain's name in the prepared data: `A` (the source's images), `B` (a
# folder source's second domain) or a derived domain (`prepare.domains`).
DomainName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")]


class TaskParams(Section):
    """Which prepared domain a model translates from, and which into."""

    input: DomainName
    target: DomainName

    @model_validator(mode="after")
    def _check_distinct(self) -> TaskParams:
        if self.input == self.target:
            raise ValueError(
                f"task: input and target are both {self.input!r} (allowed: two different "
                "domains, e.g. input: edges, target: A)"
            )
        return self


PairedFamily = Literal[tuple(PAIRED_PRESETS)]  # type: ignore[valid-type]


class PairedTranslationParams(Section):
    """A paired image-to-image model's section (pix2pix): G maps `task.input` to `task.target`.

    What the section leaves out comes from its preset, then from each
    part's own defaults.
    """

    family: PairedFamily
    task: TaskParams
    generator: GeneratorSettings
    discriminator: DiscriminatorSettings
    loss: LossSettings
    reconstruction: ReconstructionSettings
    adversarial_weight: PositiveFloat = 1.0
    # pix2pix's D judges (input, image) pairs; an unconditional D images alone.
    discriminator_sees_input: bool = True
    # What evaluate scores beside it (pipeline/evaluation/baselines.py): the
    # training targets' mean image, bicubic upsampling, or the hole's mean fill.
    baseline: Literal["mean_target", "bicubic", "mean_fill"] = "mean_target"
    train: TrainingSettings = TrainingSettings()

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("family") not in PAIRED_PRESETS:
            return data
        return with_paired_preset(data["family"], data)

    @property
    def conditional(self) -> bool:
        """Translation models take no class label."""
        return False

    def part_tags(self) -> dict[str, str]:
        """Which part fills each slot, as the training run's MLflow tags."""
        return {
            "task": f"{self.task.input} -> {self.task.target}",
            "loss": self.loss.name,
            "network": f"{self.generator.kind} / {self.discriminator.kind}",
            "reconstruction": self.reconstruction.kind,
        }

    # Its (input, target) pairs are two domains' images of one scene.
    learns_from_pairs: ClassVar[bool] = True

    def domains_read(self) -> dict[str, str]:
        """The prepared domains it reads, by the key that names each."""
        return {"task.input": self.task.input, "task.target": self.task.target}


TRANSLATION_FAMILIES: tuple[str, ...] = tuple(PAIRED_PRESETS)
