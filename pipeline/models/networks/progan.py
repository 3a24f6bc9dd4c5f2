"""Progressive growing of GANs (ProGAN, Karras et al. 2018), made of stock Keras layers.

The paper trains G and D at 4x4, then fades in a block of each at twice the
size, trains at that size, fades in the next, and so on to the image. Here
both networks are built whole from the start, on the doubling ladder of
`layout.start_size` (7, 14, 28 for 28x28; 4, 8, 16, 32 for 32x32), and the
growth is a blend whose weights follow the schedule, so their inputs and
outputs never change shape and the rest of the pipeline sees an ordinary
pair of networks:

- G has a toRGB at every resolution; each resolution's image is upsampled
  (nearest) to the full size and the output is their weighted sum, then
  tanh. At growth level t (`growth_level`) resolution i weighs
  max(0, 1 - |t - i|): during the fade into resolution j + 1 (t = j + a),
  (1 - a) x the upsampled image of j plus a x that of j + 1, as the paper's
  lerp of the two.
- D mirrors it: the image, average-pooled to every resolution, enters
  through that resolution's fromRGB, blended into the input of the block of
  that resolution with the features coming down from the block above; the
  features weigh clip(t - i, 0, 1) and the fromRGB path the rest.

A blend weight is the kernel of a non-trainable 1x1 `DepthwiseConv2D` on
each path (every channel times the weight), then `Add`; the model's step
sets the kernels from the number of images D has seen (`schedule`), so they
are model variables like any other: checkpointed, on both backends, and a
resumed run continues the fade exactly. Blocks above the current level
still run, with zero weight on their output, so their weights get zero
gradients until they are faded in (Adam leaves a weight with only zero
gradients where it is).

The paper's parts, each an option so an ablation can switch it off, are
`equalised.py`'s (shared with StyleGAN): pixel norm in G, the minibatch
standard deviation in D, the equalised learning rate everywhere.

The output is tanh of the blend, where the paper's is linear: every
generator here makes images in [-1, 1], and tanh commutes with the nearest
upsampling, so the blend still fades images, not their saturations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from pipeline.lazy import keras, layers, ops
from pipeline.models.conditioning.base import Conditioning, LayerWrap
from pipeline.models.networks.base import (
    functional_model,
    generator_inputs,
    unwrapped,
)
from pipeline.models.networks.equalised import LINEAR_GAIN, EqualisedNetwork, pixel_norm
from pipeline.models.networks.layout import start_size

if TYPE_CHECKING:
    import keras as keras_types

# Images per phase: 4 to 5 epochs of the 4,000 to 4,500 training images of
# mnist5k. The 28x28 ladder has 3 resolutions, so 4 phases (fade in 14, hold,
# fade in 28, hold) grow it in 80,000 images, about 20 epochs, leaving the
# rest of a 30 to 60 epoch run at full size. The paper's 800,000 would be
# 180 epochs a phase here.
PHASE_IMAGES = 20_000

ImageCount = Annotated[int, Field(gt=0, le=2**31 - 1)]


def growth_level(images_seen, phase_images: int, levels: int):
    """The growth level t in [0, levels - 1] after `images_seen` images shown to D.

    Phases of `phase_images` images alternate, holding then fading: phase 0
    holds resolution 0; phase 2k - 1 fades resolution k in (t rises from
    k - 1 to k); phase 2k holds it. From phase 2 (levels - 1) on, t stays at
    levels - 1, the full image. A pure function of the count (computed in
    int32, then the fraction in float32), so the schedule needs no state of
    its own.
    """
    images = ops.cast(images_seen, "int32")
    phase = images // phase_images
    into_phase = ops.cast(images - phase * phase_images, "float32") / phase_images
    fading = ops.cast(phase % 2, "float32")
    level = ops.cast(phase // 2, "float32") + fading * into_phase
    return ops.minimum(level, float(levels - 1))


def generator_weights(level, levels: int) -> list:
    """The weight of each resolution's image in G's output at growth level `level`."""
    return [ops.maximum(0.0, 1.0 - ops.abs(level - i)) for i in range(levels)]


def discriminator_weights(level, resolution: int) -> tuple:
    """(features from above, fromRGB) weights entering D's block at `resolution` (not the top)."""
    from_above = ops.clip(level - resolution, 0.0, 1.0)
    return from_above, 1.0 - from_above


def blend(paths: list, weights: list[float], name: str):
    """sum_i weights[i] * paths[i]; each weight a frozen 1x1 depthwise kernel `<name>_<i>`."""
    scaled = [
        layers.DepthwiseConv2D(
            1,
            use_bias=False,
            trainable=False,
            depthwise_initializer=keras.initializers.Constant(weight),
            name=f"{name}_{i}",
        )(path)
        for i, (path, weight) in enumerate(zip(paths, weights, strict=True))
    ]
    return layers.Add(name=name)(scaled)


def set_blend(network: keras_types.Model, name: str, weights: list) -> None:
    """Set the kernels of `blend(..., name)` in `network` to `weights`."""
    for i, weight in enumerate(weights):
        kernel = network.get_layer(f"{name}_{i}").kernel
        kernel.assign(ops.cast(ops.full(kernel.shape, weight), kernel.dtype))


