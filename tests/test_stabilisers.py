"""Stabilisers: spectral norm, DiffAugment, instance noise and the generator's EMA."""

from __future__ import annotations

from types import SimpleNamespace
from typing import ClassVar

import keras
import numpy as np
import pydantic
import pytest
import tensorflow as tf

from pipeline.models.adversarial import AdversarialModel
from pipeline.models.losses import LOSSES
from pipeline.models.regularisers import REGULARISERS, Regularisers
from pipeline.models.regularisers.diff_augment import DiffAugment
from pipeline.train_settings import SGDParams
from pipeline.training.model import make_optimizer

RNG = np.random.default_rng(0)
# RGB, so that saturation (which averages the channels) has something to do.
IMAGES = RNG.uniform(-1.0, 1.0, size=(16, 8, 8, 3)).astype("float32")


def holder(seed: int = 0) -> SimpleNamespace:
    """What the hooks read of the model: its seed generator."""
    return SimpleNamespace(seed_generator=keras.random.SeedGenerator(seed))


def augment(images, *policies: str, seed: int = 0, **options) -> np.ndarray:
    part = REGULARISERS["diff_augment"](policies=list(policies), **options)
    return np.asarray(part.discriminator_inputs(images, holder(seed)))


# --- spectral norm -------------------------------------------------------------


def top_singular_value(kernel) -> float:
    """σ of the kernel as the (fan-in, units) matrix that Keras (and the paper) normalises."""
    kernel = np.asarray(kernel)
    return float(np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0])


@pytest.mark.parametrize(
    ("layer", "inputs"),
    [
        (lambda: keras.layers.Dense(16), RNG.normal(size=(4, 32))),
        (lambda: keras.layers.Conv2D(8, 3), RNG.normal(size=(4, 8, 8, 3))),
    ],
    ids=["dense", "conv2d"],
)
def test_spectral_norm_brings_the_top_singular_value_to_one_in_training_calls(layer, inputs):
    keras.utils.set_random_seed(0)  # the kernel's initializer
    inner = layer()
    wrapped = REGULARISERS["spectral_norm"]().wrap_discriminator_layer(inner)
    assert isinstance(wrapped, keras.layers.SpectralNormalization)
    inputs = inputs.astype("float32")
    wrapped(inputs)  # builds u and the kernel
    inner.kernel.assign(5.0 * inner.kernel)  # far from 1, whatever the initializer gave
    before = top_singular_value(inner.kernel)
    assert before > 2.0

    # Inference leaves both the kernel and the power iteration's u alone.
    u = np.asarray(wrapped.vector_u).copy()
    wrapped(inputs, training=False)
    assert top_singular_value(inner.kernel) == pytest.approx(before)
    np.testing.assert_array_equal(np.asarray(wrapped.vector_u), u)

    # One power iteration per call: how fast the estimate of σ converges depends on the
    # gap to the second singular value, so give it enough calls for any initializer.
    for _ in range(100):
        wrapped(inputs, training=True)  # Keras writes kernel / σ back into the kernel
    assert top_singular_value(inner.kernel) == pytest.approx(1.0, abs=0.01)


def test_spectral_norm_passes_its_power_iterations_and_reloads_without_project_code(tmp_path):
    part = REGULARISERS["spectral_norm"](power_iterations=3)
    inputs = keras.Input((4,))
    wrapped = part.wrap_discriminator_layer(keras.layers.Dense(2))
    assert wrapped.power_iterations == 3
    model = keras.Model(inputs, wrapped(inputs))
    model.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras")
    x = RNG.normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


def test_spectral_norm_refuses_an_embedding():
    """Keras would cast the embeddings to the labels' integer dtype: zeros, silently."""
    with pytest.raises(TypeError, match="Embedding"):
        REGULARISERS["spectral_norm"]().wrap_discriminator_layer(keras.layers.Embedding(10, 4))


# --- DiffAugment: settings -----------------------------------------------------


