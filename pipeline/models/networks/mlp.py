"""The fully connected networks of the seed material."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pipeline.lazy import layers
from pipeline.models.conditioning.base import Conditioning, LayerWrap
from pipeline.models.networks.base import (
    Network,
    discriminator_inputs,
    functional_model,
    generator_inputs,
    unwrapped,
)
from pipeline.schema import Rate, Units

if TYPE_CHECKING:
    import keras as keras_types


class MLP(Network):
    """G: z -> 256 -> 512 -> image, tanh out. D: image -> 512 -> 256 -> one linear output.

    Hidden layers are Dense + LeakyReLU (and dropout in D); Keras' default
    Glorot-uniform weights. No BatchNorm, so conditional BatchNorm does not
    apply (`generator_input: concat` only).

    Attributes:
        generator_units: widths of G's hidden layers, z side first.
        discriminator_units: widths of D's hidden layers, image side first.
        dropout: dropout rate after each of D's hidden layers (0 turns it off).
        leaky_relu_slope: negative slope of every hidden activation.
    """

    kind: Literal["mlp"] = "mlp"
    generator_units: Units = [256, 512]
    discriminator_units: Units = [512, 256]
    dropout: Rate = 0.3
    leaky_relu_slope: Rate = 0.2

    def build_generator(
        self, image_shape: tuple[int, int, int], conditioning: Conditioning, num_classes: int
    ) -> keras_types.Model:
        z, inputs, label = generator_inputs(self.latent_dim, conditioning)
        x = conditioning.generator_entry(z, label, num_classes)
        for i, width in enumerate(self.generator_units):
            x = layers.Dense(width, name=f"dense_{i}")(x)
            x = layers.LeakyReLU(negative_slope=self.leaky_relu_slope, name=f"act_{i}")(x)
        x = layers.Dense(math.prod(image_shape), activation="tanh", name="pixels")(x)
        images = layers.Reshape(image_shape, name="image")(x)
        return functional_model(inputs, images, "generator")

    def build_discriminator(
        self,
        image_shape: tuple[int, int, int],
        conditioning: Conditioning,
        num_classes: int,
        wrap: LayerWrap = unwrapped,
    ) -> keras_types.Model:
        images, inputs, label = discriminator_inputs(image_shape, conditioning)
        x = layers.Flatten(name="flatten")(images)
        x = conditioning.discriminator_input(x, label, num_classes)
        for i, width in enumerate(self.discriminator_units):
            x = wrap(layers.Dense(width, name=f"dense_{i}"))(x)
            x = layers.LeakyReLU(negative_slope=self.leaky_relu_slope, name=f"act_{i}")(x)
            if self.dropout:
                x = layers.Dropout(self.dropout, name=f"dropout_{i}")(x)
        outputs = conditioning.discriminator_output(x, label, num_classes, wrap)
        return functional_model(inputs, outputs, "discriminator")
