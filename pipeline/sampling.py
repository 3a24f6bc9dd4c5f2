"""Seeded latent vectors and batched generation, shared by training, evaluation and export."""

from __future__ import annotations

import keras
import numpy as np

# Distinct streams from one seed, so a grid and an evaluation never share noise by accident.
GRID_STREAM = 1
EVALUATION_STREAM = 2
INTERPOLATION_STREAM = 3


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


def generate(generator: keras.Model, latents: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Run the generator over `latents` in batches; returns float32 images in [-1, 1]."""
    batches = [
        np.asarray(generator(latents[start : start + batch_size], training=False))
        for start in range(0, len(latents), batch_size)
    ]
    return np.concatenate(batches).astype(np.float32)


def latent_dim_of(generator: keras.Model) -> int:
    """The size of the generator's latent input."""
    return int(generator.inputs[0].shape[-1])
