"""pix2pix's PatchGAN discriminator (Isola et al. 2017), also CycleGAN's."""

from __future__ import annotations

from typing import Literal

from pipeline.lazy import layers
from pipeline.models.conditioning.base import LayerWrap
from pipeline.models.networks.layout import normal_weights
from pipeline.models.translation.networks.base import (
    Levels,
    Shape,
    TranslationDiscriminator,
    auto_halvings,
)
from pipeline.models.translation.networks.blocks import Norm, normalization
from pipeline.schema import Filters

KERNEL_SIZE = 4
PAPER_LAYERS = 3  # the 70x70 PatchGAN at 256 px
WIDTH_CAP = 8  # widths double up to 8 * filters (the paper's C512)
LEAKY_SLOPE = 0.2


def receptive_field(layers_: int) -> int:
    """Side, in pixels, of the patch each score sees: 9 * 2**layers - 2 (3: 70, 2: 34, 1: 16).

    Two stride-1 4x4 convolutions see 7 pixels; each stride-2 4x4 one below
    them doubles that and adds 2.
    """
    return 9 * 2**layers_ - 2


class PatchGAN(TranslationDiscriminator):
    """C64-C128-C256 (stride 2) - C512 (stride 1) - Conv to 1 channel (stride 1): a score map.

    Every convolution is 4x4 with "same" padding and N(0, 0.02) weights;
    LeakyReLU 0.2 after each but the last; `norm` after each but the first
    and the last. `layers` is the number of stride-2 convolutions, widths
    filters * 2**i (at most 8 * filters); the stride-1 one doubles the last
    width (capped the same). The output is (N, H / 2**layers, W / 2**layers,
    1) raw scores (rounded up), one per overlapping patch: the loss averages
    them.

    Each score sees a 9 * 2**layers - 2 pixel patch: the paper's 3 layers
    give its 70x70 at 256 px. `layers` None takes the paper's 3, fewer where
    the image is small: it halves while the sides stay even and the map at
    least 3x3 (28 px: 28 -> 14 -> 7, 2 layers, a 7x7 map of 34x34 patches,
    each covering the whole 28x28 digit with its border; 1 layer gives
    16x16 patches on a 14x14 map; 32 px: 3 layers, a 4x4 map of 70x70).

    Attributes:
        filters: width of the first convolution (paper: 64).
        layers: stride-2 convolutions, or None for the rule above.
        norm: "batch" (pix2pix), "instance" (CycleGAN) or "none" (a
            gradient-penalty critic, or with spectral normalisation).
    """

    kind: Literal["patchgan"] = "patchgan"
    filters: Filters = 64
    layers: Levels | None = None
    norm: Norm = "batch"

    def strided_layers(self, height: int, width: int) -> int:
        """How many stride-2 convolutions this image gets."""
        if self.layers is not None:
            return self.layers
        return auto_halvings(height, width, cap=PAPER_LAYERS)

    def shape_refusal(self, image_shape: Shape) -> str | None:
        levels = self.strided_layers(*image_shape[:2])
        if levels == 0:
            return "allowed: a height and width divisible by 2, each at least 6"
        if min(image_shape[:2]) < 2**levels:
            return f"{levels} stride-2 layers need a height and width of at least {2**levels}"
        return None

    def build_trunk(self, x, image_shape: Shape, wrap: LayerWrap):
        levels = self.strided_layers(*image_shape[:2])
        for i in range(levels + 1):  # the stride-2 layers, then the stride-1 C512
            width = self.filters * min(2**i, WIDTH_CAP)
            x = self._block(x, width, strides=2 if i < levels else 1, index=i, wrap=wrap)
        return wrap(
            layers.Conv2D(
                1, KERNEL_SIZE, padding="same", kernel_initializer=normal_weights(), name="scores"
            )
        )(x)

    def _block(self, x, width: int, strides: int, index: int, wrap: LayerWrap):
        """Conv 4x4 -> norm (not on the first) -> LeakyReLU 0.2."""
        norm = normalization(self.norm, f"conv_{index}_norm") if index > 0 else None
        x = wrap(
            layers.Conv2D(
                width,
                KERNEL_SIZE,
                strides=strides,
                padding="same",
                use_bias=norm is None,
                kernel_initializer=normal_weights(),
                name=f"conv_{index}",
            )
        )(x)
        if norm is not None:
            x = norm(x)
        return layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"conv_{index}_act")(x)
