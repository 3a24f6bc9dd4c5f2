"""`edges`: the Sobel gradient magnitude, bright edges on black (pix2pix's edges -> digits).

The magnitude of a sharp black-to-white step is 4 * 255 = 1020 (the Sobel
kernel's weights 1, 2, 1). It is halved and clipped at 255, so any step of
at least half the full range is a white line and fainter ones scale
linearly: a digit's stroke gives two bright outlines. Computed on integers
and one correctly rounded square root, rounded half up: the same bytes on
every machine. RGB images are taken as their luminance.
"""

from __future__ import annotations

import numpy as np

from pipeline.data.domains.base import grey

# Magnitude that maps to 255: half a full black-to-white step.
CLIP_MAGNITUDE = 510
_DERIVATIVE = np.array([-1, 0, 1])
_SMOOTHING = np.array([1, 2, 1])


def transform(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 (n, H, W, C) -> uint8 (n, H, W, 1) edge maps; draws nothing from `rng`."""
    from scipy import ndimage  # only `prepare` needs it; params validation stays light

    luminance = grey(images)
    # Sobel along H and W only: ndimage.sobel on the batch would also smooth across images.
    # Borders repeat the nearest pixel, so an image's frame is not an edge.
    gy = ndimage.correlate1d(luminance, _DERIVATIVE, axis=1, mode="nearest")
    gy = ndimage.correlate1d(gy, _SMOOTHING, axis=2, mode="nearest")
    gx = ndimage.correlate1d(luminance, _DERIVATIVE, axis=2, mode="nearest")
    gx = ndimage.correlate1d(gx, _SMOOTHING, axis=1, mode="nearest")
    squared = gx.astype(np.int64) ** 2 + gy.astype(np.int64) ** 2
    scaled = np.sqrt(squared.astype(np.float64)) * (255 / CLIP_MAGNITUDE)
    return np.minimum(np.floor(scaled + 0.5), 255).astype(np.uint8)[..., np.newaxis]