def test_diff_augment_defaults_are_the_papers():
    part = Regularisers.model_validate({"diff_augment": {}}).diff_augment
    assert part.policies == ["color", "translation", "cutout"]
    assert (part.translation_ratio, part.cutout_ratio) == (0.125, 0.5)


@pytest.mark.parametrize(
    "policies", [["color", "color"], ["color", "flip"], []], ids=["repeated", "unknown", "empty"]
)
def test_diff_augment_refuses_bad_policies(policies):
    with pytest.raises(pydantic.ValidationError, match="policies"):
        Regularisers.model_validate({"diff_augment": {"policies": policies}})


def test_stabilisers_are_registered_after_l2_and_augment_before_the_noise():
    names = list(REGULARISERS)
    assert names.index("l2") < names.index("spectral_norm") < names.index("diff_augment")
    assert names.index("diff_augment") < names.index("instance_noise")


# --- DiffAugment: what each policy does ----------------------------------------


@pytest.mark.parametrize("policy", ["color", "translation", "cutout"])
def test_each_policy_changes_the_images_and_keeps_their_shape(policy):
    out = augment(IMAGES, policy)
    assert out.shape == IMAGES.shape
    assert np.isfinite(out).all()
    assert not np.allclose(out, IMAGES)


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """out[i, j] = image[i + dy, j + dx], 0 off the image."""
    height, width = image.shape[:2]
    out = np.zeros_like(image)
    for i in range(height):
        for j in range(width):
            if 0 <= i + dy < height and 0 <= j + dx < width:
                out[i, j] = image[i + dy, j + dx]
    return out


def test_translation_shifts_each_image_by_at_most_the_ratio_with_zero_fill():
    out = augment(IMAGES, "translation")
    limit = 1  # int(8 * 1/8 + 0.5)
    shifts = []
    for image, result in zip(IMAGES, out, strict=True):
        found = [
            (dy, dx)
            for dy in range(-limit, limit + 1)
            for dx in range(-limit, limit + 1)
            if np.array_equal(result, shifted(image, dy, dx))
        ]
        assert found, "an output that is no allowed shift of its image"
        shifts.append(found[0])
    assert len(set(shifts)) > 1  # a shift per image, not one for the batch


def test_cutout_zeroes_one_rectangle_of_at_most_the_ratio_per_image():
    ones = np.ones((64, 8, 8, 1), "float32")
    out = augment(ones, "cutout")[..., 0]
    assert set(np.unique(out)) <= {0.0, 1.0}
    length = 4  # int(8 * 1/2 + 0.5)
    for image in out:
        rows = np.flatnonzero((image == 0).any(axis=1))
        columns = np.flatnonzero((image == 0).any(axis=0))
        assert 0 < len(rows) <= length and 0 < len(columns) <= length
        assert np.array_equal(np.diff(rows), np.ones(len(rows) - 1))  # contiguous
        expected = np.ones((8, 8), "float32")
        expected[np.ix_(rows, columns)] = 0.0
        np.testing.assert_array_equal(image, expected)
    assert (out == 0).sum(axis=(1, 2)).max() == length * length  # a full hole inside


def test_color_on_grey_images_is_a_per_image_affine_map_of_the_papers_ranges():
    """Saturation does nothing on one channel: what is left is c·(x - x̄) + x̄ + b."""
    grey = IMAGES[..., :1]
    out = augment(grey, "color")
    for image, result in zip(grey, out, strict=True):
        slope, intercept = np.polyfit(image.ravel(), result.ravel(), 1)
        np.testing.assert_allclose(result, slope * image + intercept, atol=1e-5)
        assert 0.5 <= slope < 1.5  # contrast
        assert abs(result.mean() - image.mean()) <= 0.5 + 1e-6  # brightness
    slopes = [np.polyfit(i.ravel(), r.ravel(), 1)[0] for i, r in zip(grey, out, strict=True)]
    assert np.std(slopes) > 0.05  # a draw per image


