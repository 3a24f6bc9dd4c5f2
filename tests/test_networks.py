"""The network kinds: shapes, layouts, self-attention, D's wrapped layers, standalone reload."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from standalone import run_standalone

from pipeline.models.conditioning import (
    AuxiliaryClassifier,
    Concatenation,
    InformationCodes,
    Projection,
    Unconditional,
)
from pipeline.models.networks import (
    DCGAN,
    MLP,
    NETWORKS,
    NetworkSettings,
    ProGAN,
    ResNet,
    StyleGAN,
    dcgan_start_size,
)

LATENT = 16
CLASSES = 10
# Small widths keep every test fast; the layouts are those of the defaults.
SMALL = {
    "mlp": MLP(latent_dim=LATENT, generator_units=[32], discriminator_units=[32]),
    "dcgan": DCGAN(latent_dim=LATENT, filters=8),
    "resnet": ResNet(latent_dim=LATENT, filters=8),
    "progan": ProGAN(latent_dim=LATENT, filters=4),
    "stylegan": StyleGAN(latent_dim=LATENT, w_dim=8, filters=4, mapping_layers=2),
}
CONVOLUTIONAL = ["dcgan", "resnet"]


def latents(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, LATENT)).astype("float32")


def uniform_images(n: int, image_shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, *image_shape)).astype("float32")


def layer_types(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def build(network, image_shape=(28, 28, 1), conditioning=None, wrap=None):
    conditioning = conditioning or Unconditional()
    num_classes = CLASSES if conditioning.conditional else 0
    if wrap is None:
        return network.build(image_shape, conditioning, num_classes)
    return network.build(image_shape, conditioning, num_classes, wrap)


# --- the schema ------------------------------------------------------------------


def test_registry_and_union():
    assert set(NETWORKS) == {"mlp", "dcgan", "resnet", "progan", "stylegan"}
    adapter = TypeAdapter(NetworkSettings)
    for kind, cls in NETWORKS.items():
        assert isinstance(adapter.validate_python({"kind": kind}), cls)
    assert adapter.validate_python({"kind": "dcgan", "filters": 32}).filters == 32
    # Keys belong to their kind: the MLP has no convolutions to normalise.
    with pytest.raises(ValidationError, match="discriminator_norm"):
        adapter.validate_python({"kind": "mlp", "discriminator_norm": "layer"})
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "vit"})


def test_defaults():
    mlp = MLP()
    assert (mlp.latent_dim, mlp.generator_units, mlp.discriminator_units) == (
        100,
        [256, 512],
        [512, 256],
    )
    assert (mlp.dropout, mlp.leaky_relu_slope) == (0.3, 0.2)
    dcgan = DCGAN()
    assert (dcgan.filters, dcgan.discriminator_norm, dcgan.attention_resolution) == (
        64,
        "batch",
        None,
    )
    assert (ResNet().filters, ResNet().attention_resolution) == (64, None)
    assert (MLP.generator_has_batch_norm, DCGAN.generator_has_batch_norm) == (False, True)
    assert ResNet.generator_has_batch_norm


@pytest.mark.parametrize("value", [0, -7, 7.0, "7", True])
def test_attention_resolution_is_a_positive_int(value):
    with pytest.raises(ValidationError, match="attention_resolution"):
        DCGAN(attention_resolution=value)


@pytest.mark.parametrize(
    ("network", "mixes"),
    [
        (MLP(), False),
        (DCGAN(), True),
        (DCGAN(discriminator_norm="layer"), False),
        (DCGAN(discriminator_norm="none"), False),
        (ResNet(), False),
        # The minibatch std mixes one feature map; the paper pairs it with WGAN-GP.
        (ProGAN(), False),
        (StyleGAN(), False),
    ],
)
def test_which_discriminators_mix_the_batch(network, mixes):
    assert network.discriminator_mixes_batch() is mixes


# --- shapes and inputs -------------------------------------------------------------


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("image_shape", [(28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("kind", list(NETWORKS))
def test_shapes_and_ranges(kind, image_shape, conditional):
    conditioning = Concatenation() if conditional else Unconditional()
    generator, discriminator = build(SMALL[kind], image_shape, conditioning)
    assert (generator.name, discriminator.name) == ("generator", "discriminator")
    labels = np.arange(4, dtype="int32") % CLASSES
    g_in = [latents(4), labels] if conditional else latents(4)
    images = np.asarray(generator(g_in))
    assert images.shape == (4, *image_shape)
    assert images.min() >= -1 and images.max() <= 1
    d_in = [images, labels] if conditional else images
    assert tuple(discriminator(d_in).shape) == (4, 1)
    names = ["z", "label"] if conditional else ["z"]
    assert [t.name for t in generator.inputs] == names
    assert [t.name for t in discriminator.inputs] == ["image", *names[1:]]
    assert generator.output_shape == (None, *image_shape)
    if conditional:
        assert generator.input_shape == [(None, LATENT), (None,)]
        assert generator.inputs[1].dtype == "int32"


def test_unconditional_networks_ignore_the_data_s_classes():
    """A plain GAN on labelled data: the labels exist, the networks never see them."""
    generator, discriminator = SMALL["mlp"].build((28, 28, 1), Unconditional(), CLASSES)
    assert [t.name for t in generator.inputs] == ["z"]
    assert [t.name for t in discriminator.inputs] == ["image"]


def test_mlp_conditioning_widens_the_first_layer():
    """Mirza & Osindero: G sees 100 + 10 inputs, D sees 784 + 10."""
    generator, discriminator = MLP().build((28, 28, 1), Concatenation(), CLASSES)
    assert generator.get_layer("dense_0").kernel.shape == (110, 256)
    assert discriminator.get_layer("dense_0").kernel.shape == (794, 512)


def test_mlp_layout():
    """The seed material's layer names and order (saved weights are found by them)."""
    generator, discriminator = MLP().build((28, 28, 1), Concatenation(), CLASSES)
    assert [layer.name for layer in generator.layers] == [
        "label",
        "z",
        "label_one_hot",
        "z_label",
        "dense_0",
        "act_0",
        "dense_1",
        "act_1",
        "pixels",
        "image",
    ]
    assert [layer.name for layer in discriminator.layers] == [
        "image",
        "label",
        "flatten",
        "label_one_hot",
        "pixels_label",
        "dense_0",
        "act_0",
        "dropout_0",
        "dense_1",
        "act_1",
        "dropout_1",
        "logit",
    ]
    assert "BatchNormalization" not in layer_types(generator)


