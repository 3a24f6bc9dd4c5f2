"""Regularisers on cases whose answer is known by hand."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pipeline.models.regularisers import REGULARISERS
from pipeline.models.regularisers.base import Critic

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=(64, 2)).astype("float32")
FAKE = RNG.normal(size=(64, 2)).astype("float32")


def linear_critic(weights: list[float]) -> keras.Model:
    inputs = keras.Input((len(weights),))
    dense = keras.layers.Dense(1, use_bias=False)
    critic = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array(weights, "float32").reshape(-1, 1)])
    return critic


def penalty(name: str, weights: list[float], loss_scale=None, **options) -> float:
    part = REGULARISERS[name](**options)
    critic = Critic(linear_critic(weights), loss_scale)
    value = part.discriminator_penalty(critic, REAL, FAKE, keras.random.SeedGenerator(0))
    return float(value)


@pytest.mark.parametrize("w", [[3.0, 4.0], [0.6, 0.0], [1.0, 0.0]])
def test_gradient_penalty_of_a_linear_critic_is_lambda_norm_minus_one_squared(w):
    expected = 10.0 * (np.linalg.norm(w) - 1.0) ** 2
    assert penalty("gradient_penalty", w, weight=10.0) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("w", [[3.0, 4.0], [0.6, 0.0]])
def test_r1_of_a_linear_critic_is_half_gamma_squared_norm(w):
    expected = 0.5 * 2.0 * float(np.sum(np.square(w)))
    assert penalty("r1", w, gamma=2.0) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["gradient_penalty", "r1"])
def test_a_loss_scale_leaves_the_penalty_unchanged(name):
    """Under float16 loss scaling the nested gradient is taken of scaled scores, then unscaled."""
    options = {"weight": 10.0} if name == "gradient_penalty" else {"gamma": 2.0}
    plain = penalty(name, [3.0, 4.0], **options)
    assert penalty(name, [3.0, 4.0], loss_scale=keras.Variable(2.0**15), **options) == (
        pytest.approx(plain, rel=1e-6)
    )


def test_gradient_penalty_interpolates_with_uniform_weights():
    """ε ~ U[0, 1]: on a critic that reads the input, the penalty sees mixes, not endpoints."""
    part = REGULARISERS["gradient_penalty"](weight=1.0)
    seen = []

    def critic(images):
        seen.append(images)
        return keras.ops.sum(images, axis=1, keepdims=True)

    real = np.ones((20_000, 1), "float32")
    fake = np.zeros((20_000, 1), "float32")
    part.discriminator_penalty(Critic(critic), real, fake, keras.random.SeedGenerator(0))
    eps = np.asarray(seen[0]).ravel()  # ε·1 + (1 - ε)·0
    assert eps.min() >= 0.0 and eps.max() <= 1.0
    assert eps.mean() == pytest.approx(0.5, abs=0.01)
    assert eps.std() == pytest.approx(1 / np.sqrt(12), abs=0.01)


def test_weight_clipping_bounds_every_critic_weight():
    critic = linear_critic([3.0, -0.005])
    REGULARISERS["weight_clipping"](clip_value=0.01).after_discriminator_update(critic)
    np.testing.assert_allclose(critic.get_weights()[0].ravel(), [0.01, -0.005])


def test_l2_sums_squared_kernels_only():
    inputs = keras.Input((2,))
    dense = keras.layers.Dense(1)
    network = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array([[1.0], [2.0]], "float32"), np.array([5.0], "float32")])
    value = REGULARISERS["l2"](weight=0.1).network_penalty(network)
    assert float(value) == pytest.approx(0.1 * (1.0 + 4.0))  # the bias is not penalised
