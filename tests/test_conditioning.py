"""Conditioning methods: where the label enters, checked against numpy on hand-built cases."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import REPO_ROOT
from pydantic import TypeAdapter, ValidationError

from pipeline.models.conditioning import (
    CONDITIONING,
    AuxiliaryClassifier,
    ClassConditioning,
    Concatenation,
    ConditioningSettings,
    InformationCodes,
    Projection,
    Unconditional,
)
from pipeline.models.conditioning.label_inputs import conditional_batch_norm
from pipeline.models.networks import DCGAN, MLP, ResNet

CLASSES = 3
LATENT = 4
RNG = np.random.default_rng(0)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def cross_entropy(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    return -log_softmax(logits)[np.arange(len(labels)), labels]


def leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    return np.where(x > 0, x, slope * x)


# --- the schema ------------------------------------------------------------------------


def test_registry_and_union():
    assert set(CONDITIONING) == {"none", "concat", "projection", "acgan", "info"}
    adapter = TypeAdapter(ConditioningSettings)
    for kind, cls in CONDITIONING.items():
        part = adapter.validate_python({"kind": kind})
        # InfoGAN draws its own codes: it never takes the data's labels.
        assert isinstance(part, cls) and part.conditional == (kind not in ("none", "info"))
    acgan = adapter.validate_python(
        {"kind": "acgan", "weight": 0.5, "generator_input": "batch_norm"}
    )
    assert (acgan.weight, acgan.uses_generator_batch_norm()) == (0.5, True)
    # Settings belong to their method: no label route for an unconditional GAN.
    with pytest.raises(ValidationError, match="generator_input"):
        adapter.validate_python({"kind": "none", "generator_input": "concat"})
    with pytest.raises(ValidationError, match="generator_input"):
        adapter.validate_python({"kind": "concat", "generator_input": "film"})
    with pytest.raises(ValidationError, match="weight"):
        adapter.validate_python({"kind": "acgan", "weight": 0})
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "projection", "weight": 1.0})


def test_defaults_and_class_attributes():
    for cls in (Concatenation, Projection, AuxiliaryClassifier):
        assert issubclass(cls, ClassConditioning)
        assert cls().generator_input == "concat" and not cls().uses_generator_batch_norm()
    assert not Unconditional().uses_generator_batch_norm()
    assert AuxiliaryClassifier().weight == 1.0
    assert [cls.discriminator_takes_label for cls in CONDITIONING.values()] == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert AuxiliaryClassifier.tracked_as == ("d_class_acc",)
    assert Concatenation.tracked_as == Projection.tracked_as == Unconditional.tracked_as == ()


def test_the_schema_loads_no_keras():
    """params.yaml is validated from these settings: that must not cost a TensorFlow import."""
    script = (
        "import sys\n"
        "import pipeline.models.conditioning, pipeline.models.networks\n"
        "heavy = [m for m in ('keras', 'tensorflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]


# --- concatenation ------------------------------------------------------------------------


def test_concat_tiles_the_one_hot_over_the_image():
    _, discriminator = DCGAN(latent_dim=LATENT, filters=4).build(
        (28, 28, 1), Concatenation(), CLASSES
    )
    joined = keras.Model(discriminator.inputs, discriminator.get_layer("image_label").output)
    images = RNG.uniform(-1, 1, (2, 28, 28, 1)).astype("float32")
    labels = np.array([2, 0], dtype="int32")
    out = np.asarray(joined([images, labels]))
    assert out.shape == (2, 28, 28, 1 + CLASSES)
    np.testing.assert_array_equal(out[..., :1], images)
    expected = np.broadcast_to(np.eye(CLASSES)[labels][:, None, None, :], (2, 28, 28, CLASSES))
    np.testing.assert_array_equal(out[..., 1:], expected)


# --- projection ----------------------------------------------------------------------------


def test_projection_is_psi_plus_the_embedding_inner_product():
    """D(x, y) = psi(phi(x)) + <embed(y), phi(x)>, recomputed from D's own weights."""
    network = MLP(latent_dim=LATENT, generator_units=[8], discriminator_units=[6], dropout=0.0)
    image_shape = (4, 4, 1)
    _, discriminator = network.build(image_shape, Projection(), CLASSES)
    # The label enters at the output only: D's first layer reads the 16 pixels alone.
    assert discriminator.get_layer("dense_0").kernel.shape == (16, 6)
    assert [t.name for t in discriminator.inputs] == ["image", "label"]
    # Non-zero weights everywhere, so that no term can hide.
    for layer in discriminator.layers:
        for weight in layer.weights:
            weight.assign(RNG.standard_normal(weight.shape).astype("float32"))
    images = RNG.uniform(-1, 1, (5, *image_shape)).astype("float32")
    labels = np.array([0, 1, 2, 1, 0], dtype="int32")

    def weights(name: str) -> list[np.ndarray]:
        return [np.asarray(w) for w in discriminator.get_layer(name).weights]

    hidden_kernel, hidden_bias = weights("dense_0")
    phi = leaky_relu(images.reshape(5, -1) @ hidden_kernel + hidden_bias, network.leaky_relu_slope)
    psi_kernel, psi_bias = weights("logit")
    (embedding,) = weights("label_embedding")
    assert embedding.shape == (CLASSES, 6)
    expected = phi @ psi_kernel + psi_bias + (embedding[labels] * phi).sum(axis=1, keepdims=True)
    got = np.asarray(discriminator([images, labels]))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "network",
    [DCGAN(latent_dim=LATENT, filters=4), ResNet(latent_dim=LATENT, filters=4)],
    ids=lambda n: n.kind,
)
def test_projection_leaves_convolutional_inputs_alone(network):
    _, discriminator = network.build((28, 28, 1), Projection(), CLASSES)
    names = [layer.name for layer in discriminator.layers]
    assert "image_label" not in names and {"label_embedding", "projection", "score"} <= set(names)
    features = discriminator.get_layer("logit").input.shape[-1]
    assert discriminator.get_layer("label_embedding").kernel.shape == (CLASSES, features)


