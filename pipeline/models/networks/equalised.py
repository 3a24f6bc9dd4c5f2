"""What Karras et al.'s networks share (ProGAN, StyleGAN): equalised weights, pixel norm,
the minibatch standard deviation and D's last block, made of stock Keras layers.

- equalised learning rate, weights w * c with c = gain / sqrt(fan_in)
  at run time and w ~ N(0, 1): `Rescaling(c)` on the input of a Conv2D or
  Dense whose kernel starts N(0, 1). The layer is linear, so
  conv(c x, w) + b = conv(x, c w) + b: the same output and the same
  gradients as the paper's runtime scaling, the bias unscaled. Without it,
  the kernel starts N(0, c^2) and nothing is rescaled (He's initialisation).
  StyleGAN's learning-rate multiplier (its mapping network's 0.01) divides
  the initial weights by it and multiplies c by it, as in its code.
- pixel norm, x / sqrt(mean(x^2) + 1e-8) over the channels:
  `UnitNormalization(axis=-1)` then `Rescaling(sqrt(C))`, i.e.
  x / max(sqrt(mean(x^2)), 1e-12 / sqrt(C)); the two differ only where
  mean(x^2) is below about 1e-8.
- minibatch standard deviation, in D only: the std of every feature over
  the batch, averaged to one number, appended as a constant feature map
  before D's last block. It is written in `keras.ops` inside the functional
  model, which this Keras serialises as operation nodes, so D still reloads
  with Keras alone (tests/test_progan.py). The papers take the statistic
  over groups of 4; here it is over the whole batch, which any batch size
  divides.
"""

from __future__ import annotations

import math

from pipeline.lazy import keras, layers, ops
from pipeline.models.conditioning.base import Conditioning, LayerWrap
from pipeline.models.networks.base import Network, discriminator_inputs, unwrapped
from pipeline.models.networks.layout import start_size
from pipeline.schema import Filters, Rate

# He's gain for layers followed by a leaky ReLU, as the papers'; toRGB and the
# score, which are linear, get 1.
RELU_GAIN = math.sqrt(2.0)
LINEAR_GAIN = 1.0
# Inside the minibatch std's square root, the papers'.
STD_EPSILON = 1e-8


def pixel_norm(x, name: str):
    """Each position's feature vector scaled to unit mean square (see the module docstring)."""
    x = layers.UnitNormalization(axis=-1, name=f"{name}_unit")(x)
    return layers.Rescaling(math.sqrt(x.shape[-1]), name=f"{name}_scale")(x)


def minibatch_std(x, name: str):
    """`x` with one more channel: the mean over features of their std over the batch."""
    std = ops.sqrt(ops.var(x, axis=0) + STD_EPSILON)
    channel = ops.ones_like(x[..., :1]) * ops.mean(std)
    return layers.Concatenate(name=name)([x, channel])


