"""`low_res`: half the size, each pixel the mean of a 2x2 block (super-resolution's input).

The mean is rounded half up ((sum + 2) // 4), in integers, so the bytes are
the same on every machine. An odd height or width has no whole blocks and is
refused rather than cropped, so a low-resolution image always covers
exactly its high-resolution one.
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import PipelineError

FACTOR = 2


def transform(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 (n, H, W, C) -> uint8 (n, H/2, W/2, C); draws nothing from `rng`."""
    n, h, w, c = images.shape
    blocks = images.reshape(n, h // FACTOR, FACTOR, w // FACTOR, FACTOR, c)
    sums = blocks.astype(np.int32).sum(axis=(2, 4))
    half = FACTOR * FACTOR // 2
    return ((sums + half) // (FACTOR * FACTOR)).astype(np.uint8)


def output_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Half of each side; PipelineError for an odd side."""
    h, w, c = image_shape
    if h % FACTOR or w % FACTOR:
        raise PipelineError(
            f"prepare.domains: low_res halves the images by 2x2 blocks, but they are {h}x{w} "
            f"(allowed: an even height and width)"
        )
    return (h // FACTOR, w // FACTOR, c)
