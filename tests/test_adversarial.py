"""The composed train step on problems whose answer is known."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from toy import (
    assert_matches_mixture,
    labelled_two_mode_mixture,
    toy_batches,
    toy_conditional_discriminator,
    toy_conditional_generator,
    toy_discriminator,
    toy_generator,
    two_mode_mixture,
)

from pipeline import backend
from pipeline.models.adversarial import AdversarialModel
from pipeline.models.conditioning import CONDITIONING
from pipeline.models.losses import LOSSES
from pipeline.models.regularisers import REGULARISERS

LATENT_DIM = 8


def toy_model(
    loss: str = "non_saturating",
    regularisers=(),
    d_steps: int = 1,
    *,
    conditional: bool = False,
    learning_rate: float = 5e-4,
    beta_1: float = 0.5,
    optimizer=keras.optimizers.Adam,
) -> AdversarialModel:
    # Seeded as training seeds (deterministic kernels on): keras.utils.set_random_seed
    # alone leaves TensorFlow free to sum in any order, which a loaded machine varies,
    # unless an earlier test in the same worker happened to turn determinism on.
    backend.seed_everything(0)
    if conditional:
        networks = toy_conditional_generator(LATENT_DIM), toy_conditional_discriminator()
    else:
        networks = toy_generator(LATENT_DIM), toy_discriminator()
    model = AdversarialModel(
        generator=networks[0],
        discriminator=networks[1],
        loss=LOSSES[loss](),
        regularisers=regularisers,
        latent_dim=LATENT_DIM,
        conditioning=CONDITIONING["concat" if conditional else "none"](),
        num_classes=2 if conditional else 0,
        d_steps=d_steps,
        seed=0,
    )
    options = {"beta_1": beta_1, "beta_2": 0.9} if optimizer is keras.optimizers.Adam else {}
    model.compile(
        d_optimizer=optimizer(learning_rate, **options),
        g_optimizer=optimizer(learning_rate, **options),
    )
    return model


@pytest.mark.parametrize(
    ("loss", "regularisers", "d_steps", "epochs"),
    [
        ("non_saturating", (), 1, 20),
        ("minimax", (), 1, 20),
        ("hinge", (), 1, 20),
        ("least_squares", (), 1, 20),
        ("relativistic", (), 1, 20),
        ("non_saturating", (REGULARISERS["r1"](gamma=0.1),), 1, 20),
        ("wasserstein", (REGULARISERS["gradient_penalty"](weight=10.0),), 5, 60),
    ],
    ids=["non_saturating", "minimax", "hinge", "least_squares", "relativistic", "r1", "wgan_gp"],
)
def test_generator_matches_the_two_mode_mixture(loss, regularisers, d_steps, epochs):
    beta_1 = 0.0 if loss == "wasserstein" else 0.5
    model = toy_model(loss, regularisers, d_steps, beta_1=beta_1)
    model.fit(toy_batches(d_steps * 128), epochs=epochs, verbose=0, shuffle=False)
    assert_matches_mixture(model.generator, LATENT_DIM)


def test_weight_clipped_critic_matches_the_mixture_and_stays_in_bounds():
    # The paper's RMSprop 5e-5 and c = 0.01 need far more steps than a unit
    # test affords; larger steps and bound reach the target in seconds.
    clipping = REGULARISERS["weight_clipping"](clip_value=0.1)
    model = toy_model(
        "wasserstein", (clipping,), 5, learning_rate=1e-3, optimizer=keras.optimizers.RMSprop
    )
    model.fit(toy_batches(5 * 128), epochs=40, verbose=0, shuffle=False)
    assert_matches_mixture(model.generator, LATENT_DIM)
    weights = np.concatenate([np.ravel(w) for w in model.discriminator.get_weights()])
    assert np.abs(weights).max() <= 0.1 + 1e-7
    assert np.isclose(np.abs(weights).max(), 0.1), "the bound was never reached: test too weak"


@pytest.mark.parametrize(
    ("loss", "regularisers", "expected"),
    [
        ("non_saturating", (), ["d_loss", "g_loss", "d_acc_real", "d_acc_fake"]),
        ("least_squares", (), ["d_loss", "g_loss", "d_acc_real", "d_acc_fake"]),
        ("relativistic", (), ["d_loss", "g_loss"]),
        (
            "wasserstein",
            ("gradient_penalty",),
            ["d_loss", "g_loss", "wasserstein", "gradient_penalty"],
        ),
        ("hinge", ("r1",), ["d_loss", "g_loss", "d_acc_real", "d_acc_fake", "r1_penalty"]),
    ],
)
def test_each_part_reports_what_it_tracks(loss, regularisers, expected):
    options = {"gradient_penalty": {"weight": 10.0}, "r1": {"gamma": 1.0}}
    parts = tuple(REGULARISERS[name](**options[name]) for name in regularisers)
    model = toy_model(loss, parts)
    assert model.optimizer is None, "compile leaves no third optimizer"
    history = model.fit(toy_batches(128, count=1024), epochs=1, verbose=0, shuffle=False)
    assert_no_stray_optimizer_variables(model)
    # One D step per G step (toy_model's default): 8 batches, 8 of each.
    assert int(model.g_optimizer.iterations) == int(model.d_optimizer.iterations) == 8
    assert [tracker.name for tracker in model.metrics] == expected  # history.csv's order
    assert set(history.history) == set(expected)
    for name in ("d_acc_real", "d_acc_fake"):
        if name in expected:
            assert 0.0 <= history.history[name][0] <= 1.0
    for name in ("gradient_penalty", "r1_penalty"):
        if name in expected:
            assert history.history[name][0] > 0.0


def assert_no_stray_optimizer_variables(model: AdversarialModel) -> None:
    """Every optimizer variable the model tracks is one of its two optimizers'."""
    optimizer_variables = {id(v) for v in model.d_optimizer.variables + model.g_optimizer.variables}
    network_variables = {id(v) for v in model.generator.variables + model.discriminator.variables}
    stray = [
        v.path
        for v in model.variables
        if id(v) not in optimizer_variables | network_variables and "optimizer" in v.path
    ]
    assert not stray


