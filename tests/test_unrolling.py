"""Unrolled GAN: G's loss through k unrolled D steps, checked against a hand computation.

Tiny networks throughout: a linear G and D for the known answer, the smallest
MLPs for the step's properties. TF/JAX agreement of the `unrolled` preset is
tests/test_jax.py's (it takes every preset); its toy run and reload,
tests/test_presets.py's.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from pipeline.models.adversarial import AdversarialModel
from pipeline.models.losses import LOSSES
from pipeline.models.unrolling import Unrolling, adam_state, adam_step
from pipeline.params import ModelParams, ParamsError, applicable_params, parse_params
from pipeline.training.model import build_model

SHAPE = (4, 4, 1)
BATCH = 8
NETWORK = {
    "kind": "mlp",
    "latent_dim": 4,
    "generator_units": [8],
    "discriminator_units": [8],
    "dropout": 0.0,
}


def tiny_model(section: dict, seed: int = 0) -> AdversarialModel:
    params = ModelParams.model_validate({"network": NETWORK, **section})
    return build_model(params, SHAPE, seed=seed)


def real_batch(rows: int = BATCH) -> np.ndarray:
    return np.random.default_rng(3).uniform(-1, 1, (rows, *SHAPE)).astype("float32")


def weights_of(network: keras.Model) -> list[np.ndarray]:
    return [np.array(w) for w in network.weights]


def test_unrolling_off_leaves_the_step_and_the_record_as_they_were():
    # The `unrolled` preset with its unrolling dropped is plain GAN training at
    # the preset's optimizers: bit for bit the `gan` step with those optimizers.
    adam = {"name": "adam", "learning_rate": 1e-4}
    plain = tiny_model({"train": {"d_optimizer": adam, "g_optimizer": adam}})
    dropped = tiny_model({"family": "unrolled", "unrolling": None})
    assert dropped.unrolling is None
    for model in (plain, dropped):
        model.fit(real_batch(4 * BATCH), batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    for mine, theirs in zip(weights_of(plain), weights_of(dropped), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    # Off, the slot is left out of resolved/ and the run's params.
    section = ModelParams.model_validate({"family": "gan"})
    assert "unrolling" not in applicable_params(section)
    on = ModelParams.model_validate({"family": "unrolled"})
    expected = {"steps": 5, "rule": "adam", "learning_rate": None}
    assert applicable_params(on)["unrolling"] == expected


def test_the_generator_step_looks_ahead_and_leaves_the_real_discriminator_alone():
    plain = tiny_model({})
    unrolled = tiny_model({"unrolling": {"steps": 3, "learning_rate": 0.5}})
    for a, b in zip(plain.weights, unrolled.weights, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    real = real_batch()
    d_before = weights_of(unrolled.discriminator)
    d_slots_before = [np.array(v) for v in unrolled.d_optimizer.variables]
    for model in (plain, unrolled):
        model.build_optimizers()
        model._generator_step(real, None)
    for before, after in zip(d_before, weights_of(unrolled.discriminator), strict=True):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(d_slots_before, unrolled.d_optimizer.variables, strict=True):
        np.testing.assert_array_equal(before, np.array(after))
    moved = [
        np.max(np.abs(a - b))
        for a, b in zip(weights_of(plain.generator), weights_of(unrolled.generator), strict=True)
    ]
    assert max(moved) > 1e-6, "unrolling did not change G's update"


LATENT = 3
FLAT = 4  # a 2x2 image
BETAS = (0.5, 0.9)


def linear_model(unrolling: Unrolling) -> AdversarialModel:
    """G(z) = A z + c and D(x) = w . x + b, G trained by SGD at rate 1 (its update is -grad)."""
    keras.utils.set_random_seed(1)
    z = keras.Input((LATENT,))
    image = keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(FLAT)(z))
    generator = keras.Model(z, image)
    x = keras.Input((2, 2, 1))
    score = keras.layers.Dense(1)(keras.layers.Flatten()(x))
    discriminator = keras.Model(x, score)
    for layer in (*generator.layers, *discriminator.layers):
        for weight in layer.weights:  # nonzero biases, so every term of the answer counts
            weight.assign(np.random.default_rng(len(weight.shape)).normal(0, 0.7, weight.shape))
    model = AdversarialModel(
        generator=generator,
        discriminator=discriminator,
        loss=LOSSES["non_saturating"](),
        latent_dim=LATENT,
        seed=0,
        unrolling=unrolling,
    )
    d_optimizer = keras.optimizers.Adam(0.05, beta_1=BETAS[0], beta_2=BETAS[1])
    model.compile(d_optimizer=d_optimizer, g_optimizer=keras.optimizers.SGD(1.0))
    model.build_optimizers()
    return model


def softplus(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def unrolled_generator_loss(params, z, real, d0, steps: int, rate: float, adam=None) -> float:
    """The answer in float64, by hand: G's non-saturating loss after the unrolled steps of
    D's loss, softplus(-D(real)) + softplus(D(fake)), on this batch.

    `adam`: (step count, moments of w and b) of D's Adam, for rule adam; else plain steps.
    """
    a, c = params[: LATENT * FLAT].reshape(LATENT, FLAT), params[LATENT * FLAT :]
    fake = z @ a + c
    weights = list(d0)
    if adam is not None:
        iterations, (momentums, velocities) = adam
    for step in range(steps):
        w, b = weights
        real_weight, fake_weight = -sigmoid(-(real @ w + b)), sigmoid(fake @ w + b)
        gradients = [
            (real.T @ real_weight + fake.T @ fake_weight) / len(real),
            np.mean(real_weight) + np.mean(fake_weight),
        ]
        if adam is None:
            weights = [wt - rate * g for wt, g in zip(weights, gradients, strict=True)]
            continue
        t = iterations + step + 1
        momentums = [
            m + (g - m) * (1 - BETAS[0]) for m, g in zip(momentums, gradients, strict=True)
        ]
        velocities = [
            v + (g * g - v) * (1 - BETAS[1]) for v, g in zip(velocities, gradients, strict=True)
        ]
        size = rate * np.sqrt(1 - BETAS[1] ** t) / (1 - BETAS[0] ** t)
        weights = [
            wt - m * size / (np.sqrt(v) + 1e-7)
            for wt, m, v in zip(weights, momentums, velocities, strict=True)
        ]
    w, b = weights
    return float(np.mean(softplus(-(fake @ w + b))))


def finite_differences(loss, params: np.ndarray, step: float = 1e-6) -> np.ndarray:
    return np.array(
        [
            (loss(params + step * e) - loss(params - step * e)) / (2 * step)
            for e in np.eye(params.size)
        ]
    )


@pytest.mark.parametrize(
    "unrolling",
    [
        Unrolling(steps=1, rule="sgd", learning_rate=0.8),
        Unrolling(steps=2, rule="sgd", learning_rate=0.8),
        Unrolling(steps=3, rule="adam"),
    ],
    ids=["sgd1", "sgd2", "adam3"],
)
def test_the_gradient_through_the_unroll_matches_finite_differences(unrolling):
    model = linear_model(unrolling)
    real = real_batch(BATCH)[:, :2, :2]
    discriminator = model.discriminator
    for _ in range(2):  # D's Adam has moments and a step count of its own to continue
        model._discriminator_step(real, None)
    # The z the step will draw: the same generator state, drawn once more.
    twin = keras.random.SeedGenerator(0)
    twin.state.assign(model.seed_generator.state.value)
    z = np.asarray(keras.random.normal((BATCH, LATENT), seed=twin), dtype=np.float64)

    def numbers(tensors):
        return [np.array(t, np.float64) for t in tensors]

    kernel, bias = numbers(model.generator.trainable_weights)
    d_kernel, d_bias = numbers(discriminator.trainable_weights)
    d0 = (d_kernel[:, 0], d_bias[0])
    moments = [
        [slot[0][:, 0], slot[1][0]]
        for slot in map(numbers, adam_state(model.d_optimizer, discriminator.trainable_weights))
    ]
    adam = (int(model.d_optimizer.iterations), moments) if unrolling.rule == "adam" else None
    rate = unrolling.learning_rate or 0.05  # D's Adam's rate
    params = np.concatenate([kernel.ravel(), bias])
    flat_real = real.astype(np.float64).reshape(BATCH, FLAT)
    d_before = numbers(discriminator.trainable_weights)
    model._generator_step(real, None)

    def loss(p, steps=unrolling.steps):
        return unrolled_generator_loss(p, z, flat_real, d0, steps, rate, adam)

    new_kernel, new_bias = numbers(model.generator.trainable_weights)
    gradient = params - np.concatenate([new_kernel.ravel(), new_bias])  # SGD at rate 1
    np.testing.assert_allclose(gradient, finite_differences(loss, params), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(model.trackers["g_loss"].result(), loss(params), rtol=1e-5)
    for before, after in zip(d_before, numbers(discriminator.trainable_weights), strict=True):
        np.testing.assert_array_equal(before, after)
    # The look-ahead matters here: the plain gradient is another.
    plain = finite_differences(lambda p: loss(p, steps=0), params)
    assert np.max(np.abs(plain - gradient)) > 1e-2


def test_an_unrolled_adam_step_is_the_optimizers_own():
    model = linear_model(Unrolling(steps=1))
    variables = model.discriminator.trainable_variables
    model._discriminator_step(real_batch(BATCH)[:, :2, :2], None)  # moments of its own
    rng = np.random.default_rng(5)
    gradients = [rng.normal(0, 1, v.shape).astype("float32") for v in variables]
    state = adam_state(model.d_optimizer, variables)
    weights = [ops.convert_to_tensor(v) for v in variables]
    unrolled, _ = adam_step(weights, gradients, state, 0.05, model.d_optimizer, 0)
    model.d_optimizer.apply(gradients, variables)
    for mine, theirs in zip(unrolled, variables, strict=True):
        np.testing.assert_allclose(np.array(mine), np.array(theirs), rtol=1e-6, atol=1e-7)


def test_same_seed_same_weights():
    models = [tiny_model({"family": "unrolled"}) for _ in range(2)]
    initial = weights_of(models[0].generator)
    for model in models:
        model.fit(real_batch(2 * BATCH), batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    for mine, theirs in zip(weights_of(models[0]), weights_of(models[1]), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    # The steps moved G, so the equality above is of trained weights.
    assert not np.array_equal(initial[0], weights_of(models[0].generator)[0])


def model_error(section: dict, prepare: dict | None = None) -> str:
    with pytest.raises(ParamsError) as caught:
        parse_params({"models": ["m"], "prepare": prepare or {}, "m": section})
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("section", "prepare", "expected"),
    [
        (
            {"family": "pix2pix", "unrolling": {"steps": 5}},
            {"domains": ["edges"]},
            "m.unrolling: unknown key",
        ),
        ({"family": "cogan", "unrolling": {"steps": 5}}, None, "m.unrolling: unknown key"),
        (
            {"family": "wgan_gp", "unrolling": {"steps": 5}},
            None,
            "m.unrolling: the unrolled D steps take D's loss without regularisers, so "
            "gradient_penalty would apply to the real D only (allowed with unrolling: ema)",
        ),
        (
            {"family": "unrolled", "train": {"d_optimizer": {"name": "rmsprop"}}},
            None,
            "m.unrolling.rule: adam continues D's Adam, and train.d_optimizer is rmsprop "
            "(allowed: d_optimizer adam, or rule sgd)",
        ),
        (
            {"family": "unrolled", "train": {"precision": "mixed_float16"}},
            None,
            "m.unrolling: its inner gradients are not loss-scaled",
        ),
        ({"family": "unrolled", "unrolling": {"steps": 0}}, None, "m.unrolling.steps = 0"),
        (
            {"family": "unrolled", "unrolling": {"steps": 5, "first_order": True}},
            None,
            "m.unrolling.first_order: unknown key (allowed: learning_rate, rule, steps)",
        ),
    ],
    ids=["translation", "coupled", "regulariser", "rmsprop", "float16", "zero", "unknown"],
)
def test_the_schema_refuses_unrolling_where_it_does_not_apply(section, prepare, expected):
    assert expected in model_error(section, prepare)


def test_unrolling_combines_with_conditioning_and_ema():
    section = {
        "family": "acgan",
        "unrolling": {"steps": 2},
        "regularisers": {"ema": {"momentum": 0.9}},
    }
    params = ModelParams.model_validate({"network": NETWORK, **section})
    model = build_model(params, SHAPE, seed=0, num_classes=3)
    labels = np.arange(BATCH, dtype="int32") % 3
    history = model.fit(real_batch(), labels, batch_size=BATCH, epochs=1, verbose=0)
    assert all(np.isfinite(values).all() for values in history.history.values())
