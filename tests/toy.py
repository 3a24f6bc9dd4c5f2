"""Small problems whose answer is known, for testing train steps in seconds."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

MIXTURE_CENTRES = np.array([[-2.0, 0.0], [2.0, 0.0]], dtype=np.float32)
MIXTURE_STD = 0.5


def two_mode_mixture(count: int, seed: int = 0) -> np.ndarray:
    """An equal mixture of two 2-D Gaussians at (-2, 0) and (2, 0), std 0.5."""
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, 2, size=count)
    noise = rng.normal(0.0, MIXTURE_STD, size=(count, 2))
    return (MIXTURE_CENTRES[modes] + noise).astype(np.float32)


def toy_generator(latent_dim: int = 8, width: int = 64) -> keras.Model:
    z = keras.Input((latent_dim,))
    x = layers.Dense(width, activation="relu")(z)
    x = layers.Dense(width, activation="relu")(x)
    return keras.Model(z, layers.Dense(2)(x), name="generator")


def toy_discriminator(width: int = 64) -> keras.Model:
    x_in = keras.Input((2,))
    x = layers.Dense(width)(x_in)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Dense(width)(x)
    x = layers.LeakyReLU(0.2)(x)
    return keras.Model(x_in, layers.Dense(1)(x), name="discriminator")
