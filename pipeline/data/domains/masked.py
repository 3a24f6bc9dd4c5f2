"""`masked`: the image with a centred square hole filled with 0 (the context encoder's input).

The hole's side is half the image's (14x14 on 28x28, the context-encoder
paper's ratio), centred (rounded towards the top left). info.json records it
as `extra.hole` {top, left, height, width}, so metrics and baselines can
score the hole alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def hole(image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the hole in an image of `image_shape`."""
    h, w = image_shape[0], image_shape[1]
    height, width = max(1, h // 2), max(1, w // 2)
    return (h - height) // 2, (w - width) // 2, height, width


def transform(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of `images` with the hole set to 0; draws nothing from `rng`."""
    top, left, height, width = hole(images.shape[1:])
    out = images.copy()
    out[:, top : top + height, left : left + width, :] = 0
    return out


def extra(image_shape: tuple[int, int, int]) -> dict[str, Any]:
    top, left, height, width = hole(image_shape)
    return {"hole": {"top": top, "left": left, "height": height, "width": width}}
