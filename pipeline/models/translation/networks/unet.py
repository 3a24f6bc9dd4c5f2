"""pix2pix's U-Net generator (Isola et al. 2017), and without its skips a context encoder's."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pipeline.lazy import layers
from pipeline.models.networks.layout import normal_weights
from pipeline.models.translation.networks.base import (
    MAX_LEVELS,
    Levels,
    Shape,
    TranslationGenerator,
    auto_halvings,
)
from pipeline.schema import Filters, Rate

KERNEL_SIZE = 4  # the paper's 4x4 convolutions; divisible by the stride (no checkerboard)
WIDTH_CAP = 8  # widths double per level up to 8 * filters (the paper's C512 at filters 64)
LEAKY_SLOPE = 0.2


class UNet(TranslationGenerator):
    """Stride-2 encoder, stride-2 transposed-convolution decoder, skips between mirrored levels.

    Encoder level i: Conv 4x4 stride 2 (filters * 2**i, at most 8 * filters)
    -> BatchNorm (not on level 0, as in the paper) -> LeakyReLU 0.2.
    Decoder, innermost first: ConvT 4x4 stride 2 to the mirrored encoder
    level's width -> BatchNorm -> Dropout (the innermost `dropout_layers`)
    -> ReLU -> concatenated with that encoder level's output; then ConvT 4x4
    stride 2 to the output channels, tanh. For 28x28 (depth 2):
    28 -> 14 (64) -> 7 (128) -> 14 (64 + 64 skip) -> 28. Weights N(0, 0.02).

    The paper's U-Net for 256 px has 8 levels, down to 1x1. Here `depth`
    None halves while both sides stay even and the map stays at least 3x3
    (28 -> 14 -> 7: 2; 32 -> 16 -> 8 -> 4: 3; 64: 4), so images of any size
    divisible by 2 work without a setting.

    Dropout is Keras Dropout: active only when the model is called with
    training=True. pix2pix also keeps it at test time as G's only noise; a
    model that wants that calls G with training=True.

    Attributes:
        filters: width of the first encoder level (paper: 64).
        depth: stride-2 levels, or None for the rule above. H and W must be
            divisible by 2**depth.
        dropout: rate of the dropout layers (paper: 0.5; 0 turns them off).
        dropout_layers: how many of the innermost decoder layers get dropout
            (paper: 3 of 7), capped at the decoder's hidden layers (depth - 1).
        skip_connections: False drops the skips: the plain encoder-decoder of
            the paper's ablation and of a context encoder (Pathak et al. 2016).
        channel_wise_fc: put the context encoder's channel-wise fully
            connected layer at the bottleneck (see `_channel_wise_fc`). Without
            it each output pixel sees an 18x18 input patch at depth 2 (28 px),
            so the middle of a 14x14 hole sees almost no context; with it,
            every output pixel sees the whole image.
    """

    kind: Literal["unet"] = "unet"
    filters: Filters = 64
    depth: Levels | None = None
    dropout: Rate = 0.5
    dropout_layers: Annotated[int, Field(ge=0, le=MAX_LEVELS)] = 3
    skip_connections: bool = True
    channel_wise_fc: bool = False

    def levels(self, height: int, width: int) -> int:
        """The number of stride-2 levels for an image of this size."""
        return self.depth if self.depth is not None else auto_halvings(height, width)

    def shape_refusal(self, input_shape: Shape, output_shape: Shape) -> str | None:
        (height, width), levels = input_shape[:2], self.levels(*input_shape[:2])
        if output_shape[:2] != (height, width):
            return "allowed: the same height and width in and out (channels may differ)"
        if levels == 0:
            return "allowed: a height and width divisible by 2, each at least 6"
        if height % 2**levels or width % 2**levels:
            return f"depth {levels} needs a height and width divisible by {2**levels}"
        return None

    def width(self, level: int) -> int:
        return self.filters * min(2**level, WIDTH_CAP)

    def build_trunk(self, image, input_shape: Shape, output_shape: Shape):
        levels = self.levels(*input_shape[:2])
        skips = self._encode(image, levels)
        x = skips.pop()  # the innermost map: the bottleneck, no skip to itself
        if self.channel_wise_fc:
            x = self._channel_wise_fc(x)
        for position, level in enumerate(range(levels - 2, -1, -1)):
            x = self._decode_level(x, level, dropout=position < self.dropout_layers)
            if self.skip_connections:
                x = layers.Concatenate(name=f"up_{level}_skip")([x, skips[level]])
        return layers.Conv2DTranspose(
            output_shape[-1],
            KERNEL_SIZE,
            strides=2,
            padding="same",
            activation="tanh",
            kernel_initializer=normal_weights(),
            name="output",
        )(x)

    def _encode(self, x, levels: int) -> list:
        """The encoder's activated maps, outermost first."""
        maps = []
        for level in range(levels):
            batch_norm = level > 0  # the paper: no BatchNorm on the first C64
            x = layers.Conv2D(
                self.width(level),
                KERNEL_SIZE,
                strides=2,
                padding="same",
                use_bias=not batch_norm,  # BatchNorm's offset does a bias's job
                kernel_initializer=normal_weights(),
                name=f"down_{level}",
            )(x)
            if batch_norm:
                x = layers.BatchNormalization(name=f"down_{level}_bn")(x)
            x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"down_{level}_act")(x)
            maps.append(x)
        return maps

    def _channel_wise_fc(self, x):
        """Pathak et al.'s bottleneck: each channel's map fully connected to itself, then a
        1x1 convolution to mix channels (-BN-ReLU), so information crosses the whole image.

        One (positions x positions) matrix per channel, not one Dense over the
        flattened map (positions x channels, squared): 49 * 49 * 128 weights at
        7x7x128 instead of 6272**2. EinsumDense is a stock layer.
        """
        height, width, channels = x.shape[1:]
        positions = height * width
        x = layers.Reshape((positions, channels), name="bottleneck_positions")(x)
        x = layers.EinsumDense(
            "bpc,pqc->bqc",
            output_shape=(positions, channels),
            bias_axes="qc",
            kernel_initializer=normal_weights(),
            name="bottleneck_fc",
        )(x)
        x = layers.Reshape((height, width, channels), name="bottleneck_map")(x)
        x = layers.Conv2D(
            channels, 1, use_bias=False, kernel_initializer=normal_weights(), name="bottleneck_mix"
        )(x)
        x = layers.BatchNormalization(name="bottleneck_bn")(x)
        return layers.ReLU(name="bottleneck_act")(x)

    def _decode_level(self, x, level: int, dropout: bool):
        """Up to encoder level `level`'s size and width: ConvT-BN-(Dropout)-ReLU."""
        x = layers.Conv2DTranspose(
            self.width(level),
            KERNEL_SIZE,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=normal_weights(),
            name=f"up_{level}",
        )(x)
        x = layers.BatchNormalization(name=f"up_{level}_bn")(x)
        if dropout and self.dropout > 0:
            x = layers.Dropout(self.dropout, name=f"up_{level}_dropout")(x)
        return layers.ReLU(name=f"up_{level}_act")(x)
