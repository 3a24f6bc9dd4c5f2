"""The GAN's train_step on problems whose answer is known."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from toy import assert_matches_mixture, toy_batches, toy_discriminator, toy_generator

from pipeline.models.gan import GAN
from pipeline.models.losses import (
    discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
)

LATENT_DIM = 8


def toy_gan(loss: str = "non_saturating", d_steps: int = 1, seed: int = 0) -> GAN:
    keras.utils.set_random_seed(seed)
    model = GAN(toy_generator(LATENT_DIM), toy_discriminator(), LATENT_DIM, d_steps, loss, seed)
    model.compile(
        d_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5),
    )
    return model


@pytest.mark.parametrize("loss", ["non_saturating", "minimax"])
def test_generator_matches_two_mode_mixture(loss):
    model = toy_gan(loss)
    model.fit(toy_batches(128), epochs=40, verbose=0, shuffle=False)
    assert_matches_mixture(model.generator, LATENT_DIM)


def test_metrics_are_reported_per_epoch():
    model = toy_gan()
    history = model.fit(toy_batches(128, count=1024), epochs=1, verbose=0, shuffle=False)
    assert set(history.history) == {"d_loss", "g_loss", "d_acc_real", "d_acc_fake"}
    for name in ("d_acc_real", "d_acc_fake"):
        assert 0.0 <= history.history[name][0] <= 1.0


@pytest.mark.parametrize("d_steps", [1, 3])
def test_discriminator_takes_k_steps_per_generator_step(d_steps):
    model = toy_gan(d_steps=d_steps)
    steps = 5
    batches = toy_batches(32 * d_steps, count=32 * d_steps * steps)
    model.fit(batches, epochs=1, verbose=0, shuffle=False)
    assert int(model.g_optimizer.iterations) == steps
    assert int(model.d_optimizer.iterations) == d_steps * steps


def test_losses_match_their_definitions():
    logits = np.array([-2.0, 0.0, 3.0], dtype="float32")
    d_real = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(
        discriminator_loss(logits, logits), -np.log(d_real) - np.log(1 - d_real), rtol=1e-5
    )
    np.testing.assert_allclose(minimax_generator_loss(logits), np.log(1 - d_real), rtol=1e-5)
    np.testing.assert_allclose(non_saturating_generator_loss(logits), -np.log(d_real), rtol=1e-5)


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError, match="minimax"):
        GAN(toy_generator(), toy_discriminator(), LATENT_DIM, loss="hinge")


def test_one_sided_label_smoothing_moves_only_the_real_target():
    logits = np.array([-2.0, 0.0, 3.0], dtype="float32")
    d = 1 / (1 + np.exp(-logits))
    smoothed = np.asarray(discriminator_loss(logits, logits, label_smoothing=0.1))
    expected = -(0.9 * np.log(d) + 0.1 * np.log(1 - d)) - np.log(1 - d)
    np.testing.assert_allclose(smoothed, expected, rtol=1e-5)