def test_color_moves_an_rgb_images_mean_by_its_brightness_only():
    """Saturation and contrast keep an image's mean; brightness moves it by U[-0.5, 0.5)."""
    out = augment(IMAGES, "color")
    moved = out.mean(axis=(1, 2, 3)) - IMAGES.mean(axis=(1, 2, 3))
    assert np.all(np.abs(moved) <= 0.5 + 1e-6)
    assert np.std(moved) > 0.05


# --- DiffAugment: as the train step uses it ------------------------------------


def test_diff_augment_is_one_traceable_function_of_the_images_real_or_fake():
    """The same hook, so the same policies, for real and fake batches of any size."""
    part = REGULARISERS["diff_augment"]()
    model = holder()
    calls = []

    @tf.function(input_signature=[tf.TensorSpec((None, 8, 8, 3), tf.float32)])
    def discriminator_inputs(images):
        calls.append(images.shape)  # runs once, while traced
        return part.discriminator_inputs(images, model)

    real, fake = IMAGES, RNG.uniform(-1.0, 1.0, size=(5, 8, 8, 3)).astype("float32")
    real_out, fake_out = discriminator_inputs(real), discriminator_inputs(fake)
    assert len(calls) == 1  # one trace served both: a None batch dimension is fine
    assert real_out.shape == real.shape and fake_out.shape == fake.shape
    assert not np.allclose(real_out, real) and not np.allclose(fake_out, fake)


