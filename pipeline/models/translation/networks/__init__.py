"""Translation network kinds: generators (image -> image) and discriminators, one file each.

To add one: write `pipeline/models/translation/networks/<kind>.py` with a
subclass of `TranslationGenerator` (a `shape_refusal` and a `build_trunk`
from the `image` input to a tanh output) or of `TranslationDiscriminator`
(the same, to raw scores, with every weight layer through `wrap`), and add
it to `GENERATORS` or `DISCRIMINATORS` below. A model's generator or
discriminator section then accepts `{kind: <kind>, ...settings}`.
"""

from __future__ import annotations

from pipeline.models.translation.networks.base import (
    TranslationDiscriminator,
    TranslationGenerator,
)
from pipeline.models.translation.networks.blocks import instance_norm, pixel_shuffle
from pipeline.models.translation.networks.patchgan import PatchGAN
from pipeline.models.translation.networks.resnet import ResNetGenerator
from pipeline.models.translation.networks.srgan import SRGANDiscriminator
from pipeline.models.translation.networks.srresnet import SRResNet
from pipeline.models.translation.networks.unet import UNet
from pipeline.schema import tagged_union

GENERATORS: dict[str, type[TranslationGenerator]] = {
    "unet": UNet,
    "resnet": ResNetGenerator,
    "srresnet": SRResNet,
}

DISCRIMINATORS: dict[str, type[TranslationDiscriminator]] = {
    "patchgan": PatchGAN,
    "srgan": SRGANDiscriminator,
}

# A translation model's `generator` and `discriminator` sections, picked by `kind`.
GeneratorSettings = tagged_union(GENERATORS, "kind")
DiscriminatorSettings = tagged_union(DISCRIMINATORS, "kind")

__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "DiscriminatorSettings",
    "GeneratorSettings",
    "PatchGAN",
    "ResNetGenerator",
    "SRGANDiscriminator",
    "SRResNet",
    "TranslationDiscriminator",
    "TranslationGenerator",
    "UNet",
    "instance_norm",
    "pixel_shuffle",
]
