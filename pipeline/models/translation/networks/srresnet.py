"""SRGAN's generator, SRResNet (Ledig et al. 2017): residual blocks, then sub-pixel upsampling."""

from __future__ import annotations

from typing import Literal

from pipeline.lazy import layers
from pipeline.models.translation.networks.base import Blocks, Shape, TranslationGenerator
from pipeline.models.translation.networks.blocks import pixel_shuffle
from pipeline.schema import Filters

SCALES = (2, 4)  # one or two x2 sub-pixel stages
SHUFFLE = 2  # each stage doubles H and W


def prelu(name: str):
    """PReLU with one slope per channel, as the paper's (and size-independent, unlike
    Keras' default of one slope per pixel and channel)."""
    return layers.PReLU(shared_axes=[1, 2], name=name)


class SRResNet(TranslationGenerator):
    """Conv 9x9 + PReLU -> `blocks` x (Conv-BN-PReLU-Conv-BN + skip) -> Conv-BN + long skip
    -> log2(scale) x (Conv 3x3 to 4 * filters, pixel shuffle by 2, PReLU) -> Conv 9x9, tanh.

    The scale is the output size over the input size, the same for height
    and width: 2 (14x14 -> 28x28) or 4. The pixel shuffle is Reshape and
    Permute (`blocks.pixel_shuffle`), equal to TensorFlow's depth_to_space.
    Every convolution is 'same' with Keras' default (Glorot) weights; the
    paper does not give an initialisation. No bias before BatchNorm.

    Attributes:
        filters: width of every block (paper: 64).
        blocks: residual blocks (paper: 16; they run at the input's size,
            14x14 for MNIST, so the paper's count stays affordable).
    """

    kind: Literal["srresnet"] = "srresnet"
    filters: Filters = 64
    blocks: Blocks = 16

    def shape_refusal(self, input_shape: Shape, output_shape: Shape) -> str | None:
        (height, width), (out_height, out_width) = input_shape[:2], output_shape[:2]
        for scale in SCALES:
            if (out_height, out_width) == (height * scale, width * scale):
                return None
        return "allowed: an output 2 or 4 times the input's height and width (channels may differ)"

    def build_trunk(self, image, input_shape: Shape, output_shape: Shape):
        scale = output_shape[0] // input_shape[0]
        head = layers.Conv2D(self.filters, 9, padding="same", name="head_conv")(image)
        head = prelu("head_prelu")(head)
        x = head
        for i in range(self.blocks):
            x = self._residual_block(x, f"block_{i}")
        x = self._conv_bn(x, "trunk")
        x = layers.Add(name="long_skip")([head, x])
        for i in range(scale.bit_length() - 1):  # log2(scale) stages
            x = layers.Conv2D(
                self.filters * SHUFFLE**2, 3, padding="same", name=f"upsample_{i}_conv"
            )(x)
            x = pixel_shuffle(x, SHUFFLE, f"upsample_{i}_shuffle")
            x = prelu(f"upsample_{i}_prelu")(x)
        return layers.Conv2D(output_shape[-1], 9, padding="same", activation="tanh", name="output")(
            x
        )

    def _conv_bn(self, x, name: str):
        x = layers.Conv2D(self.filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
        return layers.BatchNormalization(name=f"{name}_bn")(x)

    def _residual_block(self, x, name: str):
        h = prelu(f"{name}_prelu")(self._conv_bn(x, f"{name}_0"))
        h = self._conv_bn(h, f"{name}_1")
        return layers.Add(name=f"{name}_add")([x, h])
