"""Residual networks in the style of SNGAN and BigGAN (Miyato et al. 2018; Brock et al. 2019)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pipeline.lazy import layers
from pipeline.models.conditioning.base import Conditioning, LayerWrap
from pipeline.models.networks.attention import SelfAttentionOption
from pipeline.models.networks.base import (
    discriminator_inputs,
    functional_model,
    generator_inputs,
    unwrapped,
)
from pipeline.models.networks.layout import start_size
from pipeline.schema import Filters

if TYPE_CHECKING:
    import keras as keras_types


class ResNet(SelfAttentionOption):
    """Residual up-blocks in G, residual down-blocks in D, on the same ladder as DCGAN.

    G: Dense -> Reshape to the start square (7 for 28x28, 4 for 32x32) ->
    one up-block per doubling -> BatchNorm -> ReLU -> Conv3x3 -> tanh.
    An up-block is BN-ReLU-UpSampling-Conv3x3-BN-ReLU-Conv3x3, plus a
    shortcut UpSampling-Conv1x1; each BN is the conditioning's
    (conditional, if it asks).

    D: one down-block per halving (28 -> 14 -> 7; 32 -> 16 -> 8 -> 4), the
    first SNGAN's "optimised" block (Conv3-ReLU-Conv3-AvgPool, shortcut
    AvgPool-Conv1, so no ReLU touches the raw image), the rest
    ReLU-Conv3-ReLU-Conv3-AvgPool with shortcut Conv1-AvgPool; then ReLU,
    global sum pooling, and the conditioning's output layer. D has no
    normalisation: it never mixes the batch, so gradient penalties apply,
    and spectral normalisation (through `wrap`) is its usual companion.

    Widths are constant across blocks, as in SNGAN's CIFAR-10 networks
    (256 in G, 128 in D there): one `filters` for every block of both
    networks. At these image sizes the deepest map is 4x4 or 7x7, so
    doubling the width on the way down would buy little and cost the most
    where the maps are smallest. Keras' default Glorot-uniform weights, as
    SNGAN's (Xavier) initialisation.

    Attributes:
        filters: channels of every block of G and D.
        attention_resolution: see `SelfAttentionOption`.
    """

    kind: Literal["resnet"] = "resnet"
    filters: Filters = 64

    generator_has_batch_norm: ClassVar[bool] = True

    # --- G ---------------------------------------------------------------------

    def _up_block(self, x, label, conditioning, num_classes: int, name: str):
        norm = conditioning.generator_norm
        shortcut = layers.UpSampling2D(2, name=f"{name}_shortcut_up")(x)
        shortcut = layers.Conv2D(self.filters, 1, name=f"{name}_shortcut_conv")(shortcut)
        x = norm(x, label, num_classes, f"{name}_bn_0")
        x = layers.ReLU(name=f"{name}_relu_0")(x)
        x = layers.UpSampling2D(2, name=f"{name}_up")(x)
        # No bias before BatchNorm: its offset (or beta(y)) does its job.
        x = layers.Conv2D(self.filters, 3, padding="same", use_bias=False, name=f"{name}_conv_0")(x)
        x = norm(x, label, num_classes, f"{name}_bn_1")
        x = layers.ReLU(name=f"{name}_relu_1")(x)
        x = layers.Conv2D(self.filters, 3, padding="same", name=f"{name}_conv_1")(x)
        return layers.Add(name=f"{name}_add")([shortcut, x])

    def build_generator(
        self, image_shape: tuple[int, int, int], conditioning: Conditioning, num_classes: int
    ) -> keras_types.Model:
        self.check_attention(image_shape)
        start, doublings = start_size(image_shape, self.kind)
        z, inputs, label = generator_inputs(self.latent_dim, conditioning)
        x = conditioning.generator_entry(z, label, num_classes)
        # A bias here, unlike DCGAN's: the first block's shortcut reads this
        # map without a BatchNorm in between.
        x = layers.Dense(start * start * self.filters, name="project")(x)
        x = layers.Reshape((start, start, self.filters), name="reshape")(x)
        x = self.attend(x)
        for i in range(doublings):
            x = self._up_block(x, label, conditioning, num_classes, f"up_{i}")
            x = self.attend(x)
        x = conditioning.generator_norm(x, label, num_classes, "output_bn")
        x = layers.ReLU(name="output_relu")(x)
        output = layers.Conv2D(image_shape[-1], 3, padding="same", activation="tanh", name="image")
        images = output(x)
        return functional_model(inputs, images, "generator")

    # --- D ---------------------------------------------------------------------

    def _down_block(self, x, wrap, name: str, first: bool):
        def conv(size: int, suffix: str):
            return wrap(layers.Conv2D(self.filters, size, padding="same", name=f"{name}_{suffix}"))

        def pool(suffix: str):
            return layers.AveragePooling2D(2, name=f"{name}_{suffix}")

        if first:
            # SNGAN's optimised block: the image itself goes through no ReLU,
            # and the shortcut pools before its convolution (cheaper, same map).
            shortcut = conv(1, "shortcut_conv")(pool("shortcut_pool")(x))
            h = conv(3, "conv_0")(x)
        else:
            shortcut = pool("shortcut_pool")(conv(1, "shortcut_conv")(x))
            h = conv(3, "conv_0")(layers.ReLU(name=f"{name}_relu_0")(x))
        h = conv(3, "conv_1")(layers.ReLU(name=f"{name}_relu_1")(h))
        h = pool("pool")(h)
        return layers.Add(name=f"{name}_add")([shortcut, h])

    def build_discriminator(
        self,
        image_shape: tuple[int, int, int],
        conditioning: Conditioning,
        num_classes: int,
        wrap: LayerWrap = unwrapped,
    ) -> keras_types.Model:
        self.check_attention(image_shape)
        _, doublings = start_size(image_shape, self.kind)
        images, inputs, label = discriminator_inputs(image_shape, conditioning)
        x = conditioning.discriminator_input(images, label, num_classes)
        for i in range(doublings):
            x = self._down_block(x, wrap, f"down_{i}", first=i == 0)
            x = self.attend(x)
        x = layers.ReLU(name="features_relu")(x)
        # Global sum pooling, as SNGAN's: the mean times the number of positions.
        height, width = x.shape[1:3]
        x = layers.GlobalAveragePooling2D(name="features_mean")(x)
        x = layers.Rescaling(float(height * width), name="features_sum")(x)
        outputs = conditioning.discriminator_output(x, label, num_classes, wrap)
        return functional_model(inputs, outputs, "discriminator")