class EqualisedNetwork(Network):
    """A network kind built of equalised weight layers on the doubling ladder (see the
    module docstring); ProGAN and StyleGAN extend it.

    Widths double per halving from the image's, `filters`: 128, 64, 32 for
    28x28 at the default 32.

    Attributes:
        filters: channels of the blocks at the image's resolution.
        minibatch_std: the minibatch std feature in D.
        equalised_lr: the runtime weight scaling of every weight layer.
        leaky_relu_slope: negative slope of every activation (0.2, the papers').
    """

    filters: Filters = 32
    minibatch_std: bool = True
    equalised_lr: bool = True
    leaky_relu_slope: Rate = 0.2

    def discriminator_mixes_batch(self) -> bool:
        # The minibatch std mixes the batch through one feature map, and the
        # papers train it under per-example penalties (WGAN-GP, R1) all the
        # same; unlike BatchNorm, which normalises every feature by the batch,
        # it only adds one averaged statistic. So it is not refused here.
        return False

    def check(
        self, image_shape: tuple[int, int, int], conditioning: Conditioning, num_classes: int
    ) -> None:
        # The image size first: every later message assumes the networks exist.
        start_size(image_shape, self.kind)
        super().check(image_shape, conditioning, num_classes)

    def levels(self, image_shape: tuple[int, int, int]) -> int:
        """How many resolutions the networks span: 3 for 28x28 (7, 14, 28)."""
        return start_size(image_shape, self.kind)[1] + 1

    def width(self, resolution: int, levels: int) -> int:
        """Channels of the blocks at `resolution` (0: the start square)."""
        return self.filters * 2 ** (levels - 1 - resolution)

    # --- weight layers, with or without the equalised learning rate ------------

    def initializer(self, scale: float, lr_multiplier: float = 1.0):
        """A weight layer's kernel initialiser for the runtime scale `scale`."""
        stddev = 1.0 / lr_multiplier if self.equalised_lr else scale
        return keras.initializers.RandomNormal(stddev=stddev)

    def weighted(
        self,
        x,
        layer,
        fan_in: int,
        gain: float,
        name: str,
        wrap: LayerWrap = unwrapped,
        lr_multiplier: float = 1.0,
    ):
        """`layer(initializer)` on `x`, through `wrap`, the input scaled if equalised."""
        scale = gain / math.sqrt(fan_in)
        if self.equalised_lr:
            x = layers.Rescaling(scale * lr_multiplier, name=f"{name}_equalised")(x)
        return wrap(layer(self.initializer(scale, lr_multiplier)))(x)

    def conv(self, x, channels: int, size: int, name: str, gain=RELU_GAIN, wrap=unwrapped):
        """A `size` x `size` Conv2D, "same" padding."""

        def layer(initializer):
            return layers.Conv2D(
                channels, size, padding="same", kernel_initializer=initializer, name=name
            )

        return self.weighted(x, layer, size * size * x.shape[-1], gain, name, wrap)

    def dense(
        self,
        x,
        units: int,
        name: str,
        gain=RELU_GAIN,
        wrap=unwrapped,
        lr_multiplier=1.0,
        bias_initializer="zeros",
    ):
        def layer(initializer):
            return layers.Dense(
                units,
                kernel_initializer=initializer,
                bias_initializer=bias_initializer,
                name=name,
            )

        return self.weighted(x, layer, x.shape[-1], gain, name, wrap, lr_multiplier)

    def act(self, x, name: str):
        return layers.LeakyReLU(negative_slope=self.leaky_relu_slope, name=f"{name}_act")(x)

    # --- D -----------------------------------------------------------------------

    def discriminator_entry(
        self,
        image_shape: tuple[int, int, int],
        conditioning: Conditioning,
        num_classes: int,
        wrap: LayerWrap,
    ):
        """D's inputs and its first features: (levels, inputs, label, the image as D
        reads it, its fromRGB at the image's resolution)."""
        levels = self.levels(image_shape)
        images, inputs, label = discriminator_inputs(image_shape, conditioning)
        image = conditioning.discriminator_input(images, label, num_classes)
        return levels, inputs, label, image, self.from_rgb(image, levels - 1, levels, wrap)

    def from_rgb(self, image, resolution: int, levels: int, wrap: LayerWrap):
        """D's 1x1 entry from an image at `resolution`, with its activation."""
        name = f"from_rgb_{resolution}"
        return self.act(self.conv(image, self.width(resolution, levels), 1, name, wrap=wrap), name)

    def discriminator_conv(self, x, channels: int, name: str, wrap: LayerWrap):
        """Conv3x3 and leaky ReLU: D's unit."""
        return self.act(self.conv(x, channels, 3, name, wrap=wrap), name)

    def discriminator_head(
        self, x, label, conditioning: Conditioning, num_classes: int, levels: int, wrap: LayerWrap
    ):
        """D's last block, at the start square: [minibatch std] -> Conv3x3, LReLU -> Flatten
        -> Dense, LReLU -> the conditioning's output layer (the paper's 4x4 valid
        convolution is this Dense on the flattened map)."""
        if self.minibatch_std:
            x = minibatch_std(x, "minibatch_std")
        channels = self.width(0, levels)
        x = self.discriminator_conv(x, channels, "block_0_conv", wrap)
        x = layers.Flatten(name="flatten")(x)
        x = self.act(self.dense(x, channels, "block_0_dense", wrap=wrap), "block_0_dense")
        scale = LINEAR_GAIN / math.sqrt(channels)
        if self.equalised_lr:
            x = layers.Rescaling(scale, name="score_equalised")(x)
        return conditioning.discriminator_output(
            x, label, num_classes, wrap, initializer=lambda: self.initializer(scale)
        )
