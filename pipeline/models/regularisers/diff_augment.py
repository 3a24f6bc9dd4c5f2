"""Differentiable augmentation of everything D sees (Zhao et al. 2020, DiffAugment)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pipeline.lazy import keras, ops
from pipeline.models.regularisers.base import Regulariser
from pipeline.schema import Fraction

Policy = Literal["color", "translation", "cutout"]

# The colour ops' magnitudes, as in the paper's code (written for images in [-1, 1]):
# brightness adds U[-0.5, 0.5), saturation scales by U[0, 2), contrast by U[0.5, 1.5).
BRIGHTNESS_RANGE = (-0.5, 0.5)
SATURATION_RANGE = (0.0, 2.0)
CONTRAST_RANGE = (0.5, 1.5)


class DiffAugment(Regulariser):
    """Augment D's real and fake inputs, in both steps, with differentiable transforms.

    With little data D memorises the real images and its feedback to G
    collapses. Augmenting only the reals would teach G the augmentations;
    augmenting reals and fakes alike, and differentiably so that G trains
    through the augmentation too, keeps the fakes' target the clean data.
    Each image gets its own draws, from the model's seed generator, so
    training stays seeded and a resumed run draws what an unbroken one would.
    The model applies it in its train step only: evaluation and export see
    the networks untouched.

    Images are NHWC with known height and width (the batch may be unknown),
    in [-1, 1], where translation and cutout fill with 0 (mid-grey), as the
    paper's code does. On one-channel images `saturation` does nothing.

    Args:
        policies: the augmentations, applied in this order: `color`
            (brightness, saturation, contrast), `translation` (a shift of up
            to `translation_ratio` of each side, zero-filled), `cutout` (a
            zeroed square of `cutout_ratio` of each side, anywhere).
        translation_ratio: the largest shift, as a fraction of the side.
        cutout_ratio: the cut-out rectangle's side, as a fraction of the image's.
    """

    policies: list[Policy] = Field(
        default_factory=lambda: ["color", "translation", "cutout"], min_length=1
    )
    translation_ratio: Fraction = 0.125
    cutout_ratio: Fraction = 0.5

    @field_validator("policies")
    @classmethod
    def _no_repeats(cls, policies: list[str]) -> list[str]:
        # A repeated policy is surely a typo for another one, not a wish to augment twice.
        repeated = sorted({policy for policy in policies if policies.count(policy) > 1})
        if repeated:
            raise ValueError(f"each policy at most once; repeated: {', '.join(repeated)}")
        return policies

    def discriminator_inputs(self, images, model):
        if len(images.shape) != 4 or None in tuple(images.shape[1:]):
            raise ValueError(
                f"diff_augment needs NHWC images of a known size; D's inputs are {images.shape}"
            )
        seed = model.seed_generator
        for policy in self.policies:
            if policy == "color":
                images = color(images, seed)
            elif policy == "translation":
                images = translation(images, seed, self.translation_ratio)
            else:
                images = cutout(images, seed, self.cutout_ratio)
        return images


def per_image_uniform(images, bounds: tuple[float, float], seed):
    """One U[low, high) draw per image, shaped to broadcast over it."""
    shape = (ops.shape(images)[0], 1, 1, 1)
    draws = keras.random.uniform(shape, bounds[0], bounds[1], dtype="float32", seed=seed)
    # Drawn in float32 and cast, so mixed-precision images get the same draws.
    return ops.cast(draws, images.dtype)


def color(images, seed):
    """Random brightness, then saturation, then contrast, as in the paper."""
    images = images + per_image_uniform(images, BRIGHTNESS_RANGE, seed)
    grey = ops.mean(images, axis=3, keepdims=True)
    images = (images - grey) * per_image_uniform(images, SATURATION_RANGE, seed) + grey
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * per_image_uniform(images, CONTRAST_RANGE, seed) + mean


def translation(images, seed, ratio: float):
    """Shift each image by up to `ratio` of each side, filling with zeros.

    The shift is a product with one-hot shift matrices, out[i, j] =
    in[i + dy, j + dx] (0 off the image): linear in the images, so
    gradients flow back to them, and free of data-dependent shapes.
    """
    batch = ops.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    # int(size * ratio + 0.5): the paper's rounding (4 pixels at 28 and 32).
    max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = keras.random.randint((batch, 1), -max_dy, max_dy + 1, dtype="int32", seed=seed)
    dx = keras.random.randint((batch, 1), -max_dx, max_dx + 1, dtype="int32", seed=seed)
    rows = shift_matrices(dy, height, images.dtype)
    columns = shift_matrices(dx, width, images.dtype)
    images = ops.einsum("bik,bkjc->bijc", rows, images)
    return ops.einsum("bjl,bilc->bijc", columns, images)


def shift_matrices(shifts, size: int, dtype):
    """(batch, size, size) matrices m with m[b, i, k] = 1 where k = i + shifts[b], else 0."""
    positions = ops.arange(size, dtype="int32")
    sources = positions[None, :] + shifts  # (batch, size): the pixel each output reads
    # An out-of-image source matches no position: that row is all 0, the zero fill.
    return ops.cast(ops.equal(sources[:, :, None], positions[None, None, :]), dtype)


def cutout(images, seed, ratio: float):
    """Zero a rectangle of `ratio` of each side, centred anywhere, clipped to the image.

    A multiplicative mask, so the kept pixels pass their gradient through.
    """
    batch = ops.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    rows = _cut_span(batch, height, int(height * ratio + 0.5), seed)
    columns = _cut_span(batch, width, int(width * ratio + 0.5), seed)
    hole = ops.logical_and(rows[:, :, None], columns[:, None, :])
    keep = 1.0 - ops.cast(hole, images.dtype)
    return images * keep[:, :, :, None]


def _cut_span(batch, size: int, length: int, seed):
    """(batch, size) booleans: the positions of each image's cut along one side."""
    # The paper's draw: a centre anywhere in [0, size] ([0, size - 1] for odd
    # lengths), so cuts near an edge are clipped by it and cover less.
    centres = keras.random.randint((batch, 1), 0, size + 1 - length % 2, dtype="int32", seed=seed)
    starts = centres - length // 2
    positions = ops.arange(size, dtype="int32")[None, :]
    return ops.logical_and(positions >= starts, positions < starts + length)
