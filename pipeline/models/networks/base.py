"""What a network kind is: the settings and builders of a generator and a discriminator.

A network kind is also its own settings: a `Section` of the params schema,
told apart by `kind` (`network: {kind: dcgan, filters: 64}`).

Only stock Keras layers are used, so a saved generator reloads with
`keras.saving.load_model` and no project code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, ClassVar

from pydantic import Field

from pipeline.lazy import keras
from pipeline.models.conditioning.base import Conditioning, LayerWrap
from pipeline.schema import MAX_LATENT_DIM, Section

if TYPE_CHECKING:
    import keras as keras_types

LatentDim = Annotated[int, Field(gt=0, le=MAX_LATENT_DIM)]


def unwrapped(layer):
    """The identity `LayerWrap`: D's layers as they are."""
    return layer


class Network(Section):
    """A generator and a discriminator of one kind.

    Attributes:
        kind: the kind's name in `NETWORKS`.
        latent_dim: size of z.

    Class attributes:
        generator_has_batch_norm: whether G has BatchNorm layers (which
            conditional batch norm replaces).
    """

    kind: str
    latent_dim: LatentDim = 100

    generator_has_batch_norm: ClassVar[bool] = False

    def conditioning_conflict(self, conditioning: Conditioning) -> str | None:
        """Why `conditioning` cannot go into these networks, or None: the one rule the
        schema (at validation) and `check` (at build time) both apply."""
        if conditioning.uses_generator_batch_norm() and not self.generator_has_batch_norm:
            return (
                f"conditioning.generator_input = 'batch_norm': the {self.kind} generator "
                "has no BatchNorm to make conditional (allowed: 'concat')"
            )
        return None

    def discriminator_mixes_batch(self) -> bool:
        """Whether D computes statistics across the batch (BatchNorm), which
        per-example gradient penalties forbid."""
        return False

    def schedule(
        self, generator: keras_types.Model, discriminator: keras_types.Model
    ) -> Callable[[object], None] | None:
        """What changes in the built networks as training goes on, or None (most kinds).

        A kind that changes (ProGAN's growth) returns a function of the
        number of images D has seen that sets it; the model calls it before
        each step, inside the step, so it is a function of the optimizer's
        iteration count and a resumed run continues it exactly.
        """
        return None

    def training_call(
        self, generator: keras_types.Model
    ) -> Callable[[object, object], object] | None:
        """How the model's step runs the built G in training, or None (most kinds):
        `generator(inputs, training=True)`.

        A kind whose training pass is not its saved model's call (StyleGAN's
        style mixing and noise) returns a function of (G's inputs, the
        model's seed generator) that makes the images; its draws come from
        that seed generator, so a run stays a function of its seed.
        """
        return None

    def build(
        self,
        image_shape: tuple[int, int, int],
        conditioning: Conditioning,
        num_classes: int,
        wrap: LayerWrap = unwrapped,
    ) -> tuple[keras_types.Model, keras_types.Model]:
        """The (generator, discriminator) pair.

        Args:
            image_shape: (height, width, channels) of the images.
            conditioning: where the label enters (`Unconditional` for none).
            num_classes: 0 for an unconditional model, else the classes.
            wrap: applied to each of D's weight layers (spectral norm).

        Returns:
            G maps z (and a label) to images in [-1, 1] of `image_shape`;
            D maps images (and a label) to one raw score each (and, for an
            auxiliary classifier, class logits).

        Raises:
            ValueError: the arguments do not fit together (see `check`), or the
                network cannot be built for this image size.
        """
        image_shape = tuple(image_shape)
        self.check(image_shape, conditioning, num_classes)
        generator = self.build_generator(image_shape, conditioning, num_classes)
        discriminator = self.build_discriminator(image_shape, conditioning, num_classes, wrap)
        return float32_outputs(generator), float32_outputs(discriminator)

    def check(
        self, image_shape: tuple[int, int, int], conditioning: Conditioning, num_classes: int
    ) -> None:
        """Refuse arguments that do not fit together, before any layer is made.

        A kind with limits of its own (the image sizes it can make) extends it.

        Raises:
            ValueError: a negative `num_classes`; a conditional method without
                classes; conditional BatchNorm on a generator that has none.
        """
        if num_classes < 0:
            raise ValueError(
                f"num_classes must be 0 (unconditional) or positive, got {num_classes}"
            )
        if conditioning.conditional and not num_classes:
            raise ValueError(
                f"conditioning {conditioning.kind!r} needs labelled data, got num_classes=0"
            )
        conflict = self.conditioning_conflict(conditioning)
        if conflict:
            raise ValueError(conflict)

    def build_generator(
        self, image_shape: tuple[int, int, int], conditioning: Conditioning, num_classes: int
    ) -> keras_types.Model:
        """G alone, "generator": `z` (and `label`) to images. `build` checks the arguments."""
        raise NotImplementedError

    def build_discriminator(
        self,
        image_shape: tuple[int, int, int],
        conditioning: Conditioning,
        num_classes: int,
        wrap: LayerWrap = unwrapped,
    ) -> keras_types.Model:
        """D alone, "discriminator": `image` (and `label`) to its outputs.

        Every layer of D with a kernel or an embedding matrix (Dense, Conv2D,
        the conditioning's heads) goes through `wrap`, so that spectral
        normalisation reaches all of them; normalisation layers do not (they
        have no matrix to normalise). A kind says in its docstring if some
        layer is left out, and why.
        """
        raise NotImplementedError


def generator_inputs(latent_dim: int, conditioning: Conditioning):
    """G's z input, its inputs ([z] or [z, label]) and the label tensor (or None)."""
    z = keras.Input(shape=(latent_dim,), name="z")
    return (z, *_with_label(z, conditioning, conditioning.generator_takes_label()))


def discriminator_inputs(image_shape: tuple[int, int, int], conditioning: Conditioning):
    """D's image input, its inputs ([image] or [image, label]) and the label tensor (or None)."""
    images = keras.Input(shape=image_shape, name="image")
    takes_label = conditioning.conditional and conditioning.discriminator_takes_label
    return (images, *_with_label(images, conditioning, takes_label))


def _with_label(first, conditioning: Conditioning, takes_label: bool):
    """A network's inputs, [first] or [first, label], and the label tensor (or None).

    The label is an int32 class index of shape () per example; the networks
    encode it themselves, so callers never one-hot it.
    """
    if not takes_label:
        return [first], None
    # A code G is given rather than a class it is asked for (InfoGAN) is named
    # `code`, so that evaluation can tell the two apart from the saved file alone.
    name = "label" if conditioning.conditional else "code"
    label = keras.Input(shape=(), dtype="int32", name=name)
    return [first, label], label


def float32_outputs(network: keras_types.Model) -> keras_types.Model:
    """`network` with float32 outputs when it was built to compute in 16 bits.

    Under a mixed-precision policy (`train.precision`) every layer computes in
    float16 or bfloat16; its images and scores are cast back here, in one place
    for every network kind, so that losses, penalties, metrics and a saved
    generator's images stay float32. Under float32 the network is returned as
    it is, so a float32 model's layers and saved file do not change.
    """
    if keras.config.dtype_policy().compute_dtype == "float32":
        return network
    casts = [
        keras.layers.Activation("linear", dtype="float32", name=f"float32_output_{index}")(output)
        for index, output in enumerate(network.outputs)
    ]
    return functional_model(network.inputs, casts if len(casts) > 1 else casts[0], network.name)


def functional_model(inputs: list, outputs, name: str):
    # A single input is passed bare so an unconditional model is called as model(x).
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=name)
