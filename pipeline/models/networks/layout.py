"""What the network kinds share: the doubling ladder from a small square to the image, and weights.

The helpers that make a network's inputs and its functional model live in
`base.py`, beside the contract they serve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.lazy import keras

if TYPE_CHECKING:
    import keras as keras_types

# The generator starts from a square at most this big, then doubles.
MAX_START_SIZE = 7


def start_size(image_shape: tuple[int, int, int], kind: str) -> tuple[int, int]:
    """A convolutional generator's starting square and how many times it doubles to the image.

    The start is the largest size up to 7 that doubles to the image height
    exactly: 7 for 28x28 (7 -> 14 -> 28), 4 for 32x32 (4 -> 8 -> 16 -> 32).
    The discriminator walks the same ladder down.

    Args:
        image_shape: (height, width, channels); height and width must match.
        kind: the network kind, named in the error.

    Returns:
        (start size, number of doublings).

    Raises:
        ValueError: the image is not square, or no start size doubles to it.
    """
    height, width = image_shape[:2]
    if height != width:
        raise ValueError(f"{kind} networks need square images, got {height}x{width}")
    size, doublings = height, 0
    while size > MAX_START_SIZE and size % 2 == 0:
        size, doublings = size // 2, doublings + 1
    if size > MAX_START_SIZE or doublings == 0:
        raise ValueError(
            f"{kind} networks cannot make {height}x{width} images: the size must be "
            f"s * 2**n with s <= {MAX_START_SIZE} and n >= 1 (e.g. 28 = 7 * 4, 32 = 4 * 8)"
        )
    return size, doublings


def feature_resolutions(image_shape: tuple[int, int, int], kind: str) -> list[int]:
    """The heights of the feature maps between the start square and the image, smallest first.

    Both networks have a map of each of these heights (G on the way up, D on
    the way down), the image itself excluded: 7, 14 for 28x28; 4, 8, 16 for
    32x32.
    """
    start, doublings = start_size(image_shape, kind)
    return [start * 2**i for i in range(doublings)]


def normal_weights() -> keras_types.initializers.Initializer:
    """N(0, 0.02), DCGAN's initialisation (Radford et al. 2015).

    A fresh instance per layer: an unseeded Keras initialiser fixes its seed
    when created, so a shared one would give every layer of the same shape
    the same weights.
    """
    return keras.initializers.RandomNormal(stddev=0.02)