def test_discriminator_takes_k_steps_per_generator_step():
    # One D step per G step: test_each_part_reports_what_it_tracks counts them.
    d_steps = 3
    model = toy_model(d_steps=d_steps)
    steps = 5
    batches = toy_batches(32 * d_steps, count=32 * d_steps * steps)
    model.fit(batches, epochs=1, verbose=0, shuffle=False)
    assert int(model.g_optimizer.iterations) == steps
    assert int(model.d_optimizer.iterations) == d_steps * steps


def test_same_seed_same_weights():
    def trained() -> list[np.ndarray]:
        model = toy_model("hinge", (REGULARISERS["r1"](gamma=1.0),))
        model.fit(toy_batches(128, count=1024), epochs=2, verbose=0, shuffle=False)
        return model.generator.get_weights()

    for first, second in zip(trained(), trained(), strict=True):
        np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    ("loss", "regularisers", "d_steps"),
    [
        ("non_saturating", (), 1),
        ("wasserstein", (REGULARISERS["gradient_penalty"](weight=10.0),), 5),
    ],
    ids=["cgan", "conditional_wgan_gp"],
)
def test_conditional_samples_land_in_their_labels_mode(loss, regularisers, d_steps):
    model = toy_model(loss, regularisers, d_steps, conditional=True)
    points, labels = labelled_two_mode_mixture(8192)
    data = tf.data.Dataset.from_tensor_slices((points, labels)).shuffle(8192, seed=0)
    batches = data.batch(128 * d_steps, drop_remainder=True)
    model.fit(batches, epochs=15, verbose=0, shuffle=False)

    z = np.random.default_rng(1).standard_normal((2000, LATENT_DIM)).astype("float32")
    for label, side in ((0, -1), (1, 1)):
        asked = np.full((2000,), label, dtype="int32")
        samples = np.asarray(model.generator([z, asked]))
        share = np.mean(np.sign(samples[:, 0]) == side)
        assert share > 0.9, f"label {label}: only {share:.2f} of samples in its mode"


def test_conditional_model_rejects_unlabelled_batches():
    model = toy_model(conditional=True)
    with pytest.raises(ValueError, match="labels"):
        model.train_step(tf.constant(two_mode_mixture(8)))
