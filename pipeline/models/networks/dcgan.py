"""The convolutional networks of DCGAN (Radford et al. 2015), optionally with self-attention."""

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
from pipeline.models.networks.layout import normal_weights, start_size
from pipeline.schema import Filters, Rate

if TYPE_CHECKING:
    import keras as keras_types

# A kernel divisible by the stride avoids the checkerboard artefacts of
# transposed convolutions (Odena et al. 2016).
KERNEL_SIZE = 4

Norm = Literal["batch", "layer", "none"]


def dcgan_start_size(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """G's starting square and its number of stride-2 layers (7, 2 for 28x28; 4, 3 for 32x32).

    Raises:
        ValueError: "dcgan networks ..." when no start size doubles to the image.
    """
    return start_size(image_shape, "dcgan")


def _normalization(norm: Norm, name: str):
    """The normalisation layer `norm` names, or None for "none"."""
    if norm == "batch":
        return layers.BatchNormalization(name=name)
    if norm == "layer":
        # Over each example's whole feature map (H, W, C), as the WGAN-GP
        # critic does: no statistics shared across the batch, so a gradient
        # penalty stays per example.
        return layers.LayerNormalization(axis=[1, 2, 3], name=name)
    return None


class DCGAN(SelfAttentionOption):
    """Stride-2 (transposed) convolutions, no pooling, N(0, 0.02) weights.

    G: Dense -> Reshape -> stride-2 transposed convolutions -> tanh; for
    28x28, 7x7x(2*filters) -> 14x14xfilters -> 28x28xchannels; for 32x32,
    4x4x(4*filters) -> ... -> 32x32. Every layer but the output has
    BatchNorm (conditional, if the conditioning asks) and ReLU.

    D mirrors it: stride-2 convolutions of filters, 2*filters, ...
    (28 -> 14 -> 7; 32 -> 16 -> 8 -> 4), LeakyReLU, then Flatten and the
    conditioning's output layer.

    Attributes:
        filters: channels of G's last hidden layer and D's first; each layer
            nearer the small end has twice as many.
        discriminator_norm: after every D convolution but the first: "batch"
            (DCGAN), "layer" (a gradient-penalty critic, which must not mix
            examples through batch statistics) or "none".
        leaky_relu_slope: negative slope of D's activations.
        attention_resolution: see `SelfAttentionOption`.
    """

    kind: Literal["dcgan"] = "dcgan"
    filters: Filters = 64
    discriminator_norm: Norm = "batch"
    leaky_relu_slope: Rate = 0.2

    generator_has_batch_norm: ClassVar[bool] = True

    def discriminator_mixes_batch(self) -> bool:
        return self.discriminator_norm == "batch"

    def build_generator(
        self, image_shape: tuple[int, int, int], conditioning: Conditioning, num_classes: int
    ) -> keras_types.Model:
        self.check_attention(image_shape)
        start, doublings = dcgan_start_size(image_shape)
        channels = self.filters * 2 ** (doublings - 1)
        z, inputs, label = generator_inputs(self.latent_dim, conditioning)
        x = conditioning.generator_entry(z, label, num_classes)
        # No biases before BatchNorm: its offset does their job.
        x = layers.Dense(
            start * start * channels,
            use_bias=False,
            kernel_initializer=normal_weights(),
            name="project",
        )(x)
        # Reshape first, so BatchNorm keeps one mean and variance per channel,
        # as on the convolutional layers that follow.
        x = layers.Reshape((start, start, channels), name="reshape")(x)
        x = conditioning.generator_norm(x, label, num_classes, "project_bn")
        x = layers.ReLU(name="project_relu")(x)
        x = self.attend(x)
        for i in range(doublings - 1):
            channels //= 2
            x = layers.Conv2DTranspose(
                channels,
                KERNEL_SIZE,
                strides=2,
                padding="same",
                use_bias=False,
                kernel_initializer=normal_weights(),
                name=f"deconv_{i}",
            )(x)
            x = conditioning.generator_norm(x, label, num_classes, f"deconv_{i}_bn")
            x = layers.ReLU(name=f"deconv_{i}_relu")(x)
            x = self.attend(x)
        images = layers.Conv2DTranspose(
            image_shape[-1],
            KERNEL_SIZE,
            strides=2,
            padding="same",
            activation="tanh",
            kernel_initializer=normal_weights(),
            name="image",
        )(x)
        return functional_model(inputs, images, "generator")

    def build_discriminator(
        self,
        image_shape: tuple[int, int, int],
        conditioning: Conditioning,
        num_classes: int,
        wrap: LayerWrap = unwrapped,
    ) -> keras_types.Model:
        self.check_attention(image_shape)
        _, doublings = dcgan_start_size(image_shape)
        images, inputs, label = discriminator_inputs(image_shape, conditioning)
        x = conditioning.discriminator_input(images, label, num_classes)
        for i in range(doublings):
            # The paper puts no normalisation on D's input layer.
            norm = _normalization(self.discriminator_norm, f"conv_{i}_norm") if i > 0 else None
            x = wrap(
                layers.Conv2D(
                    self.filters * 2**i,
                    KERNEL_SIZE,
                    strides=2,
                    padding="same",
                    use_bias=norm is None,
                    kernel_initializer=normal_weights(),
                    name=f"conv_{i}",
                )
            )(x)
            if norm is not None:
                x = norm(x)
            x = layers.LeakyReLU(negative_slope=self.leaky_relu_slope, name=f"conv_{i}_act")(x)
            x = self.attend(x)
        x = layers.Flatten(name="flatten")(x)
        outputs = conditioning.discriminator_output(
            x, label, num_classes, wrap, initializer=normal_weights
        )
        return functional_model(inputs, outputs, "discriminator")
