"""Small problems whose answer is known, for testing train steps in seconds."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

MIXTURE_CENTRES = np.array([[-2.0, 0.0], [2.0, 0.0]], dtype=np.float32)
MIXTURE_STD = 0.5


def two_mode_mixture(count: int, seed: int = 0) -> np.ndarray:
    """An equal mixture of two 2-D Gaussians at (-2, 0) and (2, 0), std 0.5."""
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, 2, size=count)
    noise = rng.normal(0.0, MIXTURE_STD, size=(count, 2))
    return (MIXTURE_CENTRES[modes] + noise).astype(np.float32)


def toy_batches(batch_size: int, count: int = 8192) -> tf.data.Dataset:
    """Shuffled, full batches of `two_mode_mixture`."""
    data = two_mode_mixture(count)
    dataset = tf.data.Dataset.from_tensor_slices(data).shuffle(count, seed=0)
    return dataset.batch(batch_size, drop_remainder=True)


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


def labelled_two_mode_mixture(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The same mixture, with each point's mode as its label (0: left, 1: right)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=count)
    noise = rng.normal(0.0, MIXTURE_STD, size=(count, 2))
    return (MIXTURE_CENTRES[labels] + noise).astype(np.float32), labels.astype(np.int32)


def _one_hot(labels, num_classes: int):
    return layers.CategoryEncoding(num_tokens=num_classes, output_mode="one_hot")(labels)


def toy_conditional_generator(latent_dim: int = 8, num_classes: int = 2, width: int = 64):
    z = keras.Input((latent_dim,))
    label = keras.Input((), dtype="int32")
    x = layers.Concatenate()([z, _one_hot(label, num_classes)])
    x = layers.Dense(width, activation="relu")(x)
    x = layers.Dense(width, activation="relu")(x)
    return keras.Model([z, label], layers.Dense(2)(x), name="generator")


def toy_conditional_discriminator(num_classes: int = 2, width: int = 64):
    point = keras.Input((2,))
    label = keras.Input((), dtype="int32")
    x = layers.Concatenate()([point, _one_hot(label, num_classes)])
    x = layers.LeakyReLU(0.2)(layers.Dense(width)(x))
    x = layers.LeakyReLU(0.2)(layers.Dense(width)(x))
    return keras.Model([point, label], layers.Dense(1)(x), name="discriminator")


def assert_matches_mixture(generator: keras.Model, latent_dim: int) -> None:
    """Fail unless the generator's samples have the mixture's mean, spread and two modes.

    GAN snapshots oscillate around the target; the bounds leave room for that
    and still fail a collapsed or untrained generator (spread ratio near 0).
    """
    z = np.random.default_rng(1).standard_normal((4000, latent_dim)).astype("float32")
    samples = np.asarray(generator(z))
    target = two_mode_mixture(100_000, seed=2)
    np.testing.assert_allclose(samples.mean(axis=0), target.mean(axis=0), atol=0.5)
    ratio = samples.std(axis=0) / target.std(axis=0)
    assert np.all((ratio > 0.5) & (ratio < 1.5)), f"spread ratio {ratio}"
    distances = np.linalg.norm(samples[:, None, :] - MIXTURE_CENTRES[None], axis=-1)
    share_right = np.argmin(distances, axis=1).mean()
    assert 0.3 < share_right < 0.7, f"mode collapse: {share_right:.2f} of samples in one mode"
