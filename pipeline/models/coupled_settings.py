"""The params section of a coupled GAN (CoGAN): two domains, the loss, the networks, training.

A model section whose `family` names a coupled preset is validated here
(`pipeline.params.section_class` picks by family). Importing it stays cheap:
validating params.yaml never loads Keras.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import model_validator

from pipeline.data.domains import DOMAINS
from pipeline.models.losses import LossSettings
from pipeline.models.networks.base import LatentDim
from pipeline.models.presets import merge
from pipeline.schema import Filters, Section
from pipeline.train_settings import TrainingSettings

COUPLED_PRESETS: dict[str, dict[str, Any]] = {
    # Liu & Tuzel 2016: two GANs whose generators share their first layers and whose
    # discriminators share their last, the non-saturating loss, Adam(2e-4, 0.5) (the
    # optimizers' own defaults), z of 100. The experiment: digits and their edge maps.
    "cogan": {
        "domains": {"first": "A", "second": "edges"},
        "loss": {"name": "non_saturating"},
        "train": {"d_optimizer": {"name": "adam"}, "g_optimizer": {"name": "adam"}},
    },
}
COUPLED_FAMILIES: tuple[str, ...] = tuple(COUPLED_PRESETS)

CoupledFamily = Literal[COUPLED_FAMILIES]  # type: ignore[valid-type]
# A derived domain (`pipeline/data/domains/`): a transform of A, which the pixel
# agreement applies to the first generator's output.
DerivedDomain = Literal[tuple(DOMAINS)]  # type: ignore[valid-type]


class CoupledDomains(Section):
    """The two domains: A (the source's images) and one derived from them.

    The second must be a transform of the first so that the pixel agreement
    can map G1's output onto G2's domain, as the paper does.
    """

    first: Literal["A"] = "A"
    second: DerivedDomain = "edges"


class CoupledNetworks(Section):
    """The coupled DCGAN-like pair (`pipeline.models.coupled_networks`).

    Attributes:
        filters: channels of G's last hidden layer and D's first; each layer
            nearer the small end has twice as many.
        latent_dim: size of z, shared by both generators.
    """

    filters: Filters = 64
    latent_dim: LatentDim = 100


class CoupledParams(Section):
    """A coupled GAN's section: one GAN per domain, with shared layers.

    What the section leaves out comes from its preset, then from each part's
    own defaults.
    """

    family: CoupledFamily
    domains: CoupledDomains = CoupledDomains()
    loss: LossSettings
    network: CoupledNetworks = CoupledNetworks()
    train: TrainingSettings = TrainingSettings()

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("family") not in COUPLED_PRESETS:
            return data
        return merge(COUPLED_PRESETS[data["family"]], data)

    # Each domain's images come from its own half of the training split.
    learns_from_pairs: ClassVar[bool] = False

    def domains_read(self) -> dict[str, str]:
        """The prepared domains it reads, by the key that names each (`first` is always A)."""
        return {"domains.second": self.domains.second}

    @property
    def conditional(self) -> bool:
        """A coupled GAN takes no class label."""
        return False

    def part_tags(self) -> dict[str, str]:
        """Which part fills each slot, as the training run's MLflow tags."""
        return {
            "domains": f"{self.domains.first} + {self.domains.second}",
            "loss": self.loss.name,
            "network": "coupled dcgan",
        }
