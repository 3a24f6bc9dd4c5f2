"""The truncation trick for every noise generator: in w for StyleGAN, in z for the others.

BigGAN truncates z: each component beyond the threshold psi is redrawn
(`pipeline.sampling.truncated_normal`). StyleGAN truncates w instead,
w' = w_avg + psi (w - w_avg), which its saved generator does itself: its
frozen `w_truncation` Dense (the identity in training) is set to kernel
psi I and bias (1 - psi) w_avg while the images are drawn, and put back
after. w_avg is the mean of the mapping network's w over `W_AVERAGE_SAMPLES`
z's of a seeded stream, computed from the saved file when needed: the
papers keep a running average during training instead, which trails the
mapping network by its decay; this is the mean of the final one.

A caller asks `truncation(generator, psi, seed)` how to draw its latents:
the threshold to truncate z at, or None where the generator truncates
itself (or psi is None).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras
import numpy as np

from pipeline.sampling import W_AVERAGE_STREAM, cycled_labels, latent_dim_of, latent_vectors
from pipeline.w_space import MAPPING, W_TRUNCATION

# z's averaged into w_avg: its standard error is under 1% of w's spread.
W_AVERAGE_SAMPLES = 10_000


def has_w_space(generator: keras.Model) -> bool:
    """Whether `generator` truncates in w (a StyleGAN), rather than in z."""
    names = {layer.name for layer in generator.layers}
    return MAPPING in names and W_TRUNCATION in names


def w_average(generator: keras.Model, seed: int, num_classes: int = 0) -> np.ndarray:
    """The mean of the mapping network's w over `W_AVERAGE_SAMPLES` seeded z's (labels
    cycled over the classes for a conditional generator)."""
    mapping = generator.get_layer(MAPPING)
    latents = latent_vectors(seed, W_AVERAGE_SAMPLES, latent_dim_of(generator), W_AVERAGE_STREAM)
    labels = cycled_labels(W_AVERAGE_SAMPLES, num_classes) if num_classes else None
    inputs = latents if labels is None else [latents, labels]
    return np.asarray(mapping.predict(inputs, batch_size=1000, verbose=0)).mean(axis=0)


@contextmanager
def truncation(
    generator: keras.Model, psi: float | None, seed: int, num_classes: int = 0
) -> Iterator[float | None]:
    """Set `generator` up to draw images truncated at `psi`; yields the threshold to
    truncate z at (None: draw z as it comes).

    A generator with a w space is truncated in w while the block runs, and
    restored after; every other generator is left as it is, and the caller
    truncates z at the yielded psi.
    """
    if psi is None or not has_w_space(generator):
        yield psi
        return
    layer = generator.get_layer(W_TRUNCATION)
    _set_w_truncation(layer, psi, w_average(generator, seed, num_classes))
    try:
        yield None
    finally:
        _set_w_truncation(layer, 1.0, np.zeros(layer.units, dtype=np.float32))


def _set_w_truncation(layer: keras.layers.Dense, psi: float, w_avg: np.ndarray) -> None:
    """kernel psi I and bias (1 - psi) w_avg: w -> w_avg + psi (w - w_avg)."""
    layer.kernel.assign(psi * np.eye(layer.units, dtype=np.float32))
    layer.bias.assign(((1.0 - psi) * w_avg).astype(np.float32))
