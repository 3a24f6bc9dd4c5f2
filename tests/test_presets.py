"""Every preset, built from params as a user writes them, trains on a toy problem and reloads.

The toy is the two-mode mixture of `toy.py`, scaled by 1/4 to fit the
generator's tanh and shaped as 1x2 "images", so the real network builders,
parts and train step run end to end in seconds. Conditional presets learn
the labelled mixture: each label's samples must land in its own mode.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import keras
import numpy as np
import pytest
import tensorflow as tf
from toy import MIXTURE_CENTRES, labelled_two_mode_mixture, two_mode_mixture

from pipeline.models.presets import PRESETS
from pipeline.params import ModelParams
from pipeline.training.model import build_model

SCALE = 0.3  # the modes at +-0.6, 2.7 std from tanh's bound of 1
IMAGE_SHAPE = (1, 2, 1)
LATENT_DIM = 8
COUNT = 8192
DOCS = Path(__file__).resolve().parents[1] / "docs" / "params.md"

# Small MLPs for every preset, and steps large enough for a toy: the parts,
# losses and optimizers' kinds stay the preset's own.
TOY_NETWORK = {
    "kind": "mlp",
    "latent_dim": LATENT_DIM,
    "generator_units": [64, 64],
    "discriminator_units": [64, 64],
    "dropout": 0.0,
}
EPOCHS = {"wgan": 40, "wgan_gp": 60}
# The critics need their n_critic 5; SNGAN's n_dis 5 only slows a toy down.
ONE_D_STEP = ("sngan", "projection")


def toy_section(family: str) -> dict:
    learning_rate = 1e-3 if family == "wgan" else 5e-4
    section = {
        "family": family,
        "network": TOY_NETWORK,
        "train": {
            "batch_size": 128,
            **({"d_steps": 1} if family in ONE_D_STEP else {}),
            "d_optimizer": {"learning_rate": learning_rate},
            "g_optimizer": {"learning_rate": learning_rate},
        },
    }
    if family == "wgan":
        # The paper's c = 0.01 with RMSprop 5e-5 needs far more steps than a test affords.
        section["regularisers"] = {"weight_clipping": {"clip_value": 0.1}}
    return section


def toy_images(conditional: bool) -> tf.data.Dataset:
    if conditional:
        points, labels = labelled_two_mode_mixture(COUNT)
        data = (points.reshape(-1, *IMAGE_SHAPE) * SCALE, labels)
    else:
        data = two_mode_mixture(COUNT).reshape(-1, *IMAGE_SHAPE) * SCALE
    return tf.data.Dataset.from_tensor_slices(data).shuffle(COUNT, seed=0)


def samples(generator: keras.Model, labels: np.ndarray | None = None) -> np.ndarray:
    z = np.random.default_rng(1).standard_normal((2000, LATENT_DIM)).astype("float32")
    inputs = z if labels is None else [z, labels]
    return points_of(generator(inputs))


def points_of(images) -> np.ndarray:
    """Generated 1x2 images as points of the unscaled mixture."""
    return np.asarray(images).reshape(-1, 2) / SCALE


def codes_of(params: ModelParams) -> np.ndarray | None:
    """The categorical code values an InfoGAN generator takes beside z, cycled; None for others."""
    if params.conditional or not params.conditioning.generator_takes_label():
        return None
    return (np.arange(2000) % params.conditioning.categorical).astype("int32")


def assert_near_both_modes(points: np.ndarray) -> None:
    """Both modes held, and most samples close to one: robust to the oscillation of a
    GAN's snapshot, which a bound on the mean would trip over, yet failing an
    untrained or collapsed generator."""
    distances = np.linalg.norm(points[:, None, :] - MIXTURE_CENTRES[None], axis=-1)
    share_right = np.argmin(distances, axis=1).mean()
    assert 0.25 < share_right < 0.75, f"mode collapse: {share_right:.2f} in one mode"
    # The mixture's own median distance to its mode is 0.59; an untrained
    # generator's samples sit near the origin, 2.0 from either mode. A few
    # hundred steps of a small MLP through tanh land in between.
    median = np.median(distances.min(axis=1))
    assert median < 1.2, f"median distance to a mode {median:.2f}"


# Presets whose point is their network, which cannot make 1x2 images, train on images
# instead: dcgan below, progan in tests/test_progan.py (on MLPs, its n_critic 1 critic
# does not find the toy's two modes in a test's budget: 30 epochs still collapse);
# stylegan's training is the tiny repro's (test_translation_pipeline) and the README's
# equal-time run on mnist5k.
OWN_NETWORK = {"dcgan", "progan", "stylegan"}


@pytest.mark.parametrize("family", sorted(set(PRESETS) - OWN_NETWORK))
def test_each_preset_learns_the_toy_and_its_generator_reloads(family, tmp_path):
    params = ModelParams.model_validate(toy_section(family))
    num_classes = 2 if params.conditional else 0
    model = build_model(params, IMAGE_SHAPE, seed=0, num_classes=num_classes)
    batches = toy_images(params.conditional).batch(128 * params.train.d_steps, drop_remainder=True)
    history = model.fit(batches, epochs=EPOCHS.get(family, 10), verbose=0, shuffle=False)
    assert all(np.isfinite(values).all() for values in history.history.values())

    if params.conditional:
        for label, side in ((0, -1), (1, 1)):
            points = samples(model.generator, np.full((2000,), label, dtype="int32"))
            share = np.mean(np.sign(points[:, 0]) == side)
            assert share > 0.9, f"label {label}: only {share:.2f} of samples in its mode"
    else:
        assert_near_both_modes(samples(model.generator, codes_of(params)))

    path = tmp_path / "generator.keras"
    model.generator.save(path)
    reloaded = keras.saving.load_model(path)
    labels = np.zeros((2000,), dtype="int32") if params.conditional else codes_of(params)
    np.testing.assert_allclose(samples(reloaded, labels), samples(model.generator, labels))


def test_the_dcgan_preset_trains_a_step_on_images():
    params = ModelParams.model_validate(
        {"family": "dcgan", "network": {"kind": "dcgan", "filters": 4, "latent_dim": 8}}
    )
    model = build_model(params, (8, 8, 1), seed=0)
    images = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 1)).astype("float32")
    history = model.fit(images, batch_size=32, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["d_loss"][0])
    assert model.generator.output_shape == (None, 8, 8, 1)


def test_docs_list_every_preset_and_part():
    from pipeline.data.sources import SOURCES
    from pipeline.models.conditioning import CONDITIONING
    from pipeline.models.losses import LOSSES
    from pipeline.models.networks import NETWORKS
    from pipeline.models.regularisers import REGULARISERS

    text = DOCS.read_text()
    for preset in PRESETS:
        assert f"| `{preset}` |" in text, f"docs/params.md has no row for preset {preset}"
    for registry in (LOSSES, CONDITIONING, NETWORKS, REGULARISERS, SOURCES):
        for name, part in registry.items():
            assert f"`{name}`" in text, f"docs/params.md never names the part {name}"
            # Every field but the tag that names the part (`name: Literal["hinge"]`);
            # a source's `name` (the TFDS dataset) is a setting.
            tag = {
                f for f, info in part.model_fields.items() if get_args(info.annotation) == (name,)
            }
            for field in set(part.model_fields) - tag:
                # Written bare (`clip_value`) or under its section (`loss.label_smoothing`).
                documented = re.search(rf"`(\w+\.)?{field}`", text)
                assert documented, f"docs/params.md does not document {name}'s {field}"