# --- DCGAN ---------------------------------------------------------------------------


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
    generator, discriminator = build(SMALL["dcgan"], image_shape)
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
    # N(0, 0.02) weights, as in the paper, the output layer included.
    assert np.std(np.asarray(convs[-1].kernel)) == pytest.approx(0.02, rel=0.1)
    head = discriminator.get_layer("logit").kernel
    assert np.abs(np.asarray(head)).max() < 0.02 * 6


@pytest.mark.parametrize(
    ("norm", "expected"),
    [("batch", "BatchNormalization"), ("layer", "LayerNormalization"), ("none", None)],
)
def test_discriminator_norm(norm, expected):
    network = DCGAN(latent_dim=LATENT, filters=8, discriminator_norm=norm)
    _, discriminator = build(network, (32, 32, 3))
    norms = [t for t in layer_types(discriminator) if t.endswith("Normalization")]
    assert norms == ([expected] * 2 if expected else [])


@pytest.mark.parametrize(
    "network",
    [DCGAN(latent_dim=LATENT, filters=8, discriminator_norm="layer"), SMALL["resnet"]],
    ids=["dcgan-layer", "resnet"],
)
def test_critics_treat_examples_independently(network):
    """A gradient-penalty critic: one example's score must not depend on the rest of the batch."""
    _, critic = build(network)
    images = uniform_images(4, (28, 28, 1))
    together = np.asarray(critic(images, training=True))
    alone = np.asarray(critic(images[:1], training=True))
    np.testing.assert_allclose(together[:1], alone, rtol=1e-5, atol=1e-5)


# --- ResNet --------------------------------------------------------------------------


