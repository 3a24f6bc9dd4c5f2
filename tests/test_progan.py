"""ProGAN: the growth schedule, the blends' known answers, the parts as options, a resume
inside a fade. The standalone reload is test_networks'; TF against JAX, test_jax's."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from one_step import BATCH, OWN_NETWORKS
from resume import check_resume

from pipeline.data.stream import ArrayExamples, BatchStream
from pipeline.models.conditioning import Unconditional
from pipeline.models.networks import ProGAN
from pipeline.models.networks.progan import growth_level
from pipeline.params import ModelParams
from pipeline.training.model import build_model

IMAGE_SHAPE = (28, 28, 1)
LATENT = 8
TINY = ProGAN(latent_dim=LATENT, filters=2)

# 8x8 images (4 -> 8), 4 steps of 8 an epoch, phases of 20 images: the first epoch ends
# after 32 images, 60% into the fade to 8x8 (its last step began at 24, 20% in), and
# the second ends in the stable phase at full size.
SMALL_SHAPE = (8, 8, 1)
SECTION = {
    "family": "progan",
    "network": {"kind": "progan", "latent_dim": LATENT, "filters": 2, "phase_images": 20},
    "train": {"batch_size": 8},
}


def level(images: int, phase_images: int = 100, levels: int = 3) -> float:
    return float(np.asarray(growth_level(images, phase_images, levels)))


def latents(n: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, LATENT)).astype("float32")


def set_level(generator, discriminator, images_seen: int, network: ProGAN = TINY) -> None:
    """The blends as the model's step sets them after `images_seen` images."""
    network.schedule(generator, discriminator)(images_seen)


def layer_output(model: keras.Model, name: str, inputs) -> np.ndarray:
    return np.asarray(keras.Model(model.input, model.get_layer(name).output)(inputs))


# --- the preset and the schedule -------------------------------------------------------


def test_the_preset_is_the_paper_s_setting():
    params = ModelParams.model_validate({"family": "progan"})
    assert params.loss.name == "wasserstein" and params.train.d_steps == 1
    assert params.regularisers.gradient_penalty.weight == 10.0
    assert params.regularisers.drift.weight == 0.001
    assert params.regularisers.ema.momentum == 0.999
    for optimizer in (params.train.d_optimizer, params.train.g_optimizer):
        assert (optimizer.learning_rate, optimizer.beta_1, optimizer.beta_2) == (1e-3, 0.0, 0.99)
    network = params.network
    assert isinstance(network, ProGAN)
    assert network.pixel_norm and network.minibatch_std and network.equalised_lr
    assert network.phase_images == 20_000
    with pytest.raises(ValueError, match="discriminator_norm"):
        ModelParams.model_validate({"family": "progan", "network": {"discriminator_norm": "layer"}})


def test_only_progan_has_a_schedule():
    """Every other kind's model runs its step as before: no schedule is called."""
    for section in ({"family": "wgan_gp"}, {"family": "dcgan"}):
        model = build_model(ModelParams.model_validate(section), SMALL_SHAPE, seed=0)
        assert model.schedule is None
    model = build_model(ModelParams.model_validate(SECTION), SMALL_SHAPE, seed=0)
    assert callable(model.schedule)


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        (0, 0.0),  # phase 0 holds the start square
        (99, 0.0),
        (100, 0.0),  # phase 1 fades the second resolution in
        (125, 0.25),
        (150, 0.5),
        (200, 1.0),  # phase 2 holds it
        (299, 1.0),
        (350, 1.5),  # phase 3 fades the image's resolution in
        (400, 2.0),  # and from phase 4 on, the full image
        (10**9, 2.0),
    ],
)
def test_growth_level_at_known_image_counts(images, expected):
    assert level(images) == pytest.approx(expected)


def test_one_step_s_progan_step_runs_inside_a_fade():
    """tests/one_step.py starts its progan model mid-fade, so test_jax compares a live blend."""
    network, image_shape, updates = OWN_NETWORKS["progan"]
    levels = TINY.levels(image_shape)
    assert 0.0 < level(updates * BATCH, network["phase_images"], levels) < 1.0


# --- the blends' known answers ------------------------------------------------------------


def test_g_at_level_0_is_the_start_image_upsampled_and_fades_to_the_full_one():
    generator, discriminator = TINY.build(IMAGE_SHAPE, Unconditional(), 0)
    z = latents(3)
    start = layer_output(generator, "to_rgb_0", z)
    assert start.shape == (3, 7, 7, 1)
    nearest = np.repeat(np.repeat(start, 4, axis=1), 4, axis=2)  # 7x7 -> 28x28
    np.testing.assert_allclose(generator(z), np.tanh(nearest), atol=1e-6)

    # Half-way into the last fade (phase 3 of 20,000 images each): half 14x14, half 28x28.
    set_level(generator, discriminator, 70_000)
    middle = np.repeat(np.repeat(layer_output(generator, "to_rgb_1", z), 2, axis=1), 2, axis=2)
    full = layer_output(generator, "to_rgb_2", z)
    np.testing.assert_allclose(generator(z), np.tanh(0.5 * middle + 0.5 * full), atol=1e-6)
    set_level(generator, discriminator, 80_000)
    np.testing.assert_allclose(generator(z), np.tanh(full), atol=1e-6)


