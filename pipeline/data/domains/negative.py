"""`negative`: 255 - x, every channel (CoGAN's digits and their negatives)."""

from __future__ import annotations

import numpy as np


def transform(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The negative of each image; draws nothing from `rng`."""
    return np.uint8(255) - images