@pytest.mark.parametrize(("image_shape", "blocks"), [((28, 28, 1), 2), ((32, 32, 3), 3)])
def test_resnet_layout(image_shape, blocks):
    generator, discriminator = build(SMALL["resnet"], image_shape)
    g_names = [layer.name for layer in generator.layers]
    d_names = [layer.name for layer in discriminator.layers]
    # One up-block per doubling from the start square, each with two BatchNorms,
    # plus the one before the output.
    assert [f"up_{i}_add" in g_names for i in range(blocks + 1)] == [True] * blocks + [False]
    assert layer_types(generator).count("BatchNormalization") == 2 * blocks + 1
    start = image_shape[0] // 2**blocks
    assert generator.get_layer("reshape").output.shape[1:] == (start, start, 8)
    output = generator.get_layer("image")
    assert output is generator.layers[-1] and output.activation.__name__ == "tanh"
    # D: as many down-blocks, no normalisation, constant widths.
    assert [f"down_{i}_add" in d_names for i in range(blocks + 1)] == [True] * blocks + [False]
    assert not [t for t in layer_types(discriminator) if t.endswith("Normalization")]
    convs = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Conv2D)]
    assert {c.filters for c in convs} == {8} and len(convs) == 3 * blocks
    # The optimised first block: no ReLU between the image and its first convolution.
    assert "down_0_relu_0" not in d_names and "down_1_relu_0" in d_names
    assert discriminator.get_layer("down_0_conv_0").input is discriminator.inputs[0]
    # Global sum pooling over the start square's positions.
    assert discriminator.get_layer("features_sum").scale == start * start


def test_resnet_sums_over_positions():
    _, discriminator = build(SMALL["resnet"])
    features = keras.Model(
        discriminator.inputs,
        [discriminator.get_layer("features_relu").output, discriminator.output],
    )
    maps, score = features([uniform_images(2, (28, 28, 1))])
    head = discriminator.get_layer("logit")
    pooled = np.asarray(maps).sum(axis=(1, 2))
    expected = pooled @ np.asarray(head.kernel) + np.asarray(head.bias)
    np.testing.assert_allclose(np.asarray(score), expected, rtol=1e-4, atol=1e-4)


# --- labels, refusals ----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(NETWORKS))
def test_labels_change_the_outputs(kind):
    generator, discriminator = build(SMALL[kind], conditioning=Concatenation())
    z = np.repeat(latents(1), CLASSES, axis=0)
    labels = np.arange(CLASSES, dtype="int32")
    images = np.asarray(generator([z, labels]))
    # Each label gives its own image from the same z.
    assert len(np.unique(images.reshape(CLASSES, -1).round(5), axis=0)) == CLASSES
    same_image = np.repeat(images[:1], CLASSES, axis=0)
    scores = np.asarray(discriminator([same_image, labels]))[:, 0]
    assert len(np.unique(scores)) == CLASSES


@pytest.mark.parametrize("kind", [*CONVOLUTIONAL, "progan", "stylegan"])
@pytest.mark.parametrize("image_shape", [(28, 32, 1), (27, 27, 1), (18, 18, 1), (7, 7, 1)], ids=str)
def test_unreachable_shapes_are_refused(kind, image_shape):
    with pytest.raises(ValueError, match=f"{kind} networks"):
        build(SMALL[kind], image_shape)


def test_bad_arguments_are_refused():
    with pytest.raises(ValidationError, match="discriminator_norm"):
        DCGAN(discriminator_norm="group")
    with pytest.raises(ValueError, match="num_classes"):
        SMALL["dcgan"].build((28, 28, 1), Unconditional(), -1)
    with pytest.raises(ValueError, match="needs labelled data"):
        SMALL["dcgan"].build((28, 28, 1), Concatenation(), 0)
    with pytest.raises(ValueError, match="mlp generator has no BatchNorm"):
        SMALL["mlp"].build((28, 28, 1), Projection(generator_input="batch_norm"), CLASSES)


