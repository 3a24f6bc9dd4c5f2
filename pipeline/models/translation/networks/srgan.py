"""SRGAN's discriminator (Ledig et al. 2017): a VGG-style stack, then two Dense layers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pipeline.lazy import layers
from pipeline.models.conditioning.base import LayerWrap
from pipeline.models.translation.networks.base import (
    Levels,
    Shape,
    TranslationDiscriminator,
    auto_halvings,
)
from pipeline.models.translation.networks.blocks import Norm, normalization
from pipeline.schema import MAX_UNITS, Filters

PAPER_BLOCKS = 4  # 64, 128, 256, 512: 96 px -> 6x6
LEAKY_SLOPE = 0.2


class SRGANDiscriminator(TranslationDiscriminator):
    """k3n64s1, k3n64s2, k3n128s1, k3n128s2, ... -> Dense 1024 -> LeakyReLU -> Dense 1.

    Block i (widths filters * 2**i) is a stride-1 then a stride-2 3x3
    convolution, each followed by `norm` (not the image's first
    convolution, as in the paper) and LeakyReLU 0.2. The paper's sigmoid is
    left out: D gives one raw score per image, (N, 1), for the loss to read.

    `blocks` None takes the paper's 4, fewer where the image is small: it
    halves while the sides stay even and the map at least 3x3 (28 px: 2
    blocks, 64 -> 128 wide, a 7x7 map into Dense; 32 px: 3; 96 px: 4, the
    paper's 6x6). Keras' default (Glorot) weights.

    Attributes:
        filters: width of the first block (paper: 64).
        blocks: stride-2 blocks, or None for the rule above.
        dense_units: width of the hidden Dense layer (paper: 1024).
        norm: "batch" (paper), "instance" or "none".
    """

    kind: Literal["srgan"] = "srgan"
    filters: Filters = 64
    blocks: Levels | None = None
    dense_units: Annotated[int, Field(gt=0, le=MAX_UNITS)] = 1024
    norm: Norm = "batch"

    def strided_blocks(self, height: int, width: int) -> int:
        """How many stride-2 blocks this image gets."""
        if self.blocks is not None:
            return self.blocks
        return auto_halvings(height, width, cap=PAPER_BLOCKS)

    def shape_refusal(self, image_shape: Shape) -> str | None:
        blocks = self.strided_blocks(*image_shape[:2])
        if blocks == 0:
            return "allowed: a height and width divisible by 2, each at least 6"
        if min(image_shape[:2]) < 2**blocks:
            return f"{blocks} stride-2 blocks need a height and width of at least {2**blocks}"
        return None

    def build_trunk(self, x, image_shape: Shape, wrap: LayerWrap):
        for i in range(self.strided_blocks(*image_shape[:2])):
            width = self.filters * 2**i
            x = self._conv(x, width, 1, f"block_{i}_0", wrap, first=i == 0)
            x = self._conv(x, width, 2, f"block_{i}_1", wrap)
        x = layers.Flatten(name="flatten")(x)
        x = wrap(layers.Dense(self.dense_units, name="dense"))(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name="dense_act")(x)
        return wrap(layers.Dense(1, name="score"))(x)

    def _conv(self, x, width: int, strides: int, name: str, wrap: LayerWrap, first=False):
        norm = None if first else normalization(self.norm, f"{name}_norm")
        x = wrap(
            layers.Conv2D(
                width, 3, strides=strides, padding="same", use_bias=norm is None, name=name
            )
        )(x)
        if norm is not None:
            x = norm(x)
        return layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{name}_act")(x)