class ProGAN(EqualisedNetwork):
    """G and D that grow from the start square to the image (see the module docstring).

    G: [pixel norm of z] -> Dense -> Reshape to the start square -> LReLU,
    PN -> Conv3x3, LReLU, PN; then per doubling: UpSampling2D (nearest) ->
    (Conv3x3, LReLU, PN) x 2. A 1x1 toRGB after every resolution's block.

    D: per halving, from the image down: (Conv3x3, LReLU) x 2 -> AvgPool;
    a 1x1 fromRGB + LReLU at every resolution; at the start square, the
    shared head (`EqualisedNetwork.discriminator_head`). Every Conv2D and
    Dense of D goes through `wrap`; the frozen blend kernels do not (they
    are the schedule's, not weights to normalise). No BatchNorm anywhere.

    Widths double per halving from the image's, `filters`, as the paper
    halves them per doubling: 128, 64, 32 for 28x28 at the default 32.

    Attributes (besides `EqualisedNetwork`'s):
        phase_images: images D sees in each fade-in and each stable phase.
        pixel_norm: pixel norm in G (the paper's; off for an ablation).
    """

    kind: Literal["progan"] = "progan"
    phase_images: ImageCount = PHASE_IMAGES
    pixel_norm: bool = True

    def _g_conv(self, x, channels: int, name: str):
        """Conv3x3, leaky ReLU, pixel norm: G's unit."""
        x = self.act(self.conv(x, channels, 3, name), name)
        return pixel_norm(x, f"{name}_norm") if self.pixel_norm else x

    # --- G -----------------------------------------------------------------------

    def build_generator(
        self, image_shape: tuple[int, int, int], conditioning: Conditioning, num_classes: int
    ) -> keras_types.Model:
        start, _ = start_size(image_shape, self.kind)
        levels = self.levels(image_shape)
        channels = self.width(0, levels)
        z, inputs, label = generator_inputs(self.latent_dim, conditioning)
        x = conditioning.generator_entry(z, label, num_classes)
        if self.pixel_norm:
            x = pixel_norm(x, "latent_norm")
        x = self.dense(x, start * start * channels, "project")
        x = layers.Reshape((start, start, channels), name="reshape")(x)
        x = self.act(x, "project")
        if self.pixel_norm:
            x = pixel_norm(x, "project_norm")
        x = self._g_conv(x, channels, "block_0_conv")
        images = [self.conv(x, image_shape[-1], 1, "to_rgb_0", gain=LINEAR_GAIN)]
        for i in range(1, levels):
            x = layers.UpSampling2D(2, name=f"block_{i}_up")(x)
            x = self._g_conv(x, self.width(i, levels), f"block_{i}_conv_0")
            x = self._g_conv(x, self.width(i, levels), f"block_{i}_conv_1")
            images.append(self.conv(x, image_shape[-1], 1, f"to_rgb_{i}", gain=LINEAR_GAIN))
        full_size = [
            layers.UpSampling2D(2 ** (levels - 1 - i), name=f"to_rgb_{i}_up")(image)
            for i, image in enumerate(images[:-1])
        ]
        # Level 0 at first: the start square's image alone.
        x = blend([*full_size, images[-1]], [1.0] + [0.0] * (levels - 1), "grow")
        output = layers.Activation("tanh", name="image")(x)
        return functional_model(inputs, output, "generator")

    # --- D -----------------------------------------------------------------------

    def build_discriminator(
        self,
        image_shape: tuple[int, int, int],
        conditioning: Conditioning,
        num_classes: int,
        wrap: LayerWrap = unwrapped,
    ) -> keras_types.Model:
        entry = self.discriminator_entry(image_shape, conditioning, num_classes, wrap)
        levels, inputs, label, image, x = entry
        for i in range(levels - 1, 0, -1):
            x = self.discriminator_conv(x, self.width(i, levels), f"block_{i}_conv_0", wrap)
            x = self.discriminator_conv(x, self.width(i - 1, levels), f"block_{i}_conv_1", wrap)
            x = layers.AveragePooling2D(2, name=f"block_{i}_down")(x)
            pooled = layers.AveragePooling2D(2 ** (levels - i), name=f"image_{i - 1}")(image)
            from_image = self.from_rgb(pooled, i - 1, levels, wrap)
            # At level 0 every block starts from the image: the features above weigh 0.
            x = blend([x, from_image], [0.0, 1.0], f"grow_{i - 1}")
        outputs = self.discriminator_head(x, label, conditioning, num_classes, levels, wrap)
        return functional_model(inputs, outputs, "discriminator")

    # --- the schedule ------------------------------------------------------------

    def schedule(
        self, generator: keras_types.Model, discriminator: keras_types.Model
    ) -> Callable[[object], None]:
        """Sets the blend weights for the number of images D has seen; the model calls it
        before each step."""
        image_shape = tuple(generator.output_shape[1:])
        levels = self.levels(image_shape)

        def set_weights(images_seen) -> None:
            level = growth_level(images_seen, self.phase_images, levels)
            set_blend(generator, "grow", generator_weights(level, levels))
            for i in range(levels - 1):
                set_blend(discriminator, f"grow_{i}", list(discriminator_weights(level, i)))

        return set_weights