# --- self-attention --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "image_shape", "resolution"),
    [("dcgan", (28, 28, 1), 14), ("resnet", (28, 28, 1), 7), ("resnet", (32, 32, 3), 16)],
)
def test_self_attention(kind, image_shape, resolution):
    network = SMALL[kind].model_copy(update={"attention_resolution": resolution})
    generator, discriminator = build(network, image_shape, Concatenation())
    labels = np.arange(2, dtype="int32")
    images = np.asarray(generator([latents(2), labels]))
    assert images.shape == (2, *image_shape)
    assert tuple(discriminator([images, labels]).shape) == (2, 1)
    for model in (generator, discriminator):
        attention = model.get_layer("attention_heads")
        assert isinstance(attention, keras.layers.MultiHeadAttention)
        assert layer_types(model).count("MultiHeadAttention") == 1
        block_in = model.get_layer("attention_tokens").input
        assert block_in.shape[1] == resolution
        channels = block_in.shape[-1]
        assert (attention.num_heads, attention.key_dim) == (1, max(channels // 8, 1))
        # SAGAN's gamma = 0: the block starts as the identity.
        block = keras.Model(block_in, model.get_layer("attention_residual").output)
        maps = np.random.default_rng(1).standard_normal((2, *block_in.shape[1:]), "float32")
        np.testing.assert_array_equal(np.asarray(block(maps)), maps)


def test_attention_is_off_by_default():
    generator, discriminator = build(SMALL["resnet"])
    assert "MultiHeadAttention" not in layer_types(generator) + layer_types(discriminator)


@pytest.mark.parametrize(
    ("kind", "image_shape", "resolution", "allowed"),
    [
        ("dcgan", (28, 28, 1), 28, "[7, 14]"),
        ("dcgan", (32, 32, 3), 7, "[4, 8, 16]"),
        ("resnet", (28, 28, 1), 3, "[7, 14]"),
    ],
)
def test_a_resolution_the_networks_lack_is_refused(kind, image_shape, resolution, allowed):
    network = SMALL[kind].model_copy(update={"attention_resolution": resolution})
    with pytest.raises(ValueError, match="network.attention_resolution") as raised:
        build(network, image_shape)
    assert f"= {resolution}:" in str(raised.value) and allowed in str(raised.value)


# --- wrap: every weight layer of D ------------------------------------------------------


class CountingWrap:
    """Wraps each layer in spectral normalisation and remembers which it wrapped."""

    def __init__(self):
        self.wrapped: list[str] = []

    def __call__(self, layer):
        self.wrapped.append(layer.name)
        return keras.layers.SpectralNormalization(layer)


WEIGHT_LAYERS = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Embedding)


@pytest.mark.parametrize(
    "conditioning",
    [Unconditional(), Concatenation(), Projection(), AuxiliaryClassifier(), InformationCodes()],
    ids=lambda c: c.kind,
)
@pytest.mark.parametrize("kind", list(NETWORKS))
def test_wrap_reaches_every_discriminator_weight_layer(kind, conditioning):
    network = SMALL[kind]
    if kind in CONVOLUTIONAL:
        network = network.model_copy(update={"attention_resolution": 7})
    if network.conditioning_conflict(conditioning):  # StyleGAN refuses InfoGAN's codes
        with pytest.raises(ValueError, match=conditioning.kind):
            build(network, conditioning=conditioning)
        return
    wrap = CountingWrap()
    generator, discriminator = build(network, conditioning=conditioning, wrap=wrap)
    wrappers = [
        layer
        for layer in discriminator.layers
        if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    assert sorted(w.layer.name for w in wrappers) == sorted(wrap.wrapped)
    # No weight layer is left bare, but for the attention block (see attention.py).
    bare = [
        layer.name
        for layer in discriminator.layers
        if isinstance(layer, WEIGHT_LAYERS) and not layer.name.startswith("attention")
    ]
    assert bare == []
    heads = {"none": 1, "concat": 1, "projection": 2, "acgan": 2, "info": 3}[conditioning.kind]
    # resnet: 3 convolutions a block; progan: 3 fromRGB, 2 convolutions in each of the
    # two upper blocks, and the last block's convolution and Dense; stylegan: 1 fromRGB,
    # 2 convolutions and a skip's in each upper block, the same last block.
    trunk = {"mlp": 1, "dcgan": 2, "resnet": 6, "progan": 9, "stylegan": 9}[kind]
    assert len(wrap.wrapped) == trunk + heads
    assert "SpectralNormalization" not in layer_types(generator)
    # And D still runs where SN does its work: in training.
    images = uniform_images(2, (28, 28, 1))
    d_in = [images, np.array([1, 2], "int32")] if len(discriminator.inputs) == 2 else images
    outputs = discriminator(d_in, training=True)
    for output in outputs if isinstance(outputs, list) else [outputs]:
        assert np.isfinite(np.asarray(output)).all()


# --- standalone reload ---------------------------------------------------------------------

RELOAD_CASES = {
    f"{kind}-{name}": (kind, conditioning)
    for kind in NETWORKS
    for name, conditioning in {
        "none": Unconditional(),
        "concat": Concatenation(),
        "concat-bn": Concatenation(generator_input="batch_norm"),
        "projection": Projection(),
        "projection-bn": Projection(generator_input="batch_norm"),
        "acgan": AuxiliaryClassifier(),
        "acgan-bn": AuxiliaryClassifier(generator_input="batch_norm"),
        "info": InformationCodes(),
    }.items()
    if NETWORKS[kind]().conditioning_conflict(conditioning) is None
}


def test_every_network_reloads_without_project_code(tmp_path):
    """Every kind under every conditioning (and with attention) loads with Keras alone."""
    cases = {
        name: (SMALL[kind], conditioning) for name, (kind, conditioning) in RELOAD_CASES.items()
    }
    for kind in CONVOLUTIONAL:
        attentive = SMALL[kind].model_copy(update={"attention_resolution": 7})
        cases[f"{kind}-attention"] = (attentive, Projection(generator_input="batch_norm"))
    # ProGAN half-way into its last fade (phase 3 of 20,000 images): the blend kernels
    # its schedule set, not their initial values, must come back.
    cases["progan-fading"] = (SMALL["progan"], Unconditional())
    manifest = {}
    labels = np.array([0, 3, 7, 9], dtype="int32")
    for name, (network, conditioning) in cases.items():
        generator, discriminator = build(network, conditioning=conditioning)
        if name == "progan-fading":
            network.schedule(generator, discriminator)(70_000)
        z = latents(4)
        g_label = conditioning.generator_takes_label()  # a class, or InfoGAN's code
        g_in = [z, labels] if g_label else z
        images = np.asarray(generator(g_in))
        d_label = conditioning.conditional and conditioning.discriminator_takes_label
        scores = discriminator([images, labels] if d_label else images)
        scores = scores if isinstance(scores, list) else [scores]
        generator.save(tmp_path / f"{name}-g.keras")
        discriminator.save(tmp_path / f"{name}-d.keras")
        arrays = {f"score{i}": np.asarray(s) for i, s in enumerate(scores)}
        np.savez(tmp_path / f"{name}.npz", z=z, labels=labels, images=images, **arrays)
        manifest[name] = [g_label, d_label, len(scores)]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    printed = run_standalone(
        """
        import json, keras, numpy as np
        for name, (g_label, d_label, outputs) in json.load(open("manifest.json")).items():
            io = np.load(f"{name}.npz")
            g = keras.saving.load_model(f"{name}-g.keras")
            d = keras.saving.load_model(f"{name}-d.keras")
            images = g([io["z"], io["labels"]] if g_label else io["z"])
            np.testing.assert_allclose(images, io["images"], atol=1e-5, err_msg=name)
            scores = d([io["images"], io["labels"]] if d_label else io["images"])
            scores = scores if isinstance(scores, list) else [scores]
            assert len(scores) == outputs, name
            for i, score in enumerate(scores):
                np.testing.assert_allclose(score, io[f"score{i}"], atol=1e-4, err_msg=name)
            print(name, [t.name for t in g.inputs], [t.name for t in d.inputs])
        """,
        tmp_path,
    )
    assert "dcgan-concat ['z', 'label'] ['image', 'label']" in printed
    assert "resnet-acgan-bn ['z', 'label'] ['image']" in printed
    assert "dcgan-info ['z', 'code'] ['image']" in printed
    assert len(printed.splitlines()) == len(cases)
