"""What a derived domain is: a seeded function of the base images, and the shape it makes.

A domain turns a batch of the base images (uint8, NHWC) into the same
scenes in another form (their edges, their negatives, ...). `prepare`
applies it to each split's images in written order, so record i of the
domain is the transform of the base's record i: the two are paired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def no_extra(image_shape: tuple[int, int, int]) -> dict[str, Any]:
    """Most domains have nothing to record beside their images."""
    return {}


@dataclass(frozen=True)
class Domain:
    """A derived domain.

    Attributes:
        transform: (uint8 images (n, H, W, C), a generator) -> uint8 images
            (n, H', W', C'); deterministic given the generator's state. The
            generator is the domain's own, seeded per split, so a domain that
            draws nothing ignores it.
        output_shape: the base image shape -> the domain's image shape;
            raises PipelineError for a base shape the domain cannot take.
        extra: the base image shape -> what info.json records about the
            domain besides its images (the masked domain's hole).
    """

    transform: Transform
    output_shape: Callable[[tuple[int, int, int]], tuple[int, int, int]]
    extra: Callable[[tuple[int, int, int]], dict[str, Any]] = field(default=no_extra)


def same_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """The output shape of a domain that keeps the base's size and channels."""
    return image_shape


def grey_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """The output shape of a one-channel domain of the base's size."""
    return (image_shape[0], image_shape[1], 1)


def grey(images: np.ndarray) -> np.ndarray:
    """uint8 (n, H, W, C) -> int32 luminance (n, H, W) in [0, 255].

    One channel is taken as it is; RGB is weighted as ITU-R BT.601
    (0.299, 0.587, 0.114) in integer arithmetic, rounded half up, so the
    result is the same on every machine.
    """
    pixels = images.astype(np.int32)
    if images.shape[-1] == 1:
        return pixels[..., 0]
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (299 * r + 587 * g + 114 * b + 500) // 1000