# --- conditional batch norm ---------------------------------------------------------------


def test_conditional_batch_norm_uses_the_label_s_scale_and_shift():
    x_in = keras.Input((2, 2, 3), name="x")
    label = keras.Input((), dtype="int32", name="label")
    group = keras.Model([x_in, label], conditional_batch_norm(x_in, label, CLASSES, "cbn"))
    norm = group.get_layer("cbn")
    assert (norm.center, norm.scale) == (False, False)
    # At first every class has gamma = 1, beta = 0: a plain BatchNorm.
    np.testing.assert_array_equal(group.get_layer("cbn_gamma").embeddings, np.ones((CLASSES, 3)))
    np.testing.assert_array_equal(group.get_layer("cbn_beta").embeddings, np.zeros((CLASSES, 3)))
    mean, variance = RNG.standard_normal(3), RNG.uniform(0.5, 2, 3)
    gamma, beta = RNG.standard_normal((CLASSES, 3)), RNG.standard_normal((CLASSES, 3))
    norm.moving_mean.assign(mean.astype("float32"))
    norm.moving_variance.assign(variance.astype("float32"))
    group.get_layer("cbn_gamma").embeddings.assign(gamma.astype("float32"))
    group.get_layer("cbn_beta").embeddings.assign(beta.astype("float32"))
    x = RNG.standard_normal((4, 2, 2, 3)).astype("float32")
    labels = np.array([0, 2, 1, 2], dtype="int32")
    per_class = gamma[labels][:, None, None, :], beta[labels][:, None, None, :]

    inference = (x - mean) / np.sqrt(variance + norm.epsilon)
    expected = inference * per_class[0] + per_class[1]
    np.testing.assert_allclose(group([x, labels]), expected, rtol=1e-4, atol=1e-5)
    # In training, the batch's own statistics per channel.
    batch_mean, batch_variance = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    training = (x - batch_mean) / np.sqrt(batch_variance + norm.epsilon)
    expected = training * per_class[0] + per_class[1]
    np.testing.assert_allclose(group([x, labels], training=True), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "network",
    [DCGAN(latent_dim=LATENT, filters=4), ResNet(latent_dim=LATENT, filters=4)],
    ids=lambda n: n.kind,
)
def test_batch_norm_route_conditions_every_generator_batch_norm(network):
    conditioning = Projection(generator_input="batch_norm")
    generator, _ = network.build((28, 28, 1), conditioning, CLASSES)
    layers = generator.layers
    norms = [x for x in layers if isinstance(x, keras.layers.BatchNormalization)]
    assert norms and all(not (n.center or n.scale) for n in norms)
    embeddings = [x for x in layers if isinstance(x, keras.layers.Embedding)]
    assert len(embeddings) == 2 * len(norms)
    # z alone reaches the first layer.
    assert "z_label" not in [layer.name for layer in generator.layers]
    assert generator.get_layer("project").kernel.shape[0] == LATENT

    z = np.repeat(RNG.standard_normal((1, LATENT)).astype("float32"), 2, axis=0)
    labels = np.array([0, 1], dtype="int32")
    # At first the classes share gamma = 1, beta = 0: the label changes nothing yet.
    same = np.asarray(generator([z, labels]))
    np.testing.assert_allclose(same[0], same[1], atol=1e-6)
    # Once class 1 has its own scale and shift, the same z makes another image.
    for embedding in embeddings:
        values = np.asarray(embedding.embeddings)
        values[1] += RNG.standard_normal(values.shape[1]).astype("float32")
        embedding.embeddings.assign(values)
    images = np.asarray(generator([z, labels]))
    assert np.abs(images[0] - images[1]).max() > 1e-3
    np.testing.assert_allclose(images[0], same[0], atol=1e-6)  # class 0 untouched


