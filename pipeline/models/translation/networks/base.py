"""What a translation network kind is: settings plus a builder, for images to images or to scores.

A kind is also its own settings: a `Section` of the params schema, told
apart by `kind` (`generator: {kind: unet, filters: 64}`). The builders here
make the inputs, check the shapes before any layer exists, and cast the
outputs to float32 under a mixed-precision policy, so that each kind only
writes its trunk.

Only stock Keras layers are used, so a saved network reloads with
`keras.saving.load_model(path, safe_mode=True)` and no project code.
"""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from pipeline.lazy import keras, layers
from pipeline.models.conditioning.base import LayerWrap
from pipeline.models.networks.base import float32_outputs, functional_model, unwrapped
from pipeline.schema import Section

if TYPE_CHECKING:
    import keras as keras_types

Shape = tuple[int, int, int]

# Typo guards, as in pipeline.schema: far above any real setting.
MAX_LEVELS = 10  # stride-2 levels: 2**10 = 1024 px
MAX_BLOCKS = 64  # residual blocks (SRResNet's paper: 16)
Levels = Annotated[int, Field(ge=1, le=MAX_LEVELS)]
Blocks = Annotated[int, Field(ge=1, le=MAX_BLOCKS)]

# The smallest map an automatic depth halves down to: a 4x4 kernel on a 3x3
# map still mixes neighbours; below it, a level adds weights but no context.
MIN_AUTO_MAP = 3


def describe(shape: tuple[int, ...] | None) -> str:
    """`(28, 28, 1)` as "28x28x1", for one-line errors."""
    return "none" if shape is None else "x".join(str(size) for size in shape)


def as_shape(shape) -> tuple:
    """`shape` as a tuple, numpy integers made ints; anything else is left for the check."""
    return tuple(
        int(size) if isinstance(size, Integral) and not isinstance(size, bool) else size
        for size in shape
    )


def shape_problem(shape: tuple[int, ...]) -> str | None:
    """Why `shape` is not an (height, width, channels) of positive ints, or None."""
    if len(shape) != 3 or not all(type(s) is int and s > 0 for s in shape):
        return "shapes must be (height, width, channels) of positive integers"
    return None


def auto_halvings(height: int, width: int, cap: int = MAX_LEVELS) -> int:
    """How many stride-2 levels fit the image: halve while both sides stay even and
    the smaller half is at least `MIN_AUTO_MAP`, at most `cap` times.

    28 -> 14 -> 7: 2. 32 -> 16 -> 8 -> 4: 3. 64 -> ... -> 4: 4. 14 -> 7: 1. 7: 0.
    """
    levels = 0
    while (
        levels < cap
        and height % 2 == 0
        and width % 2 == 0
        and min(height, width) // 2 >= MIN_AUTO_MAP
    ):
        height, width, levels = height // 2, width // 2, levels + 1
    return levels


class TranslationGenerator(Section):
    """A generator that maps an image (`image`, in [-1, 1]) to an image in [-1, 1].

    Attributes:
        kind: the kind's name in `GENERATORS`.
    """

    kind: str

    def build(
        self, input_shape: Shape, output_shape: Shape, name: str = "generator"
    ) -> keras_types.Model:
        """The generator: `image` of `input_shape` to a float32 image of `output_shape`.

        Raises:
            ValueError: one line naming the kind, both shapes and what is
                allowed, before any layer is made.
        """
        input_shape, output_shape = as_shape(input_shape), as_shape(output_shape)
        self.check(input_shape, output_shape)
        image = keras.Input(shape=input_shape, name="image")
        translated = self.build_trunk(image, input_shape, output_shape)
        return float32_outputs(functional_model([image], translated, name))

    def check(self, input_shape: Shape, output_shape: Shape) -> None:
        """Refuse shapes this kind cannot map, in one line (the schema or stage shows it)."""
        problem = shape_problem(input_shape) or shape_problem(output_shape)
        problem = problem or self.shape_refusal(input_shape, output_shape)
        if problem:
            raise ValueError(
                f"{self.kind} generator cannot map {describe(input_shape)} to "
                f"{describe(output_shape)}: {problem}"
            )

    def shape_refusal(self, input_shape: Shape, output_shape: Shape) -> str | None:
        """What is wrong with these (well-formed) shapes and what is allowed, or None."""
        raise NotImplementedError

    def build_trunk(self, image, input_shape: Shape, output_shape: Shape):
        """The layers from the `image` input to the tanh output (shapes already checked)."""
        raise NotImplementedError


