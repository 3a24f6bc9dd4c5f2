"""The generator and discriminator builders: shapes, layouts, conditioning, standalone reload."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from standalone import run_standalone

from pipeline.networks import build_networks, dcgan_start_size
from pipeline.params import NetworkParams

LATENT = 16
CLASSES = 10
# Small widths keep every test fast; the layouts are those of the defaults.
SMALL = {
    "mlp": NetworkParams(
        kind="mlp", latent_dim=LATENT, generator_units=[32], discriminator_units=[32]
    ),
    "dcgan": NetworkParams(kind="dcgan", latent_dim=LATENT, filters=8),
}


def latents(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, LATENT)).astype("float32")


def layer_types(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("num_classes", [0, CLASSES])
@pytest.mark.parametrize("image_shape", [(28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_shapes_and_ranges(kind, image_shape, num_classes):
    generator, discriminator = build_networks(SMALL[kind], image_shape, num_classes)
    assert (generator.name, discriminator.name) == ("generator", "discriminator")
    labels = np.arange(4, dtype="int32") % CLASSES
    g_in = [latents(4), labels] if num_classes else latents(4)
    images = np.asarray(generator(g_in))
    assert images.shape == (4, *image_shape)
    assert images.min() >= -1 and images.max() <= 1
    d_in = [images, labels] if num_classes else images
    assert tuple(discriminator(d_in).shape) == (4, 1)
    names = ["z", "label"] if num_classes else ["z"]
    assert [t.name for t in generator.inputs] == names
    assert [t.name for t in discriminator.inputs] == ["image", *names[1:]]
    assert generator.output_shape == (None, *image_shape)
    if num_classes:
        assert generator.input_shape == [(None, LATENT), (None,)]
        assert generator.inputs[1].dtype == "int32"


def test_mlp_conditioning_widens_the_first_layer():
    """Mirza & Osindero: G sees 100 + 10 inputs, D sees 784 + 10."""
    generator, discriminator = build_networks(NetworkParams(), (28, 28, 1), CLASSES)
    assert generator.get_layer("dense_0").kernel.shape == (110, 256)
    assert discriminator.get_layer("dense_0").kernel.shape == (794, 512)


@pytest.mark.parametrize(
    ("image_shape", "expected"),
    [((28, 28, 1), (7, 2)), ((32, 32, 3), (4, 3)), ((64, 64, 3), (4, 4))],
)
def test_dcgan_start_size(image_shape, expected):
    assert dcgan_start_size(image_shape) == expected


@pytest.mark.parametrize(
    ("image_shape", "widths"), [((28, 28, 1), [8, 16]), ((32, 32, 3), [8, 16, 32])]
)
def test_dcgan_layout(image_shape, widths):
    generator, discriminator = build_networks(SMALL["dcgan"], image_shape)
    convs = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == widths
    assert all(c.strides == (2, 2) for c in convs)
    assert "MaxPooling2D" not in layer_types(discriminator)
    # BatchNorm on every convolution but the input one.
    assert layer_types(discriminator).count("BatchNormalization") == len(widths) - 1
    assert "conv_0_norm" not in [layer.name for layer in discriminator.layers]
    # G mirrors D, with tanh straight out of the last transposed convolution.
    deconvs = [
        layer for layer in generator.layers if isinstance(layer, keras.layers.Conv2DTranspose)
    ]
    assert [c.filters for c in deconvs] == [*widths[-2::-1], image_shape[-1]]
    output = generator.layers[-1]
    assert isinstance(output, keras.layers.Conv2DTranspose) and output.name == "image"
    assert output.activation.__name__ == "tanh"
    assert layer_types(generator).count("BatchNormalization") == len(widths)
    # N(0, 0.02) weights, as in the paper.
    assert np.std(np.asarray(convs[-1].kernel)) == pytest.approx(0.02, rel=0.1)


@pytest.mark.parametrize(
    ("norm", "expected"),
    [("batch", "BatchNormalization"), ("layer", "LayerNormalization"), ("none", None)],
)
def test_discriminator_norm(norm, expected):
    _, discriminator = build_networks(SMALL["dcgan"], (32, 32, 3), discriminator_norm=norm)
    types = layer_types(discriminator)
    norms = [t for t in types if t.endswith("Normalization")]
    assert norms == ([expected] * 2 if expected else [])


def test_layer_norm_critic_treats_examples_independently():
    """A gradient-penalty critic: one example's score must not depend on the rest of the batch."""
    _, critic = build_networks(SMALL["dcgan"], (28, 28, 1), discriminator_norm="layer")
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    together = np.asarray(critic(images, training=True))
    alone = np.asarray(critic(images[:1], training=True))
    np.testing.assert_allclose(together[:1], alone, rtol=1e-5, atol=1e-6)


def test_mlp_discriminator_ignores_norm():
    _, discriminator = build_networks(SMALL["mlp"], (28, 28, 1), discriminator_norm="layer")
    assert not [t for t in layer_types(discriminator) if t.endswith("Normalization")]


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_labels_change_the_outputs(kind):
    generator, discriminator = build_networks(SMALL[kind], (28, 28, 1), CLASSES)
    z = np.repeat(latents(1), CLASSES, axis=0)
    labels = np.arange(CLASSES, dtype="int32")
    images = np.asarray(generator([z, labels]))
    # Each label gives its own image from the same z.
    assert len(np.unique(images.reshape(CLASSES, -1).round(5), axis=0)) == CLASSES
    same_image = np.repeat(images[:1], CLASSES, axis=0)
    scores = np.asarray(discriminator([same_image, labels]))[:, 0]
    assert len(np.unique(scores)) == CLASSES


@pytest.mark.parametrize("image_shape", [(28, 32, 1), (27, 27, 1), (18, 18, 1), (7, 7, 1)], ids=str)
def test_unreachable_dcgan_shapes_are_refused(image_shape):
    with pytest.raises(ValueError, match="dcgan networks"):
        build_networks(SMALL["dcgan"], image_shape)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="discriminator_norm"):
        build_networks(SMALL["dcgan"], (28, 28, 1), discriminator_norm="group")
    with pytest.raises(ValueError, match="num_classes"):
        build_networks(SMALL["dcgan"], (28, 28, 1), num_classes=-1)


def test_conditional_dcgan_reloads_without_project_code(tmp_path):
    generator, discriminator = build_networks(SMALL["dcgan"], (28, 28, 1), CLASSES)
    z, labels = latents(4), np.array([0, 3, 7, 9], dtype="int32")
    images = np.asarray(generator([z, labels]))
    scores = np.asarray(discriminator([images, labels]))
    generator.save(tmp_path / "g.keras")
    discriminator.save(tmp_path / "d.keras")
    np.savez(tmp_path / "io.npz", z=z, labels=labels, images=images, scores=scores)
    printed = run_standalone(
        """
        import keras, numpy as np
        io = np.load("io.npz")
        g = keras.saving.load_model("g.keras")
        d = keras.saving.load_model("d.keras")
        np.testing.assert_allclose(g([io["z"], io["labels"]]), io["images"], atol=1e-6)
        np.testing.assert_allclose(d([io["images"], io["labels"]]), io["scores"], atol=1e-5)
        print([t.name for t in g.inputs], [t.name for t in d.inputs])
        """,
        tmp_path,
    )
    assert "['z', 'label'] ['image', 'label']" in printed
