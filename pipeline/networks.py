"""Generator and discriminator networks, built with the functional API.

Two families, both optionally conditioned on a class label:

- `mlp`: the fully connected networks of the seed material.
- `dcgan`: the convolutional networks of Radford et al. 2015.

A conditional network takes the label as an int32 class index of shape `()`
(one per example) and turns it into a one-hot vector itself, as in Mirza &
Osindero 2014: concatenated to z in the generator, to the image (flattened for
the MLP, as extra channels for DCGAN) in the discriminator.

Only stock Keras layers are used, so a saved network reloads with
`keras.saving.load_model` and no project code.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import keras
from keras import layers

from pipeline.params import NetworkParams

Norm = Literal["batch", "layer", "none"]

# DCGAN convolutions: a kernel divisible by the stride avoids the checkerboard
# artefacts of transposed convolutions (Odena et al. 2016).
KERNEL_SIZE = 4
# The generator starts from a square at most this big, then doubles.
MAX_START_SIZE = 7


# --- conditioning ------------------------------------------------------------


def _inputs(
    first: keras.KerasTensor, num_classes: int
) -> tuple[list[keras.KerasTensor], keras.KerasTensor | None]:
    """The model's inputs, [first] or [first, label], and the label's one-hot (or None)."""
    if not num_classes:
        return [first], None
    label = keras.Input(shape=(), dtype="int32", name="label")
    one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(
        label
    )
    return [first, label], one_hot


def _model(inputs: list[keras.KerasTensor], outputs, name: str) -> keras.Model:
    # A single input is passed bare so an unconditional model is called as model(x).
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=name)


# --- MLP -----------------------------------------------------------------------


def mlp_generator(
    latent_dim: int,
    image_shape: tuple[int, int, int],
    units: list[int],
    leaky_relu_slope: float = 0.2,
    num_classes: int = 0,
) -> keras.Model:
    """The MLP generator of the seed material: z -> 256 -> 512 -> image, tanh out.

    Args:
        latent_dim: size of the latent vector z.
        image_shape: (height, width, channels) of the images to produce.
        units: widths of the hidden layers, input side first.
        leaky_relu_slope: negative slope of the hidden activations.
        num_classes: 0 for an unconditional generator; K > 0 adds a `label`
            input whose one-hot is concatenated to z.
    """
    z = keras.Input(shape=(latent_dim,), name="z")
    inputs, one_hot = _inputs(z, num_classes)
    x = z if one_hot is None else layers.Concatenate(name="z_label")([z, one_hot])
    for i, width in enumerate(units):
        x = layers.Dense(width, name=f"dense_{i}")(x)
        x = layers.LeakyReLU(negative_slope=leaky_relu_slope, name=f"act_{i}")(x)
    x = layers.Dense(math.prod(image_shape), activation="tanh", name="pixels")(x)
    images = layers.Reshape(image_shape, name="image")(x)
    return _model(inputs, images, "generator")


def mlp_discriminator(
    image_shape: tuple[int, int, int],
    units: list[int],
    leaky_relu_slope: float = 0.2,
    dropout: float = 0.0,
    num_classes: int = 0,
) -> keras.Model:
    """The MLP discriminator: image -> 512 -> 256 -> one linear output.

    Args:
        image_shape: (height, width, channels) of the input images.
        units: widths of the hidden layers, input side first.
        leaky_relu_slope: negative slope of the hidden activations.
        dropout: dropout rate after each hidden layer (0 turns it off).
        num_classes: 0 for an unconditional discriminator; K > 0 adds a
            `label` input whose one-hot is concatenated to the flattened image.
    """
    images = keras.Input(shape=image_shape, name="image")
    inputs, one_hot = _inputs(images, num_classes)
    x = layers.Flatten(name="flatten")(images)
    if one_hot is not None:
        x = layers.Concatenate(name="pixels_label")([x, one_hot])
    for i, width in enumerate(units):
        x = layers.Dense(width, name=f"dense_{i}")(x)
        x = layers.LeakyReLU(negative_slope=leaky_relu_slope, name=f"act_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    logit = layers.Dense(1, name="logit")(x)
    return _model(inputs, logit, "discriminator")


# --- DCGAN ---------------------------------------------------------------------


def dcgan_start_size(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """The generator's starting square and how many times it doubles to reach the image.

    The start is the largest size up to 7 that doubles to the image height
    exactly: 7 for 28x28 (7 -> 14 -> 28), 4 for 32x32 (4 -> 8 -> 16 -> 32).

    Args:
        image_shape: (height, width, channels); height and width must match.

    Returns:
        (start size, number of stride-2 layers).

    Raises:
        ValueError: the image is not square, or no start size doubles to it.
    """
    height, width = image_shape[:2]
    if height != width:
        raise ValueError(f"dcgan networks need square images, got {height}x{width}")
    size, doublings = height, 0
    while size > MAX_START_SIZE and size % 2 == 0:
        size, doublings = size // 2, doublings + 1
    if size > MAX_START_SIZE or doublings == 0:
        raise ValueError(
            f"dcgan networks cannot make {height}x{width} images: the size must be "
            f"s * 2**n with s <= {MAX_START_SIZE} and n >= 1 (e.g. 28 = 7 * 4, 32 = 4 * 8)"
        )
    return size, doublings


def _weights() -> keras.initializers.Initializer:
    # N(0, 0.02) as in the paper. A fresh instance per layer: an unseeded
    # Keras initializer fixes its seed when created, so a shared one would
    # give every layer of the same shape the same weights.
    return keras.initializers.RandomNormal(stddev=0.02)


def _normalization(norm: Norm, name: str) -> layers.Layer | None:
    """The normalisation layer `norm` names, or None for "none"."""
    if norm == "batch":
        return layers.BatchNormalization(name=name)
    if norm == "layer":
        # Over each example's whole feature map (H, W, C), as the WGAN-GP
        # critic does: no statistics shared across the batch, so the gradient
        # penalty stays per example.
        return layers.LayerNormalization(axis=[1, 2, 3], name=name)
    return None


def dcgan_generator(
    latent_dim: int,
    image_shape: tuple[int, int, int],
    filters: int = 64,
    num_classes: int = 0,
) -> keras.Model:
    """The DCGAN generator: Dense -> Reshape -> stride-2 transposed convolutions, tanh out.

    It mirrors `dcgan_discriminator`: for 28x28 it goes 7x7x(2*filters) ->
    14x14xfilters -> 28x28xchannels; for 32x32, 4x4x(4*filters) -> ... -> 32x32.
    Every layer but the output has BatchNorm and ReLU.

    Args:
        latent_dim: size of the latent vector z.
        image_shape: (height, width, channels) of the images to produce.
        filters: channels of the layer before the output; each layer closer
            to z has twice as many.
        num_classes: 0 for an unconditional generator; K > 0 adds a `label`
            input whose one-hot is concatenated to z.
    """
    start, doublings = dcgan_start_size(image_shape)
    channels = filters * 2 ** (doublings - 1)
    z = keras.Input(shape=(latent_dim,), name="z")
    inputs, one_hot = _inputs(z, num_classes)
    x = z if one_hot is None else layers.Concatenate(name="z_label")([z, one_hot])
    # No biases before BatchNorm: its offset does their job.
    x = layers.Dense(
        start * start * channels, use_bias=False, kernel_initializer=_weights(), name="project"
    )(x)
    # Reshape first, so BatchNorm keeps one mean and variance per channel,
    # as on the convolutional layers that follow.
    x = layers.Reshape((start, start, channels), name="reshape")(x)
    x = layers.BatchNormalization(name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    for i in range(doublings - 1):
        channels //= 2
        x = layers.Conv2DTranspose(
            channels,
            KERNEL_SIZE,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=_weights(),
            name=f"deconv_{i}",
        )(x)
        x = layers.BatchNormalization(name=f"deconv_{i}_bn")(x)
        x = layers.ReLU(name=f"deconv_{i}_relu")(x)
    images = layers.Conv2DTranspose(
        image_shape[-1],
        KERNEL_SIZE,
        strides=2,
        padding="same",
        activation="tanh",
        kernel_initializer=_weights(),
        name="image",
    )(x)
    return _model(inputs, images, "generator")


def dcgan_discriminator(
    image_shape: tuple[int, int, int],
    filters: int = 64,
    leaky_relu_slope: float = 0.2,
    num_classes: int = 0,
    norm: Norm = "batch",
) -> keras.Model:
    """The DCGAN discriminator: stride-2 convolutions, LeakyReLU, no pooling, one linear output.

    For 28x28: filters, 2*filters (28 -> 14 -> 7); for 32x32: filters,
    2*filters, 4*filters (32 -> 16 -> 8 -> 4). Then Flatten -> Dense(1).

    Args:
        image_shape: (height, width, channels) of the input images.
        filters: channels of the first convolution; each next one doubles.
        leaky_relu_slope: negative slope of the activations.
        num_classes: 0 for an unconditional discriminator; K > 0 adds a
            `label` input whose one-hot is tiled to H x W x K and
            concatenated to the image as extra channels.
        norm: normalisation after every convolution but the first:
            "batch" (DCGAN), "layer" (a WGAN-GP critic, which must not mix
            examples through batch statistics) or "none".
    """
    _, doublings = dcgan_start_size(image_shape)
    if norm not in get_args(Norm):
        raise ValueError(f"discriminator_norm must be one of {get_args(Norm)}, got {norm!r}")
    height, width = image_shape[:2]
    images = keras.Input(shape=image_shape, name="image")
    inputs, one_hot = _inputs(images, num_classes)
    x = images
    if one_hot is not None:
        # Nearest upsampling of a 1x1 map is an exact tile.
        planes = layers.Reshape((1, 1, num_classes), name="label_planes")(one_hot)
        planes = layers.UpSampling2D((height, width), name="label_tiled")(planes)
        x = layers.Concatenate(name="image_label")([x, planes])
    for i in range(doublings):
        # The paper puts no normalisation on D's input layer.
        norm_layer = _normalization(norm, f"conv_{i}_norm") if i > 0 else None
        x = layers.Conv2D(
            filters * 2**i,
            KERNEL_SIZE,
            strides=2,
            padding="same",
            use_bias=norm_layer is None,
            kernel_initializer=_weights(),
            name=f"conv_{i}",
        )(x)
        if norm_layer is not None:
            x = norm_layer(x)
        x = layers.LeakyReLU(negative_slope=leaky_relu_slope, name=f"conv_{i}_act")(x)
    x = layers.Flatten(name="flatten")(x)
    logit = layers.Dense(1, kernel_initializer=_weights(), name="logit")(x)
    return _model(inputs, logit, "discriminator")


# --- both ----------------------------------------------------------------------


def build_networks(
    params: NetworkParams,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    discriminator_norm: Norm = "batch",
) -> tuple[keras.Model, keras.Model]:
    """Build the (generator, discriminator) pair that `params.kind` names.

    Args:
        params: the `network` section of a model's parameters.
        image_shape: (height, width, channels) of the images.
        num_classes: 0 for unconditional networks; K > 0 gives both networks
            a second input `label` (int32 class index, shape `()`), so the
            generator is called as G([z, label]) and the discriminator as
            D([image, label]).
        discriminator_norm: normalisation in the dcgan discriminator:
            "batch", "layer" (for a gradient-penalty critic) or "none". The
            mlp discriminator has none and ignores it.

    Returns:
        (generator, discriminator). The generator outputs `image_shape`
        images in [-1, 1]; the discriminator one linear unit per example (a
        logit, or a critic score for WGAN).
    """
    if num_classes < 0:
        raise ValueError(f"num_classes must be 0 (unconditional) or positive, got {num_classes}")
    image_shape = tuple(image_shape)
    if params.kind == "mlp":
        generator = mlp_generator(
            params.latent_dim,
            image_shape,
            params.generator_units,
            params.leaky_relu_slope,
            num_classes,
        )
        discriminator = mlp_discriminator(
            image_shape,
            params.discriminator_units,
            params.leaky_relu_slope,
            params.dropout,
            num_classes,
        )
        return generator, discriminator
    if params.kind == "dcgan":
        generator = dcgan_generator(params.latent_dim, image_shape, params.filters, num_classes)
        discriminator = dcgan_discriminator(
            image_shape, params.filters, params.leaky_relu_slope, num_classes, discriminator_norm
        )
        return generator, discriminator
    raise ValueError(f"unknown network kind {params.kind!r}")