class TranslationDiscriminator(Section):
    """A discriminator that scores an image, or (pix2pix) a (condition, image) pair.

    Every layer with a kernel (Conv2D, Dense) goes through `wrap`, so
    spectral normalisation reaches all of them; normalisation layers do not.

    Attributes:
        kind: the kind's name in `DISCRIMINATORS`.
    """

    kind: str

    def mixes_batch(self) -> bool:
        """Whether D computes statistics across the batch (BatchNorm), which
        per-example gradient penalties forbid."""
        return getattr(self, "norm", "none") == "batch"

    def build(
        self,
        image_shape: Shape,
        condition_shape: Shape | None = None,
        wrap: LayerWrap = unwrapped,
        name: str = "discriminator",
    ) -> keras_types.Model:
        """D: `image` (or [`condition`, `image`]) to raw float32 scores.

        A condition is joined to the image on the channel axis, so D judges
        the pair (pix2pix's conditional D). One smaller by a whole factor in
        both sides (super-resolution's low-resolution input) is first
        enlarged by nearest-neighbour repetition to the image's size.

        Raises:
            ValueError: one line naming the kind, the shapes and what is allowed.
        """
        image_shape = as_shape(image_shape)
        condition_shape = None if condition_shape is None else as_shape(condition_shape)
        self.check(image_shape, condition_shape)
        image = keras.Input(shape=image_shape, name="image")
        inputs, x = [image], image
        if condition_shape is not None:
            condition = keras.Input(shape=condition_shape, name="condition")
            inputs = [condition, image]
            x = join_condition(condition, image)
        scores = self.build_trunk(x, image_shape, wrap)
        return float32_outputs(functional_model(inputs, scores, name))

    def check(self, image_shape: Shape, condition_shape: Shape | None) -> None:
        """Refuse shapes this kind cannot score, in one line."""
        problem = shape_problem(image_shape)
        if not problem and condition_shape is not None:
            problem = shape_problem(condition_shape) or condition_refusal(
                image_shape, condition_shape
            )
        problem = problem or self.shape_refusal(image_shape)
        if problem:
            paired = "" if condition_shape is None else f" beside {describe(condition_shape)}"
            raise ValueError(
                f"{self.kind} discriminator cannot score {describe(image_shape)} images"
                f"{paired}: {problem}"
            )

    def shape_refusal(self, image_shape: Shape) -> str | None:
        """What is wrong with this (well-formed) image shape and what is allowed, or None."""
        raise NotImplementedError

    def build_trunk(self, x, image_shape: Shape, wrap: LayerWrap):
        """The layers from D's (joined) input to its raw scores (shapes already checked)."""
        raise NotImplementedError


def condition_factor(image_shape: Shape, condition_shape: Shape) -> int | None:
    """How many times the condition's sides fit the image's (1: same size), or None."""
    (height, width), (c_height, c_width) = image_shape[:2], condition_shape[:2]
    if height % c_height or width % c_width or height // c_height != width // c_width:
        return None
    return height // c_height


def condition_refusal(image_shape: Shape, condition_shape: Shape) -> str | None:
    """Why this condition cannot be joined to this image, or None."""
    if condition_factor(image_shape, condition_shape) is None:
        return (
            "the condition must have the image's height and width, or both divided by "
            "the same whole factor"
        )
    return None


def join_condition(condition, image):
    """The condition (enlarged to the image's size if smaller) and the image, on channels."""
    factor = condition_factor(tuple(image.shape[1:]), tuple(condition.shape[1:]))
    if factor > 1:
        condition = layers.UpSampling2D(factor, name="condition_upsampling")(condition)
    return layers.Concatenate(name="condition_image")([condition, image])
