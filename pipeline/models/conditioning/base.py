"""What a conditioning method is: where the label enters each network, what it adds to the losses.

A conditioning method is also its own settings: a `Section` of the params
schema, told apart by `kind` (`conditioning: {kind: projection}`).

The networks call the build hooks at four points, so a network kind never
needs to know which method it carries:

    G:  z, label -> generator_entry -> ... generator_norm (at each BatchNorm) ... -> image
    D:  image, label -> discriminator_input (at the network's input layer) -> trunk
        -> features -> discriminator_output -> score (or [score, class logits])

The train-step hooks add a method's own loss terms (ACGAN's classifier).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Literal

from pipeline.lazy import layers
from pipeline.schema import Section

if TYPE_CHECKING:
    import keras

# Wraps each of D's weight layers (spectral normalisation), identity otherwise.
LayerWrap = Callable[["keras.layers.Layer"], "keras.layers.Layer"]
# Makes a fresh kernel initialiser for each of D's output layers. A factory, not
# an initialiser: an unseeded Keras initialiser fixes its seed when created, so
# one instance shared by two layers of the same shape gives both the same weights.
InitializerFactory = Callable[[], "keras.initializers.Initializer"]
GeneratorInput = Literal["concat", "batch_norm"]


def dense_head(
    units: int, name: str, wrap: LayerWrap, initializer: InitializerFactory | None = None
) -> keras.layers.Layer:
    """A linear output layer of D (`units` scores), wrapped like D's other weight layers.

    Args:
        units: outputs per example.
        name: the layer's name.
        wrap: applied to the layer (spectral normalisation, or the identity).
        initializer: makes the kernel's initialiser; None keeps Keras' default
            (Glorot uniform), as the MLP discriminator has always had.
    """
    options = {} if initializer is None else {"kernel_initializer": initializer()}
    return wrap(layers.Dense(units, name=name, **options))


class Conditioning(Section):
    """How (and whether) the class label conditions G and D.

    Attributes:
        kind: the method's name in `CONDITIONING`.

    Class attributes:
        conditional: whether the networks take a label at all.
        discriminator_takes_label: whether D has a `label` input (an
            auxiliary classifier does not: it predicts the label).
        tracked_as: the names of the numbers the train-step hooks return.
    """

    kind: str

    conditional: ClassVar[bool] = True
    discriminator_takes_label: ClassVar[bool] = True
    tracked_as: ClassVar[tuple[str, ...]] = ()

    # --- while the networks are built (Keras functional tensors) -------------

    def generator_takes_label(self) -> bool:
        """Whether G has an int32 `label` input: the data's class (the conditional
        methods) or a code the model draws itself (InfoGAN's categorical code)."""
        return self.conditional

    def generator_label_values(self, num_classes: int) -> int:
        """How many values G's `label` input takes (0: it has none): what a grid's rows show."""
        return num_classes if self.generator_takes_label() else 0

    def continuous_codes(self) -> int:
        """How many of z's last entries are codes the model draws itself (InfoGAN's); 0 here."""
        return 0

    def uses_generator_batch_norm(self) -> bool:
        """Whether G's BatchNorm layers must be conditional (G needs some then)."""
        return False

    def generator_entry(self, z, label, num_classes: int):
        """What G's first layer reads: z, with the label joined or not.

        (Not `generator_input`: that is the settings field of the label-taking
        methods, `conditioning: {generator_input: batch_norm}`, and a pydantic
        field would hide a method of the same name.)
        """
        return z

    def generator_norm(self, x, label, num_classes: int, name: str):
        """One of G's BatchNorm layers: plain, or with per-class scale and shift."""
        return layers.BatchNormalization(name=name)(x)

    def discriminator_input(self, x, label, num_classes: int):
        """What D's first layer reads: the image (flattened for an MLP, a map for a
        convolutional network), with the label joined or not."""
        return x

    def discriminator_output(
        self,
        features,
        label,
        num_classes: int,
        wrap: LayerWrap,
        *,
        initializer: InitializerFactory | None = None,
    ):
        """D's output from its last features (N, F): a score (N, 1), or [score, logits].

        Every weight layer made here goes through `wrap`. `initializer` makes
        the kernel initialiser of each Dense head (None: Keras' default), so that
        a network keeps its own head initialisation (DCGAN's N(0, 0.02)) whatever
        the method.
        """
        return dense_head(1, "logit", wrap, initializer)(features)

    # --- in the train step ------------------------------------------------------

    def draw_codes(self, z, labels, seed_generator):
        """(G's z, what G and the loss terms are conditioned on) for one update.

        The data's labels (None for an unconditional model) by default; a method
        that draws latent codes of its own (InfoGAN) returns them instead, drawn
        with the model's seed generator so that training stays reproducible.
        """
        return z, labels

    def generator_call(self, z, labels):
        """G's inputs for z and the conditioning `draw_codes` gave."""
        return [z, labels] if self.generator_takes_label() else z

    def scores(self, outputs):
        """The adversarial scores within D's outputs."""
        return outputs

    def discriminator_terms(self, real_outputs, fake_outputs, labels) -> tuple[object, dict]:
        """(a scalar added to D's loss or None, the numbers named in `tracked_as`)."""
        return None, {}

    def generator_term(self, fake_outputs, labels):
        """A scalar added to G's loss, or None."""
        return None
