"""CycleGAN's residual generator (Zhu et al. 2017), the network of Johnson et al. 2016."""

from __future__ import annotations

from typing import Literal

from pipeline.lazy import layers
from pipeline.models.networks.layout import normal_weights
from pipeline.models.translation.networks.base import Blocks, Shape, TranslationGenerator
from pipeline.models.translation.networks.blocks import instance_norm, reflection_pad
from pipeline.schema import Filters

DOWNSAMPLINGS = 2  # the paper's d128, d256: the image side must divide by 4
# The smallest bottleneck side: reflection padding by 1 needs a side of 2.
MIN_BOTTLENECK = 2


class ResNetGenerator(TranslationGenerator):
    """c7s1-k, d2k, d4k, `blocks` x R4k, u2k, uk, c7s1-C with tanh (the paper's notation).

    c7s1-k: 7x7 stride-1 convolution, k filters, InstanceNorm, ReLU. dk: 3x3
    stride-2 convolution, InstanceNorm, ReLU. Rk: a residual block of two 3x3
    convolutions (InstanceNorm, ReLU between, InstanceNorm after) added to
    its input. uk: 3x3 stride-2 transposed convolution, InstanceNorm, ReLU.
    The last c7s1 has no norm and a tanh. Weights N(0, 0.02), as the
    reference code's. For 28x28 at the defaults: 28 -> 14 -> 7 (256 channels,
    the residual blocks) -> 14 -> 28.

    Instance norm is `GroupNormalization(groups=-1)` (see `blocks.instance_norm`);
    reflection padding before each 7x7 and residual 3x3 convolution is
    built from Cropping2D and Concatenate (`blocks.reflection_pad`), so both
    are stock layers. The stride-2 layers use Keras' "same" zero padding, as
    the reference code zero-pads them.

    Blocks: the paper uses 6 at 128 px and 9 at 256 px, where the blocks run
    on 32x32 and 64x64 maps. At 28 px they run on 7x7, and a single block
    already sees the whole image (receptive field 13 + 16 per block, in
    pixels), so the blocks only add capacity; 3 is half the paper's
    smallest setting at about half its cost, ample for digit-to-digit maps
    (negatives, colourisation).

    Attributes:
        filters: k, the first layer's width; the blocks run at 4k (paper: 64).
        blocks: residual blocks at the bottleneck.
        padding: "reflect" (paper) or "zero" ("same" convolutions: fewer layers).
    """

    kind: Literal["resnet"] = "resnet"
    filters: Filters = 64
    blocks: Blocks = 3
    padding: Literal["reflect", "zero"] = "reflect"

    def shape_refusal(self, input_shape: Shape, output_shape: Shape) -> str | None:
        height, width = input_shape[:2]
        if output_shape[:2] != (height, width):
            return "allowed: the same height and width in and out (channels may differ)"
        scale = 2**DOWNSAMPLINGS
        if height % scale or width % scale or min(height, width) < scale * MIN_BOTTLENECK:
            return (
                f"allowed: a height and width divisible by {scale}, each at least "
                f"{scale * MIN_BOTTLENECK} (e.g. 28 -> 14 -> 7 -> 14 -> 28)"
            )
        return None

    def build_trunk(self, image, input_shape: Shape, output_shape: Shape):
        x = self._conv(image, self.filters, 7, "c7s1")
        for i in range(DOWNSAMPLINGS):
            x = self._conv(x, self.filters * 2 ** (i + 1), 3, f"down_{i}", strides=2)
        for i in range(self.blocks):
            x = self._residual_block(x, f"block_{i}")
        for i in reversed(range(DOWNSAMPLINGS)):
            x = self._conv(x, self.filters * 2**i, 3, f"up_{i}", strides=2, transposed=True)
        return self._conv(x, output_shape[-1], 7, "output", final=True)

    def _conv(
        self,
        x,
        filters: int,
        size: int,
        name: str,
        strides: int = 1,
        transposed: bool = False,
        final: bool = False,
        activate: bool = True,
    ):
        """A convolution, then (unless `final`) InstanceNorm and (if `activate`) ReLU.

        Stride-1 convolutions get the chosen padding; the final one gives tanh.
        """
        padding = "same"
        if strides == 1 and self.padding == "reflect":
            x, padding = reflection_pad(x, size // 2, f"{name}_pad"), "valid"
        conv = layers.Conv2DTranspose if transposed else layers.Conv2D
        x = conv(
            filters,
            size,
            strides=strides,
            padding=padding,
            use_bias=final,  # InstanceNorm's offset does a bias's job
            activation="tanh" if final else None,
            kernel_initializer=normal_weights(),
            name=name if final else f"{name}_conv",
        )(x)
        if final:
            return x
        x = instance_norm(f"{name}_norm")(x)
        return layers.ReLU(name=f"{name}_relu")(x) if activate else x

    def _residual_block(self, x, name: str):
        channels = x.shape[-1]
        h = self._conv(x, channels, 3, f"{name}_0")
        h = self._conv(h, channels, 3, f"{name}_1", activate=False)
        return layers.Add(name=f"{name}_add")([x, h])