@pytest.mark.parametrize(
    "policies", [["color"], ["translation"], ["cutout"], ["color", "translation", "cutout"]]
)
def test_gradients_flow_through_diff_augment_to_the_images(policies):
    part = REGULARISERS["diff_augment"](policies=policies)
    images = tf.constant(IMAGES)
    weights = tf.constant(RNG.normal(size=IMAGES.shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(images)
        loss = tf.reduce_sum(part.discriminator_inputs(images, holder()) * weights)
    gradient = tape.gradient(loss, images)
    assert gradient is not None
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


def test_cutout_passes_the_gradient_of_exactly_the_kept_pixels():
    part = REGULARISERS["diff_augment"](policies=["cutout"])
    images = tf.constant(IMAGES[..., :1] + 2.0)  # no pixel is 0 before the cut
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = part.discriminator_inputs(images, holder())
        loss = tf.reduce_sum(out)
    np.testing.assert_array_equal(tape.gradient(loss, images), (np.asarray(out) != 0) * 1.0)


def test_diff_augment_is_seeded_by_the_models_seed_generator():
    same = augment(IMAGES, "color", "translation", "cutout", seed=7)
    np.testing.assert_array_equal(augment(IMAGES, "color", "translation", "cutout", seed=7), same)
    assert not np.allclose(augment(IMAGES, "color", "translation", "cutout", seed=8), same)
    # Each step draws afresh from the generator's advancing state.
    part, model = REGULARISERS["diff_augment"](), holder(7)
    first = np.asarray(part.discriminator_inputs(IMAGES, model))
    second = np.asarray(part.discriminator_inputs(IMAGES, model))
    np.testing.assert_array_equal(first, same)
    assert not np.allclose(first, second)


def test_diff_augment_refuses_inputs_that_are_not_images():
    with pytest.raises(ValueError, match="NHWC"):
        augment(IMAGES.reshape(16, -1), "color")


class SpiedDiffAugment(DiffAugment):
    """DiffAugment recording the shape of every batch it is given."""

    calls: ClassVar[list] = []

    def discriminator_inputs(self, images, model):
        SpiedDiffAugment.calls.append(tuple(images.shape))
        return super().discriminator_inputs(images, model)


def tiny_image_model(regularisers) -> AdversarialModel:
    """A GAN on 8×8 grey images, small enough to trace and step in a second or two."""
    keras.utils.set_random_seed(0)
    z = keras.Input((4,))
    x = keras.layers.Dense(64, activation="tanh")(z)
    generator = keras.Model(z, keras.layers.Reshape((8, 8, 1))(x))

    def wrap(layer):
        for part in regularisers:
            layer = part.wrap_discriminator_layer(layer)
        return layer

    images = keras.Input((8, 8, 1))
    x = keras.layers.LeakyReLU(0.2)(wrap(keras.layers.Conv2D(4, 3, strides=2))(images))
    score = wrap(keras.layers.Dense(1))(keras.layers.Flatten()(x))
    discriminator = keras.Model(images, score)
    model = AdversarialModel(
        generator=generator,
        discriminator=discriminator,
        loss=LOSSES["non_saturating"](),
        regularisers=regularisers,
        latent_dim=4,
        seed=0,
    )
    model.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
    return model


def test_diff_augment_is_off_outside_the_train_step():
    SpiedDiffAugment.calls.clear()
    model = tiny_image_model([SpiedDiffAugment()])
    z = RNG.normal(size=(4, 4)).astype("float32")
    model(z)
    model.generate(z, None, training=False)
    model.predict(z, verbose=0)
    model.discriminator(IMAGES[:4, :, :, :1])
    assert SpiedDiffAugment.calls == []

    model.fit(IMAGES[..., :1], batch_size=8, epochs=1, verbose=0)
    # Real and fake in the D step, fake in the G step: at least two batches.
    assert len(SpiedDiffAugment.calls) >= 2
    assert all(shape[1:] == (8, 8, 1) for shape in SpiedDiffAugment.calls)


def test_spectral_norm_and_diff_augment_train_together():
    model = tiny_image_model([REGULARISERS["spectral_norm"](), REGULARISERS["diff_augment"]()])
    history = model.fit(IMAGES[..., :1], batch_size=4, epochs=3, verbose=0).history
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
    kernels = [w for w in model.discriminator.trainable_weights if len(w.shape) > 1]
    assert len(kernels) == 2
    for kernel in kernels:
        # Normalised in each training call; only the last optimizer step moved it since.
        assert top_singular_value(kernel) == pytest.approx(1.0, abs=0.05)


# --- instance noise and the generator's EMA ------------------------------------


def test_instance_noise_adds_gaussian_noise_of_the_models_current_std():
    model = holder()
    model.instance_noise_std = keras.Variable(0.3, trainable=False)
    part = REGULARISERS["instance_noise"](std=1.0)  # the schedule's start; the hook reads σ
    images = np.full((400, 16, 16, 1), 0.25, "float32")
    noise = np.asarray(part.discriminator_inputs(images, model)) - images
    assert noise.mean() == pytest.approx(0.0, abs=0.01)
    assert noise.std() == pytest.approx(0.3, abs=0.01)
    model.instance_noise_std.assign(0.0)  # the schedule's end: the images as they are
    np.testing.assert_array_equal(part.discriminator_inputs(images, model), images)


def test_generator_ema_asks_keras_optimizer_for_an_average_of_the_weights():
    options = REGULARISERS["ema"](momentum=0.995).generator_optimizer_options()
    assert options == {"use_ema": True, "ema_momentum": 0.995}
    optimizer = keras.optimizers.Adam(**options)  # the keys are Keras' own
    assert optimizer.use_ema and optimizer.ema_momentum == 0.995


def test_the_weight_average_warms_its_decay_up():
    """Decay min(0.999, (1 + t) / (10 + t)) at step t: after 200 steps the average is the
    recent weights', where Keras' fixed 0.999 would still hold 82% of the first step's."""
    options = REGULARISERS["ema"](momentum=0.999).generator_optimizer_options()
    optimizer = make_optimizer(SGDParams(learning_rate=1.0), **options)
    weight = keras.Variable(0.0)
    optimizer.build([weight])
    expected = 0.0
    for step in range(200):
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(-1.0), weight)])  # +1 a step
        decay = 0.0 if step == 0 else min(0.999, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * (step + 1.0)
    average = float(optimizer._model_variables_moving_average[0])
    assert average == pytest.approx(expected, rel=1e-5)
    assert average > 150  # Keras' own average: about 0.82 * 1 + 0.18 * 100 = 19
    assert optimizer.ema_momentum == 0.999  # the configured decay is left as it was
