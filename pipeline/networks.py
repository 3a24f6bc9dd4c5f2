"""Generator and discriminator networks, built with the functional API.

Only stock Keras layers are used, so a saved generator reloads with
`keras.saving.load_model` and no project code.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from pipeline.params import NetworkParams


def mlp_generator(
    latent_dim: int,
    image_shape: tuple[int, int, int],
    units: list[int],
    leaky_relu_slope: float = 0.2,
) -> keras.Model:
    """The MLP generator of the seed material: z -> 256 -> 512 -> image, tanh out.

    Args:
        latent_dim: size of the latent vector z.
        image_shape: (height, width, channels) of the images to produce.
        units: widths of the hidden layers, input side first.
        leaky_relu_slope: negative slope of the hidden activations.
    """
    z = keras.Input(shape=(latent_dim,), name="z")
    x = z
    for i, width in enumerate(units):
        x = layers.Dense(width, name=f"dense_{i}")(x)
        x = layers.LeakyReLU(negative_slope=leaky_relu_slope, name=f"act_{i}")(x)
    x = layers.Dense(math.prod(image_shape), activation="tanh", name="pixels")(x)
    images = layers.Reshape(image_shape, name="image")(x)
    return keras.Model(z, images, name="generator")


def mlp_discriminator(
    image_shape: tuple[int, int, int],
    units: list[int],
    leaky_relu_slope: float = 0.2,
    dropout: float = 0.0,
) -> keras.Model:
    """The MLP discriminator: image -> 512 -> 256 -> one logit.

    Args:
        image_shape: (height, width, channels) of the input images.
        units: widths of the hidden layers, input side first.
        leaky_relu_slope: negative slope of the hidden activations.
        dropout: dropout rate after each hidden layer (0 turns it off).
    """
    images = keras.Input(shape=image_shape, name="image")
    x = layers.Flatten(name="flatten")(images)
    for i, width in enumerate(units):
        x = layers.Dense(width, name=f"dense_{i}")(x)
        x = layers.LeakyReLU(negative_slope=leaky_relu_slope, name=f"act_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    logit = layers.Dense(1, name="logit")(x)
    return keras.Model(images, logit, name="discriminator")


def build_networks(
    params: NetworkParams, image_shape: tuple[int, int, int]
) -> tuple[keras.Model, keras.Model]:
    """Build the (generator, discriminator) pair that `params.kind` names."""
    if params.kind == "mlp":
        generator = mlp_generator(
            params.latent_dim, image_shape, params.generator_units, params.leaky_relu_slope
        )
        discriminator = mlp_discriminator(
            image_shape, params.discriminator_units, params.leaky_relu_slope, params.dropout
        )
        return generator, discriminator
    raise ValueError(f"unknown network kind {params.kind!r}")
