"""CoGAN's networks (Liu & Tuzel 2016): two DCGAN-like pairs that share layers.

The generators share their first layers (the high-level structure of an
image, decoded from z) and differ in the last (how it is rendered in each
domain); the discriminators differ in the first (each domain's low-level
features) and share the rest. Sharing is literal: the same layer objects are
called in both functional models, so one weight update moves both, and each
model is still a plain functional model of stock layers that saves and
reloads on its own, with no project code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from pipeline.lazy import keras, layers
from pipeline.models.networks.dcgan import KERNEL_SIZE, dcgan_start_size
from pipeline.models.networks.layout import normal_weights

if TYPE_CHECKING:
    import keras as keras_types

LEAKY_SLOPE = 0.2  # DCGAN's


class CoupledPair(NamedTuple):
    """Both domains' generators and discriminators (index 0: the first domain)."""

    generators: tuple[keras_types.Model, keras_types.Model]
    discriminators: tuple[keras_types.Model, keras_types.Model]


def coupled_size(
    first_shape: tuple[int, int, int], second_shape: tuple[int, int, int]
) -> tuple[int, int]:
    """The generators' start square and doublings; both domains must have one image size.

    Raises:
        ValueError: the sizes differ, or DCGAN's ladder does not reach them.
    """
    if tuple(first_shape[:2]) != tuple(second_shape[:2]):
        raise ValueError(
            f"coupled networks need one image size in both domains, got "
            f"{first_shape[0]}x{first_shape[1]} and {second_shape[0]}x{second_shape[1]}"
        )
    return dcgan_start_size(first_shape)


def build_coupled_pair(
    first_shape: tuple[int, int, int],
    second_shape: tuple[int, int, int],
    filters: int,
    latent_dim: int,
) -> CoupledPair:
    """The two generators and two discriminators, with their shared layers.

    G: Dense -> BatchNorm -> ReLU -> stride-2 transposed convolutions, shared;
    then each domain's own stride-2 transposed convolution to its channels,
    tanh (for 28x28: 7x7x2f -> 14x14xf shared -> 28x28xC). D: each domain's own
    stride-2 convolution and LeakyReLU; then shared convolutions (BatchNorm,
    LeakyReLU), Flatten and Dense(1), a raw score.
    """
    start, doublings = coupled_size(first_shape, second_shape)
    shared_g = _shared_generator_layers(start, doublings, filters)
    shared_d = _shared_discriminator_layers(doublings, filters)
    generators, discriminators = [], []
    for index, shape in enumerate((first_shape, second_shape), start=1):
        z = keras.Input(shape=(latent_dim,), name="z")
        x = z
        for layer in shared_g:
            x = layer(x)
        images = layers.Conv2DTranspose(
            shape[-1],
            KERNEL_SIZE,
            strides=2,
            padding="same",
            activation="tanh",
            kernel_initializer=normal_weights(),
            name=f"image_{index}",
        )(x)
        generators.append(keras.Model(z, images, name=f"generator_{index}"))

        image = keras.Input(shape=tuple(shape), name="image")
        x = layers.Conv2D(
            filters,
            KERNEL_SIZE,
            strides=2,
            padding="same",
            kernel_initializer=normal_weights(),
            name=f"conv_0_{index}",
        )(image)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"conv_0_{index}_act")(x)
        for layer in shared_d:
            x = layer(x)
        discriminators.append(keras.Model(image, x, name=f"discriminator_{index}"))
    return CoupledPair(tuple(generators), tuple(discriminators))  # type: ignore[arg-type]


def _shared_generator_layers(start: int, doublings: int, filters: int) -> list:
    """The generators' common first layers: z to the last hidden feature map."""
    channels = filters * 2 ** (doublings - 1)
    shared = [
        # No biases before BatchNorm: its offset does their job.
        layers.Dense(
            start * start * channels,
            use_bias=False,
            kernel_initializer=normal_weights(),
            name="project",
        ),
        layers.Reshape((start, start, channels), name="reshape"),
        layers.BatchNormalization(name="project_bn"),
        layers.ReLU(name="project_relu"),
    ]
    for i in range(doublings - 1):
        channels //= 2
        shared += [
            layers.Conv2DTranspose(
                channels,
                KERNEL_SIZE,
                strides=2,
                padding="same",
                use_bias=False,
                kernel_initializer=normal_weights(),
                name=f"deconv_{i}",
            ),
            layers.BatchNormalization(name=f"deconv_{i}_bn"),
            layers.ReLU(name=f"deconv_{i}_relu"),
        ]
    return shared


def _shared_discriminator_layers(doublings: int, filters: int) -> list:
    """The discriminators' common last layers: the first feature map to one score."""
    shared = []
    for i in range(1, doublings):
        shared += [
            layers.Conv2D(
                filters * 2**i,
                KERNEL_SIZE,
                strides=2,
                padding="same",
                use_bias=False,
                kernel_initializer=normal_weights(),
                name=f"conv_{i}",
            ),
            layers.BatchNormalization(name=f"conv_{i}_norm"),
            layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"conv_{i}_act"),
        ]
    shared += [
        layers.Flatten(name="flatten"),
        layers.Dense(1, kernel_initializer=normal_weights(), name="score"),
    ]
    return shared
