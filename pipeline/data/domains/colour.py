"""`colour`: each digit's stroke in a random colour on a random background, RGB.

Per image, one colour is drawn light (each channel in [160, 255]) and the
other dark (each channel in [0, 95]), and a coin decides which is the
stroke: every channel of the two differs by at least 65, in the same
direction, so stroke and background always differ in brightness and the
digit stays readable, whichever way round. The base's luminance t (0 = the
background, 255 = the stroke) blends them: (bg * (255 - t) + fg * t) / 255,
rounded half up, in integers.
"""

from __future__ import annotations

import numpy as np

from pipeline.data.domains.base import grey

LIGHT = (160, 256)  # [low, high) of each channel of the light colour
DARK = (0, 96)


def transform(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 (n, H, W, C) -> uint8 (n, H, W, 3); draws 7 numbers per image from `rng`."""
    n = len(images)
    light = rng.integers(*LIGHT, size=(n, 3))
    dark = rng.integers(*DARK, size=(n, 3))
    light_stroke = rng.integers(0, 2, size=(n, 1)).astype(bool)
    fg = np.where(light_stroke, light, dark)[:, None, None, :]
    bg = np.where(light_stroke, dark, light)[:, None, None, :]
    t = grey(images)[..., np.newaxis].astype(np.int64)
    return ((bg * (255 - t) + fg * t + 127) // 255).astype(np.uint8)


def output_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    return (image_shape[0], image_shape[1], 3)
