"""Seeded generator inputs and batched generation or translation, for train, evaluate, export."""

from __future__ import annotations

import keras
import numpy as np

# Distinct streams from one seed, so a grid and an evaluation never share noise by accident.
GRID_STREAM = 1
EVALUATION_STREAM = 2
INTERPOLATION_STREAM = 3
GENERATE_STREAM = 4  # python -m pipeline.generate: fresh samples, not the scored ones


def latent_vectors(seed: int, count: int, latent_dim: int, stream: int = EVALUATION_STREAM):
    """`count` standard normal latent vectors, a pure function of (seed, stream).

    Args:
        seed: the run's seed from params.
        count: how many vectors.
        latent_dim: their size.
        stream: which independent stream of that seed to draw from.
    """
    rng = np.random.default_rng([seed, stream])
    return rng.standard_normal((count, latent_dim), dtype=np.float32)


def cycled_labels(count: int, num_classes: int) -> np.ndarray:
    """0, 1, ..., K-1, 0, 1, ...: every class asked for equally often."""
    return (np.arange(count) % num_classes).astype(np.int32)


def grid_inputs(
    seed: int, latent_dim: int, grid_size: int, num_classes: int = 0, stream: int = GRID_STREAM
) -> tuple[np.ndarray, np.ndarray | None, int, int]:
    """Generator inputs for a sample grid, and its shape.

    Unconditional: `grid_size` x `grid_size` samples. Conditional: one row
    per class, `grid_size` samples each (the CGAN paper's figure).

    Returns:
        (latents, labels or None, rows, columns), row by row.
    """
    if not num_classes:
        return latent_vectors(seed, grid_size**2, latent_dim, stream), None, grid_size, grid_size
    latents = latent_vectors(seed, num_classes * grid_size, latent_dim, stream)
    labels = np.repeat(np.arange(num_classes, dtype=np.int32), grid_size)
    return latents, labels, num_classes, grid_size


def generate(
    generator: keras.Model,
    latents: np.ndarray,
    labels: np.ndarray | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Run the generator over `latents` (and `labels`) in batches.

    Returns:
        float32 images in [-1, 1].
    """
    batches = []
    for start in range(0, len(latents), batch_size):
        part = slice(start, start + batch_size)
        inputs = latents[part] if labels is None else [latents[part], labels[part]]
        batches.append(np.asarray(generator(inputs, training=False)))
    return np.concatenate(batches).astype(np.float32)


def translate(generator: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Run an image-to-image generator over `images` (NHWC in [-1, 1]) in batches.

    Returns:
        float32 images, as the generator makes them (nominally in [-1, 1]).
    """
    return generate(generator, images, batch_size=batch_size)


def latent_dim_of(generator: keras.Model) -> int:
    """The size of the generator's latent input."""
    return int(generator.inputs[0].shape[-1])


def is_conditional(generator: keras.Model) -> bool:
    """Whether the generator takes a class label besides z."""
    return len(generator.inputs) > 1


def is_translator(generator: keras.Model) -> bool:
    """Whether the model maps images to images (one rank-4 input) rather than noise to images."""
    return len(generator.inputs) == 1 and len(generator.inputs[0].shape) == 4