def test_d_at_level_0_sees_only_the_start_square():
    """Two images with the same 4x4 block means score alike at level 0, not at the full size."""
    generator, discriminator = TINY.build(IMAGE_SHAPE, Unconditional(), 0)
    rng = np.random.default_rng(1)
    image = rng.uniform(-0.5, 0.5, (1, *IMAGE_SHAPE)).astype("float32")
    # Zero-mean noise within every 4x4 block: the 7x7 average pool cannot see it.
    noise = rng.uniform(-0.5, 0.5, (1, 7, 4, 7, 4, 1))
    noise -= noise.mean(axis=(2, 4), keepdims=True)
    other = image + noise.reshape(1, *IMAGE_SHAPE).astype("float32")
    # A batch of one each: the minibatch std feature is then the same (zero spread) for both.
    scores = [float(np.asarray(discriminator(x))[0, 0]) for x in (image, other)]
    assert scores[0] == pytest.approx(scores[1], abs=1e-5)
    set_level(generator, discriminator, 80_000)
    scores = [float(np.asarray(discriminator(x))[0, 0]) for x in (image, other)]
    assert abs(scores[0] - scores[1]) > 1e-4


# --- the parts as options -----------------------------------------------------------------


def has(model: keras.Model, marker: str) -> bool:
    """Whether a layer of `model` has `marker` in its name or its class's name."""
    return any(marker in layer.name or marker in type(layer).__name__ for layer in model.layers)


@pytest.mark.parametrize(
    ("part", "marker", "network"),
    [
        ("pixel_norm", "UnitNormalization", "generator"),
        ("minibatch_std", "minibatch_std", "discriminator"),
        ("equalised_lr", "_equalised", "both"),
    ],
)
def test_each_part_switches_its_layers(part, marker, network):
    on = TINY.build(IMAGE_SHAPE, Unconditional(), 0)
    off = TINY.model_copy(update={part: False}).build(IMAGE_SHAPE, Unconditional(), 0)
    for index, name in enumerate(("generator", "discriminator")):
        assert has(on[index], marker) == (network in (name, "both")), (name, part)
        assert not has(off[index], marker), (name, part)
    # The minibatch std adds one input channel to D's last convolution.
    if part == "minibatch_std":
        kernels = [d.get_layer("block_0_conv").kernel.shape[2] for d in (on[1], off[1])]
        assert kernels == [kernels[1] + 1, kernels[1]]


def test_equalised_kernels_start_at_unit_variance_and_he_s_without():
    on = ProGAN(latent_dim=LATENT, filters=16).build(IMAGE_SHAPE, Unconditional(), 0)[1]
    off = ProGAN(latent_dim=LATENT, filters=16, equalised_lr=False)
    off = off.build(IMAGE_SHAPE, Unconditional(), 0)[1]
    # block_2_conv_0: 3x3 on 16 channels, fan-in 144, He's std sqrt(2 / 144).
    stds = [float(np.std(np.asarray(d.get_layer("block_2_conv_0").kernel))) for d in (on, off)]
    assert stds[0] == pytest.approx(1.0, rel=0.1)
    assert stds[1] == pytest.approx(np.sqrt(2 / 144), rel=0.1)
    scale = on.get_layer("block_2_conv_0_equalised").scale
    assert scale == pytest.approx(np.sqrt(2 / 144))


# --- training: a kill and a resume inside a fade; the networks with Keras alone ------------


def fit(model, epochs: int, start_epoch: int = 0) -> dict:
    images = np.random.default_rng(3).uniform(-1, 1, (40, *SMALL_SHAPE)).astype("float32")
    examples = ArrayExamples(images, np.zeros(40, "int32"))
    stream = BatchStream(examples, 8, seed=0, start_batch=start_epoch * 4)
    history = model.fit(iter(stream), steps_per_epoch=4, epochs=epochs, verbose=0, shuffle=False)
    return history.history


def blend_kernels(model) -> list[float]:
    names = ["grow_0", "grow_1"]
    return [float(np.asarray(model.generator.get_layer(n).kernel).ravel()[0]) for n in names]


def test_a_run_stopped_inside_a_fade_resumes_bit_identically():
    """Two epochs straight, or one, the checkpointed state restored into a fresh model, and one.

    (The networks reload mid-fade with Keras alone: test_networks' `progan-fading`.)"""
    params = ModelParams.model_validate(SECTION)
    histories = []

    def fit_and_keep(model, epochs, start_epoch=0):
        histories.append(fit(model, epochs, start_epoch))

    _, first, resumed = check_resume(lambda: build_model(params, SMALL_SHAPE, seed=1), fit_and_keep)
    assert {"gradient_penalty", "drift_penalty", "wasserstein"} <= set(histories[0])
    assert all(np.isfinite(values).all() for values in histories[0].values())
    assert blend_kernels(first) == pytest.approx([0.8, 0.2])
    assert blend_kernels(resumed) == [0.0, 1.0]
