"""A small StyleGAN (Karras et al. 2019, 2020), made of stock Keras layers and `keras.ops`.

G is three functional models, the first two nested in the third, as in the
papers' code (G.mapping, G.synthesis):

- `mapping`: z (with the label, joined by the conditioning) -> pixel norm ->
  `mapping_layers` x (Dense, leaky ReLU) of width `w_dim` -> w. Its weights
  learn at `mapping_lr_multiplier` (0.01) of the rate, as the papers'
  (the multiplier reaches the kernels, not the biases).
- `synthesis`: ws, one w per style layer (`style_layers`), and with `noise`
  one noise map per 3x3 convolution -> image. StyleGAN2's: a learned
  constant at the start square; per resolution, (bilinear upsampling,)
  modulated 3x3 convolutions with demodulation, each followed by its
  noise map scaled per channel, a bias and a leaky ReLU (times sqrt 2);
  a modulated 1x1 toRGB at every resolution, without demodulation, summed
  into the upsampled image from below (the "skip" generator); tanh.
- `generator`, the one the pipeline trains, saves and samples: z (and the
  label) -> mapping -> `w_truncation` -> the same w for every style layer,
  and zero noise maps -> synthesis. `w_truncation` is a frozen Dense,
  the identity while training; `pipeline.truncation` sets it to
  w_avg + psi (w - w_avg), StyleGAN's truncation in w.

Training runs G differently (`training_call`): style mixing (with
probability `style_mixing` an image takes a second z's w from a random
crossover layer on, drawn per image where the papers draw one per batch)
and fresh noise maps, both from the model's seeded generator, so a run is
still a function of its seed and resumes exactly. The saved generator draws
no noise (StyleGAN2's noise_mode "none"), so an image is a function of its
z alone and `pipeline.generate` of its seed.

A modulated convolution is StyleGAN2's non-fused form: the input scaled by
the style s (an affine map of w, starting at 1), convolved with the
weights, the output scaled by d = 1 / sqrt(sum over (kh, kw, in) of
(s w)^2 + 1e-8). Its weights are a learned tensor (a bias-free Dense from
a constant 1, reshaped) rather than a Conv2D's kernel, so that d, a
function of the weights, is part of the graph: the layers stay stock and
the generator reloads with Keras alone (tests/test_stylegan.py).

D is StyleGAN2's residual discriminator: fromRGB at the image, per halving
(Conv3x3, LReLU) x 2 -> AvgPool added to AvgPool -> 1x1 Conv (no bias) of
the block's input, times 1/sqrt 2; then the head ProGAN's D has too
(minibatch std, Conv, Dense). Every weight layer of both networks is
equalised (`equalised.py`). The papers' FIR up- and downsampling filters
are bilinear upsampling and average pooling here; path-length
regularisation is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from pipeline.lazy import keras, layers, ops
from pipeline.models.conditioning.base import Conditioning, LayerWrap
from pipeline.models.networks.base import (
    LatentDim,
    functional_model,
    generator_inputs,
    unwrapped,
)
from pipeline.models.networks.equalised import (
    LINEAR_GAIN,
    RELU_GAIN,
    EqualisedNetwork,
    pixel_norm,
)
from pipeline.models.networks.layout import start_size
from pipeline.w_space import MAPPING, W_TRUNCATION

if TYPE_CHECKING:
    import keras as keras_types

SYNTHESIS = "synthesis"
# Inside demodulation's square root, the paper's.
DEMODULATION_EPSILON = 1e-8

MappingLayers = Annotated[int, Field(gt=0, le=16)]
Multiplier = Annotated[float, Field(gt=0, le=1)]
Probability = Annotated[float, Field(ge=0, le=1)]


def mixed_styles(w, w_other, crossover, style_layers: int):
    """ws of shape (batch, style_layers, w_dim): each image's `w` before its crossover
    layer and `w_other` from it on.

    Args:
        w, w_other: (batch, w_dim).
        crossover: (batch, 1) int32, the first layer given `w_other`;
            `style_layers` for an image that is not mixed.
        style_layers: how many ws the synthesis network takes.
    """
    takes_other = ops.arange(style_layers)[None, :] >= crossover  # (batch, layers)
    return ops.where(takes_other[..., None], w_other[:, None, :], w[:, None, :])


def learned_tensor(reference, shape: tuple[int, ...], initializer, name: str):
    """A trainable tensor of `shape` in the graph: a bias-free Dense from a constant 1.

    `reference` is any 2-D tensor of the graph, (batch, features); the Dense
    runs on a single 1 taken from it, so it costs one row whatever the batch.
    """
    if len(reference.shape) != 2:
        raise ValueError(f"learned_tensor needs a 2-D reference, got shape {reference.shape}")
    one = ops.ones_like(reference[:1, :1])
    flat = layers.Dense(
        math.prod(shape), use_bias=False, kernel_initializer=initializer, name=name
    )(one)
    return layers.Reshape(shape, name=f"{name}_shape")(flat)[0]


class StyleGAN(EqualisedNetwork):
    """StyleGAN2's generator and residual discriminator, small (see the module docstring).

    For 28x28 at the defaults: w of 64 from a 4-layer mapping, the synthesis
    from a learned 7x7x128 constant through 14x14x64 to 28x28x32, 8 style
    layers (a 3x3 convolution and a toRGB at 7x7, two convolutions and a
    toRGB at 14 and 28).

    Attributes (besides `EqualisedNetwork`'s):
        latent_dim: size of z.
        w_dim: size of w.
        mapping_layers: Dense layers of the mapping network (the papers' 8).
        mapping_lr_multiplier: the mapping network's learning-rate multiplier.
        style_mixing: the share of training images that mix two ws.
        noise: per-layer noise inputs while training.
        demodulate: demodulate the 3x3 convolutions (StyleGAN2); off, an ablation.
    """

    kind: Literal["stylegan"] = "stylegan"
    latent_dim: LatentDim = 64
    w_dim: LatentDim = 64
    mapping_layers: MappingLayers = 4
    mapping_lr_multiplier: Multiplier = 0.01
    style_mixing: Probability = 0.9
    noise: bool = True
    demodulate: bool = True

    def conditioning_conflict(self, conditioning: Conditioning) -> str | None:
        if conditioning.kind == "info":
            return (
                "conditioning.kind = 'info' with network.kind = 'stylegan': style mixing "
                "would mix InfoGAN's codes between images (allowed: none, concat, "
                "projection, acgan)"
            )
        return super().conditioning_conflict(conditioning)

    def style_layers(self, image_shape: tuple[int, int, int]) -> int:
        """How many ws the synthesis network takes: 2 at the start square, 3 per doubling."""
        return 2 + 3 * (self.levels(image_shape) - 1)

    def noise_sizes(self, image_shape: tuple[int, int, int]) -> list[int]:
        """The side of each 3x3 convolution's noise map, in order."""
        start, doublings = start_size(image_shape, self.kind)
        return [start] + [start * 2**i for i in range(1, doublings + 1) for _ in range(2)]

    # --- G -----------------------------------------------------------------------

    def build_generator(
        self, image_shape: tuple[int, int, int], conditioning: Conditioning, num_classes: int
    ) -> keras_types.Model:
        mapping = self.build_mapping(conditioning, num_classes)
        synthesis = self.build_synthesis(image_shape)
        _, inputs, _ = generator_inputs(self.latent_dim, conditioning)
        w = mapping(inputs if len(inputs) > 1 else inputs[0])
        w = layers.Dense(
            self.w_dim, trainable=False, kernel_initializer="identity", name=W_TRUNCATION
        )(w)
        ws = layers.RepeatVector(self.style_layers(image_shape), name="broadcast_w")(w)
        if not self.noise:
            return functional_model(inputs, synthesis(ws), "generator")
        zero = layers.Reshape((1, 1, 1), name="zero")(ops.zeros_like(w[:, :1]))
        noise = [
            layers.UpSampling2D(size, name=f"zero_noise_{j}")(zero)
            for j, size in enumerate(self.noise_sizes(image_shape))
        ]
        return functional_model(inputs, synthesis([ws, *noise]), "generator")

    def build_mapping(self, conditioning: Conditioning, num_classes: int) -> keras_types.Model:
        """z (and the label) -> w."""
        z, inputs, label = generator_inputs(self.latent_dim, conditioning)
        x = pixel_norm(conditioning.generator_entry(z, label, num_classes), "latent_norm")
        for i in range(self.mapping_layers):
            name = f"mapping_{i}"
            x = self.dense(x, self.w_dim, name, lr_multiplier=self.mapping_lr_multiplier)
            x = self.act(x, name)
        return functional_model(inputs, x, MAPPING)

    def build_synthesis(self, image_shape: tuple[int, int, int]) -> keras_types.Model:
        """ws (and noise maps) -> images in [-1, 1]."""
        start, _ = start_size(image_shape, self.kind)
        levels = self.levels(image_shape)
        ws = keras.Input((self.style_layers(image_shape), self.w_dim), name="ws")
        noise = [
            keras.Input((size, size, 1), name=f"noise_{j}")
            for j, size in enumerate(self.noise_sizes(image_shape) if self.noise else [])
        ]
        styles = iter(range(self.style_layers(image_shape)))
        maps = iter(noise)

        def style():
            return ws[:, next(styles)]

        channels = self.width(0, levels)
        x = learned_tensor(
            ws[:, 0], (start, start, channels), keras.initializers.RandomNormal(stddev=1.0), "const"
        )
        x = ops.ones_like(ws[:, :1, :1, None]) * x  # one per image
        x = self._styled_conv(x, style(), channels, next(maps, None), "block_0_conv")
        image = self._to_rgb(x, style(), image_shape[-1], "to_rgb_0")
        for i in range(1, levels):
            x = layers.UpSampling2D(2, interpolation="bilinear", name=f"block_{i}_up")(x)
            for j in range(2):
                name = f"block_{i}_conv_{j}"
                x = self._styled_conv(x, style(), self.width(i, levels), next(maps, None), name)
            image = layers.UpSampling2D(2, interpolation="bilinear", name=f"to_rgb_{i}_up")(image)
            rgb = self._to_rgb(x, style(), image_shape[-1], f"to_rgb_{i}")
            image = layers.Add(name=f"skip_{i}")([image, rgb])
        output = layers.Activation("tanh", name="image")(image)
        return functional_model([ws, *noise], output, SYNTHESIS)

    def _styled_conv(self, x, w, channels: int, noise, name: str):
        """Modulated 3x3 convolution, [noise], bias, leaky ReLU times sqrt 2."""
        x = self.modulated_conv(x, w, channels, 3, name, self.demodulate)
        if noise is not None:
            x = x + layers.Conv2D(
                channels, 1, use_bias=False, kernel_initializer="zeros", name=f"{name}_noise"
            )(noise)
        x = x + learned_tensor(w, (channels,), "zeros", f"{name}_bias")
        x = self.act(x, name)
        return layers.Rescaling(RELU_GAIN, name=f"{name}_gain")(x)

    def _to_rgb(self, x, w, channels: int, name: str):
        x = self.modulated_conv(x, w, channels, 1, name, demodulate=False)
        return x + learned_tensor(w, (channels,), "zeros", f"{name}_bias")

    def modulated_conv(self, x, w, channels: int, size: int, name: str, demodulate: bool):
        """StyleGAN2's modulated convolution, non-fused (see the module docstring)."""
        inputs = x.shape[-1]
        style = self.dense(
            w, inputs, f"{name}_affine", gain=LINEAR_GAIN, bias_initializer="ones"
        )  # (batch, in)
        scale = 1.0 / math.sqrt(size * size * inputs)
        kernel = learned_tensor(
            w, (size, size, inputs, channels), self.initializer(scale), f"{name}_weight"
        )
        if self.equalised_lr:
            kernel = kernel * scale
        # The layers' compute dtype (float16 under mixed precision); the demodulation's
        # sums of squares are taken in float32, as the paper's code does.
        x = ops.cast(x, kernel.dtype)
        x = x * layers.Reshape((1, 1, inputs), name=f"{name}_style")(style)
        x = ops.conv(x, kernel, padding="same")
        if not demodulate:
            return x
        squares = ops.sum(ops.square(ops.cast(kernel, "float32")), axis=(0, 1))  # (in, out)
        styles = ops.square(ops.cast(style, "float32"))
        gain = ops.cast(ops.rsqrt(ops.matmul(styles, squares) + DEMODULATION_EPSILON), x.dtype)
        return x * layers.Reshape((1, 1, channels), name=f"{name}_demodulation")(gain)

    # --- training ----------------------------------------------------------------

    def training_call(self, generator: keras_types.Model) -> Callable[[object, object], object]:
        """G in training: style mixing and fresh noise maps (see the module docstring)."""
        mapping = generator.get_layer(MAPPING)
        synthesis = generator.get_layer(SYNTHESIS)
        style_layers = synthesis.inputs[0].shape[1]
        sizes = [tensor.shape[1] for tensor in synthesis.inputs[1:]]
        mixing = self.style_mixing

        def call(inputs, seed):
            z = inputs[0] if isinstance(inputs, list | tuple) else inputs
            w = mapping(inputs, training=True)
            batch = ops.shape(z)[0]
            if mixing > 0 and style_layers > 1:
                other_z = keras.random.normal(ops.shape(z), seed=seed)
                other = [other_z, *inputs[1:]] if isinstance(inputs, list | tuple) else other_z
                w_other = mapping(other, training=True)
                crossover = keras.random.randint((batch, 1), 1, style_layers, seed=seed)
                mixes = keras.random.uniform((batch, 1), seed=seed) < mixing
                crossover = ops.where(mixes, crossover, style_layers)
                ws = mixed_styles(w, w_other, crossover, style_layers)
            else:
                ws = ops.repeat(w[:, None, :], style_layers, axis=1)
            noise = [keras.random.normal((batch, size, size, 1), seed=seed) for size in sizes]
            return synthesis([ws, *noise] if noise else ws, training=True)

        return call

    # --- D -----------------------------------------------------------------------

    def build_discriminator(
        self,
        image_shape: tuple[int, int, int],
        conditioning: Conditioning,
        num_classes: int,
        wrap: LayerWrap = unwrapped,
    ) -> keras_types.Model:
        entry = self.discriminator_entry(image_shape, conditioning, num_classes, wrap)
        levels, inputs, label, _, x = entry
        for i in range(levels - 1, 0, -1):
            name = f"block_{i}"
            skip = layers.AveragePooling2D(2, name=f"{name}_skip_down")(x)
            skip = self.conv(
                skip, self.width(i - 1, levels), 1, f"{name}_skip", gain=LINEAR_GAIN, wrap=wrap
            )
            x = self.discriminator_conv(x, self.width(i, levels), f"{name}_conv_0", wrap)
            x = self.discriminator_conv(x, self.width(i - 1, levels), f"{name}_conv_1", wrap)
            x = layers.AveragePooling2D(2, name=f"{name}_down")(x)
            x = layers.Add(name=f"{name}_residual")([x, skip])
            x = layers.Rescaling(1 / math.sqrt(2), name=f"{name}_residual_scale")(x)
        outputs = self.discriminator_head(x, label, conditioning, num_classes, levels, wrap)
        return functional_model(inputs, outputs, "discriminator")