# --- ACGAN -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "network",
    [
        MLP(latent_dim=LATENT, generator_units=[8], discriminator_units=[8]),
        DCGAN(latent_dim=LATENT, filters=4),
        ResNet(latent_dim=LATENT, filters=4),
    ],
    ids=lambda n: n.kind,
)
def test_acgan_discriminator_has_a_class_head_and_no_label_input(network):
    generator, discriminator = network.build((28, 28, 1), AuxiliaryClassifier(), CLASSES)
    assert [t.name for t in generator.inputs] == ["z", "label"]
    assert [t.name for t in discriminator.inputs] == ["image"]
    images = RNG.uniform(-1, 1, (2, 28, 28, 1)).astype("float32")
    score, logits = discriminator(images)
    assert (tuple(score.shape), tuple(logits.shape)) == ((2, 1), (2, CLASSES))
    assert discriminator.get_layer("class_logits").units == CLASSES
    assert AuxiliaryClassifier().scores([score, logits]) is score


def test_acgan_terms_are_the_cross_entropies():
    real_logits = RNG.standard_normal((6, CLASSES)).astype("float32")
    fake_logits = RNG.standard_normal((6, CLASSES)).astype("float32")
    labels = np.array([0, 1, 2, 2, 1, 0], dtype="int32")
    real_logits[:4, :] = 0
    real_logits[np.arange(4), [0, 1, 0, 2]] = 5.0  # 3 of the first 4 right
    real_logits[4:, :] = 0
    real_logits[4, 1] = real_logits[5, 2] = 5.0  # 1 of the last 2 right
    scores = np.zeros((6, 1), "float32")
    part = AuxiliaryClassifier(weight=0.5)
    term, metrics = part.discriminator_terms([scores, real_logits], [scores, fake_logits], labels)
    expected = 0.5 * (
        cross_entropy(labels, real_logits).mean() + cross_entropy(labels, fake_logits).mean()
    )
    assert float(term) == pytest.approx(expected, rel=1e-5)
    assert set(metrics) == set(part.tracked_as)
    assert float(metrics["d_class_acc"]) == pytest.approx(4 / 6)
    g_term = part.generator_term([scores, fake_logits], labels)
    assert float(g_term) == pytest.approx(0.5 * cross_entropy(labels, fake_logits).mean(), rel=1e-5)


def test_only_acgan_adds_loss_terms():
    outputs = np.zeros((2, 1), "float32")
    labels = np.array([0, 1], dtype="int32")
    for part in (Unconditional(), Concatenation(), Projection()):
        assert part.scores(outputs) is outputs
        assert part.discriminator_terms(outputs, outputs, labels) == (None, {})
        assert part.generator_term(outputs, labels) is None


# --- InfoGAN's codes ------------------------------------------------------------------------


def test_info_settings_are_its_own():
    adapter = TypeAdapter(ConditioningSettings)
    part = adapter.validate_python({"kind": "info", "categorical": 4, "continuous": 0, "weight": 0})
    assert (part.categorical, part.continuous, part.weight, part.continuous_weight) == (4, 0, 0, 1)
    assert part.generator_takes_label() and part.generator_label_values(10) == 4
    # The codes are drawn, not the data's labels: no label route to choose.
    with pytest.raises(ValidationError, match="generator_input"):
        adapter.validate_python({"kind": "info", "generator_input": "concat"})
    with pytest.raises(ValidationError, match="categorical"):
        adapter.validate_python({"kind": "info", "categorical": 0})
    with pytest.raises(ValidationError, match="continuous_weight"):
        adapter.validate_python({"kind": "info", "continuous_weight": -1})


@pytest.mark.parametrize(
    "network",
    [
        MLP(latent_dim=LATENT, generator_units=[8], discriminator_units=[8]),
        DCGAN(latent_dim=LATENT, filters=4),
    ],
    ids=lambda n: n.kind,
)
def test_info_networks_take_a_code_and_q_shares_d(network):
    part = InformationCodes(categorical=5, continuous=2)
    # No data classes: the code's values come from the part.
    generator, discriminator = network.build((28, 28, 1), part, 0)
    assert [t.name for t in generator.inputs] == ["z", "code"]
    assert generator.get_layer("label_one_hot").num_tokens == 5
    assert [t.name for t in discriminator.inputs] == ["image"]
    images = RNG.uniform(-1, 1, (2, 28, 28, 1)).astype("float32")
    score, logits, means = discriminator(images)
    assert [tuple(x.shape) for x in (score, logits, means)] == [(2, 1), (2, 5), (2, 2)]
    # Q's heads read the very features the score reads: one body.
    feeds = {
        name: discriminator.get_layer(name).input.name
        for name in ("logit", "code_logits", "code_means")
    }
    assert len(set(feeds.values())) == 1, feeds


def test_info_refuses_a_z_without_room_for_the_continuous_codes():
    with pytest.raises(ValueError, match="latent_dim"):
        MLP(latent_dim=2).build((28, 28, 1), InformationCodes(continuous=2), 0)


def test_info_draws_codes_over_the_last_entries_of_z():
    part = InformationCodes(categorical=3, continuous=2)
    z = np.full((4000, 6), 7.0, "float32")
    drawn, (category, continuous) = part.draw_codes(z, None, keras.random.SeedGenerator(0))
    drawn, category, continuous = (np.asarray(x) for x in (drawn, category, continuous))
    np.testing.assert_array_equal(drawn[:, :4], 7.0)  # the noise is left alone
    np.testing.assert_array_equal(drawn[:, 4:], continuous)
    assert continuous.min() >= -1 and continuous.max() <= 1 and abs(continuous.mean()) < 0.05
    assert sorted(np.unique(category)) == [0, 1, 2]
    assert np.allclose(np.bincount(category) / len(category), 1 / 3, atol=0.03)
    again = part.draw_codes(z, None, keras.random.SeedGenerator(0))[1][0]
    np.testing.assert_array_equal(np.asarray(again), category)  # the seed fixes them


def test_info_terms_are_cross_entropy_plus_half_squared_error():
    logits = RNG.standard_normal((6, CLASSES)).astype("float32")
    means = RNG.standard_normal((6, 2)).astype("float32")
    category = np.array([0, 1, 2, 2, 1, 0], dtype="int32")
    continuous = RNG.uniform(-1, 1, (6, 2)).astype("float32")
    logits[:, :] = 0
    logits[np.arange(6), [0, 1, 2, 0, 0, 0]] = 5.0  # 4 of 6 recovered
    scores = np.zeros((6, 1), "float32")
    part = InformationCodes(categorical=CLASSES, weight=0.5, continuous_weight=0.25)
    codes = (category, continuous)
    term, metrics = part.discriminator_terms(None, [scores, logits, means], codes)
    expected = 0.5 * cross_entropy(category, logits).mean() + 0.25 * np.mean(
        0.5 * ((continuous - means) ** 2).sum(axis=1)
    )
    assert float(term) == pytest.approx(expected, rel=1e-5)
    assert set(metrics) == set(part.tracked_as)
    assert float(metrics["q_code_acc"]) == pytest.approx(4 / 6)
    g_term = part.generator_term([scores, logits, means], codes)
    assert float(g_term) == pytest.approx(expected, rel=1e-5)
    assert part.scores([scores, logits, means]) is scores
