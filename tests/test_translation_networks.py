"""Translation networks: shapes, refusals, the stock-layer blocks, wrap, standalone reload, JAX."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT
from pydantic import TypeAdapter, ValidationError
from standalone import run_standalone

from pipeline.models.translation.networks import (
    DISCRIMINATORS,
    GENERATORS,
    DiscriminatorSettings,
    GeneratorSettings,
    PatchGAN,
    ResNetGenerator,
    SRGANDiscriminator,
    SRResNet,
    UNet,
    instance_norm,
    pixel_shuffle,
)
from pipeline.models.translation.networks.blocks import reflection_pad
from pipeline.models.translation.networks.patchgan import receptive_field

# Small widths and few blocks keep the file fast; the layouts are the defaults'.
SMALL_G = {
    "unet": UNet(filters=8),
    "resnet": ResNetGenerator(filters=4, blocks=1),
    "srresnet": SRResNet(filters=8, blocks=2),
}
SMALL_D = {
    "patchgan": PatchGAN(filters=8),
    "srgan": SRGANDiscriminator(filters=8, dense_units=16),
}
# (input shape, output shape) each generator kind must map.
G_CASES = {
    "unet": [((28, 28, 1), (28, 28, 1)), ((28, 28, 1), (28, 28, 3)), ((32, 32, 3), (32, 32, 3))],
    "resnet": [((28, 28, 1), (28, 28, 1)), ((28, 28, 1), (28, 28, 3)), ((32, 32, 3), (32, 32, 3))],
    "srresnet": [
        ((14, 14, 1), (28, 28, 1)),
        ((14, 14, 1), (28, 28, 3)),
        ((16, 16, 3), (32, 32, 3)),
        ((8, 8, 1), (32, 32, 1)),
    ],
}
# (input shape, output shape) each generator kind must refuse.
G_REFUSED = {
    "unet": [((28, 28, 1), (32, 32, 1)), ((7, 7, 1), (7, 7, 1)), ((28, 28), (28, 28, 1))],
    "resnet": [((30, 30, 1), (30, 30, 1)), ((28, 28, 1), (14, 14, 1)), ((4, 4, 1), (4, 4, 1))],
    "srresnet": [((14, 14, 1), (42, 42, 1)), ((14, 14, 1), (28, 14, 1)), ((28, 28, 1),) * 2],
}


def images(n: int, shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype("float32")


def layer_types(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def through(block, shape, *args) -> keras.Model:
    """A model of one block (a function of a Keras tensor) on inputs of `shape`."""
    x = keras.Input(shape=shape)
    return keras.Model(x, block(x, *args))


# --- the schema -----------------------------------------------------------------------


def test_registries_and_unions():
    assert set(GENERATORS) == {"unet", "resnet", "srresnet"}
    assert set(DISCRIMINATORS) == {"patchgan", "srgan"}
    for union, registry in (
        (GeneratorSettings, GENERATORS),
        (DiscriminatorSettings, DISCRIMINATORS),
    ):
        adapter = TypeAdapter(union)
        for kind, cls in registry.items():
            assert isinstance(adapter.validate_python({"kind": kind}), cls)
    generator = TypeAdapter(GeneratorSettings).validate_python({"kind": "unet", "depth": 3})
    assert generator.depth == 3


@pytest.mark.parametrize(
    ("union", "section", "key"),
    [
        (GeneratorSettings, {"kind": "unet", "blocks": 3}, "blocks"),
        (GeneratorSettings, {"kind": "resnet", "depth": 2}, "depth"),
        (GeneratorSettings, {"kind": "srresnet", "skip_connections": False}, "skip_connections"),
        (DiscriminatorSettings, {"kind": "patchgan", "dense_units": 8}, "dense_units"),
        (DiscriminatorSettings, {"kind": "srgan", "layers": 2}, "layers"),
        (GeneratorSettings, {"kind": "patchgan"}, "kind"),
        (DiscriminatorSettings, {"kind": "patchgan", "norm": "layer"}, "norm"),
        (GeneratorSettings, {"kind": "unet", "dropout": 1.0}, "dropout"),
        (GeneratorSettings, {"kind": "resnet", "blocks": 0}, "blocks"),
        (GeneratorSettings, {"kind": "unet", "filters": "64"}, "filters"),
    ],
    ids=str,
)
def test_the_schema_refuses_keys_and_values_of_other_kinds(union, section, key):
    with pytest.raises(ValidationError, match=key):
        TypeAdapter(union).validate_python(section)


def test_defaults_are_the_papers():
    unet = UNet()
    assert (unet.filters, unet.depth, unet.dropout, unet.dropout_layers) == (64, None, 0.5, 3)
    assert unet.skip_connections and not unet.channel_wise_fc
    resnet = ResNetGenerator()
    assert (resnet.filters, resnet.blocks, resnet.padding) == (64, 3, "reflect")
    assert (SRResNet().filters, SRResNet().blocks) == (64, 16)
    assert (PatchGAN().filters, PatchGAN().layers, PatchGAN().norm) == (64, None, "batch")
    srgan = SRGANDiscriminator()
    assert (srgan.filters, srgan.blocks, srgan.dense_units, srgan.norm) == (64, None, 1024, "batch")
    assert PatchGAN().mixes_batch() and not PatchGAN(norm="instance").mixes_batch()


def test_validating_loads_no_keras():
    script = (
        "import sys\n"
        "from pydantic import TypeAdapter\n"
        "from pipeline.models.translation.networks import GeneratorSettings\n"
        "TypeAdapter(GeneratorSettings).validate_python({'kind': 'unet'})\n"
        "heavy = [m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]


# --- generators: shapes, ranges, refusals --------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "shapes"), [(k, s) for k, cases in G_CASES.items() for s in cases], ids=str
)
def test_generator_shapes_and_range(kind, shapes):
    input_shape, output_shape = shapes
    generator = SMALL_G[kind].build(input_shape, output_shape)
    assert generator.name == "generator" and [t.name for t in generator.inputs] == ["image"]
    assert generator.output_shape == (None, *output_shape)
    out = np.asarray(generator(images(3, input_shape)))
    assert out.shape == (3, *output_shape) and out.dtype == np.float32
    assert out.min() >= -1 and out.max() <= 1
    assert generator.layers[-1].activation.__name__ == "tanh"


@pytest.mark.parametrize(
    ("kind", "shapes"), [(k, s) for k, cases in G_REFUSED.items() for s in cases], ids=str
)
def test_generators_refuse_impossible_shapes_in_one_line(kind, shapes):
    with pytest.raises(ValueError) as raised:
        SMALL_G[kind].build(*shapes)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{kind} generator cannot map ")
    for shape in shapes:
        assert "x".join(map(str, shape)) in message


def test_numpy_sizes_are_taken_and_booleans_are_not():
    shape = np.zeros((2, 28, 28, 1)).shape[1:]
    sizes = tuple(np.int64(s) for s in shape)
    assert SMALL_G["unet"].build(sizes, sizes).output_shape == (None, 28, 28, 1)
    with pytest.raises(ValueError, match="positive integers"):
        SMALL_D["patchgan"].build((28, 28, True))


def test_an_explicit_depth_must_divide_the_image():
    with pytest.raises(ValueError, match="unet generator .* depth 3 needs .* divisible by 8"):
        UNet(filters=8, depth=3).build((28, 28, 1), (28, 28, 1))


# --- discriminators -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "image_shape", "condition_shape", "scores"),
    [
        ("patchgan", (28, 28, 1), None, (7, 7, 1)),
        ("patchgan", (28, 28, 3), (28, 28, 1), (7, 7, 1)),
        ("patchgan", (32, 32, 3), None, (4, 4, 1)),
        ("patchgan", (28, 28, 1), (14, 14, 1), (7, 7, 1)),
        ("srgan", (28, 28, 1), None, (1,)),
        ("srgan", (28, 28, 1), (14, 14, 1), (1,)),
        ("srgan", (32, 32, 3), (32, 32, 3), (1,)),
    ],
    ids=str,
)
def test_discriminator_shapes_and_inputs(kind, image_shape, condition_shape, scores):
    discriminator = SMALL_D[kind].build(image_shape, condition_shape)
    assert discriminator.name == "discriminator"
    if condition_shape is None:
        assert [t.name for t in discriminator.inputs] == ["image"]
        d_in = images(3, image_shape)
    else:
        assert [t.name for t in discriminator.inputs] == ["condition", "image"]
        d_in = [images(3, condition_shape), images(3, image_shape, seed=1)]
    out = np.asarray(discriminator(d_in))
    assert out.shape == (3, *scores) and out.dtype == np.float32
    assert discriminator.output_shape == (None, *scores)


@pytest.mark.parametrize(
    ("kind", "image_shape", "condition_shape"),
    [
        ("patchgan", (28, 28, 1), (20, 20, 1)),
        ("patchgan", (28, 28, 1), (14, 28, 1)),
        ("patchgan", (7, 7, 1), None),
        ("srgan", (5, 5, 1), None),
        ("srgan", (28, 28), None),
    ],
    ids=str,
)
def test_discriminators_refuse_impossible_shapes_in_one_line(kind, image_shape, condition_shape):
    with pytest.raises(ValueError) as raised:
        SMALL_D[kind].build(image_shape, condition_shape)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{kind} discriminator cannot score ")
    assert "x".join(map(str, image_shape)) in message


def test_explicit_layers_must_fit_the_image():
    with pytest.raises(ValueError, match="5 stride-2 layers need .* at least 32"):
        PatchGAN(filters=8, layers=5).build((28, 28, 1))


class CountingWrap:
    """Wraps each layer in spectral normalisation and remembers which it wrapped."""

    def __init__(self):
        self.wrapped: list[str] = []

    def __call__(self, layer):
        self.wrapped.append(layer.name)
        return keras.layers.SpectralNormalization(layer)


@pytest.mark.parametrize("condition", [False, True])
@pytest.mark.parametrize(("kind", "weight_layers"), [("patchgan", 4), ("srgan", 6)])
def test_wrap_reaches_every_discriminator_weight_layer(kind, weight_layers, condition):
    wrap = CountingWrap()
    shape = (28, 28, 1)
    discriminator = SMALL_D[kind].build(shape, shape if condition else None, wrap)
    # patchgan: 2 stride-2, 1 stride-1, the scores; srgan: 2 blocks of 2 convolutions, 2 Dense.
    assert len(wrap.wrapped) == weight_layers
    wrappers = [
        layer.layer.name
        for layer in discriminator.layers
        if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    assert sorted(wrappers) == sorted(wrap.wrapped)
    bare = [
        layer.name
        for layer in discriminator.layers
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)
    ]
    assert bare == []
    d_in = [images(2, shape), images(2, shape, 1)] if condition else images(2, shape)
    assert np.isfinite(np.asarray(discriminator(d_in, training=True))).all()


@pytest.mark.parametrize(("layers", "expected"), [(1, 16), (2, 34), (3, 70)])
def test_patchgan_receptive_field(layers, expected):
    """The docstring's patch sizes: the input pixels one central score depends on."""
    assert receptive_field(layers) == expected
    network = PatchGAN(filters=4, layers=layers, norm="none")
    discriminator = network.build((96, 96, 1))
    x = tf.constant(images(1, (96, 96, 1)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = discriminator(x)
        centre = scores[0, scores.shape[1] // 2, scores.shape[2] // 2, 0]
    rows, cols = np.nonzero(np.asarray(tape.gradient(centre, x))[0, :, :, 0])
    assert rows.max() - rows.min() + 1 == expected
    assert cols.max() - cols.min() + 1 == expected


@pytest.mark.parametrize(
    ("size", "patchgan_layers", "srgan_blocks"), [(28, 2, 2), (32, 3, 3), (64, 3, 4), (96, 3, 4)]
)
def test_discriminator_depth_follows_the_image(size, patchgan_layers, srgan_blocks):
    patchgan = PatchGAN(filters=4).build((size, size, 1))
    strided = [layer for layer in patchgan.layers if getattr(layer, "strides", None) == (2, 2)]
    assert len(strided) == patchgan_layers
    assert "conv_0_norm" not in [layer.name for layer in patchgan.layers]
    assert layer_types(patchgan).count("BatchNormalization") == patchgan_layers
    srgan = SRGANDiscriminator(filters=4, dense_units=8).build((size, size, 1))
    assert layer_types(srgan).count("Conv2D") == 2 * srgan_blocks
    assert srgan.get_layer("flatten").input.shape[1] == -(-size // 2**srgan_blocks)


# --- layouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "depth"), [(28, 2), (32, 3), (64, 4), (14, 1), (12, 2)])
def test_unet_depth_follows_the_image(size, depth):
    generator = UNet(filters=4).build((size, size, 1), (size, size, 1))
    downs = [layer for layer in generator.layers if layer.name.startswith("down_")]
    assert len([d for d in downs if isinstance(d, keras.layers.Conv2D)]) == depth
    assert layer_types(generator).count("Concatenate") == depth - 1
    assert min(generator.get_layer(f"down_{depth - 1}").output.shape[1:3]) >= 3


def test_unet_layout():
    generator = UNet(filters=8, depth=4).build((32, 32, 1), (32, 32, 3))
    names = [layer.name for layer in generator.layers]
    # No BatchNorm on the first encoder level, as in the paper.
    assert "down_0_bn" not in names and "down_1_bn" in names
    widths = [generator.get_layer(f"down_{i}").filters for i in range(4)]
    assert widths == [8, 16, 32, 64]
    # Dropout on the innermost three decoder layers (all three hidden ones here).
    assert [f"up_{i}_dropout" in names for i in range(3)] == [True] * 3
    fewer = UNet(filters=8, depth=4, dropout_layers=1).build((32, 32, 1), (32, 32, 1))
    assert [layer.name for layer in fewer.layers if "dropout" in layer.name] == ["up_2_dropout"]
    plain = UNet(filters=8, dropout=0.0).build((28, 28, 1), (28, 28, 1))
    assert "Dropout" not in layer_types(plain)
    # Skips concatenate the mirrored encoder map.
    skip = generator.get_layer("up_1_skip")
    assert skip.input[1] is generator.get_layer("down_1_act").output


def test_unet_without_skips_is_an_encoder_decoder():
    generator = UNet(filters=8, skip_connections=False).build((28, 28, 1), (28, 28, 1))
    assert "Concatenate" not in layer_types(generator)
    assert np.asarray(generator(images(2, (28, 28, 1)))).shape == (2, 28, 28, 1)


def centre_reach(generator, size: int = 28) -> np.ndarray:
    """Which input pixels the centre output pixel depends on (over three random inputs)."""
    reach = np.zeros((size, size), bool)
    for seed in range(3):
        x = tf.constant(images(1, (size, size, 1), seed))
        with tf.GradientTape() as tape:
            tape.watch(x)
            centre = generator(x)[0, size // 2, size // 2, 0]
        reach |= np.asarray(tape.gradient(centre, x))[0, :, :, 0] != 0
    return reach


def test_the_channel_wise_fc_lets_a_hole_s_centre_see_the_whole_image():
    """Inpainting a centred 14x14 hole: without it, the centre sees 2 pixels past the hole."""
    plain = UNet(filters=8, skip_connections=False).build((28, 28, 1), (28, 28, 1))
    rows, cols = np.nonzero(centre_reach(plain))
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (5, 22, 5, 22)  # 18x18
    network = UNet(filters=8, skip_connections=False, channel_wise_fc=True)
    encoder = network.build((28, 28, 1), (28, 28, 1))
    assert centre_reach(encoder).all()
    fc = encoder.get_layer("bottleneck_fc")
    assert isinstance(fc, keras.layers.EinsumDense) and fc.kernel.shape == (49, 49, 16)


@pytest.mark.parametrize("padding", ["reflect", "zero"])
def test_resnet_layout(padding):
    network = ResNetGenerator(filters=4, blocks=2, padding=padding)
    generator = network.build((28, 28, 1), (28, 28, 3))
    norms = [
        layer for layer in generator.layers if isinstance(layer, keras.layers.GroupNormalization)
    ]
    # c7s1, 2 down, 2 x 2 in the blocks, 2 up; none on the output.
    # groups=-1 becomes one group per channel when built: instance norm.
    assert len(norms) == 9 and all(n.groups == n.input.shape[-1] for n in norms)
    assert "BatchNormalization" not in layer_types(generator)
    assert generator.get_layer("block_1_add").output.shape[1:] == (7, 7, 16)
    assert generator.get_layer("c7s1_conv").kernel.shape == (7, 7, 1, 4)
    assert ("Cropping2D" in layer_types(generator)) == (padding == "reflect")


def test_srresnet_layout():
    generator = SRResNet(filters=8, blocks=3).build((7, 7, 1), (28, 28, 1))
    names = [layer.name for layer in generator.layers]
    assert [f"block_{i}_add" in names for i in range(4)] == [True] * 3 + [False]
    assert [f"upsample_{i}_shuffle_interleave" in names for i in range(3)] == [True, True, False]
    assert generator.get_layer("upsample_0_conv").filters == 32
    assert generator.get_layer("head_conv").kernel.shape[:2] == (9, 9)
    assert generator.get_layer("output").kernel.shape[:2] == (9, 9)
    # One PReLU slope per channel.
    assert generator.get_layer("head_prelu").alpha.shape == (1, 1, 8)
    long_skip = generator.get_layer("long_skip")
    assert long_skip.input[0] is generator.get_layer("head_prelu").output


# --- the stock-layer blocks -------------------------------------------------------------------


def depth_to_space(x: np.ndarray, r: int) -> np.ndarray:
    """numpy's reference: output (r*h + i, r*w + j, c) = input (h, w, (i*r + j)*C + c)."""
    n, h, w, channels = x.shape
    c = channels // (r * r)
    out = np.empty((n, h * r, w * r, c), x.dtype)
    for i in range(r):
        for j in range(r):
            start = (i * r + j) * c
            out[:, i::r, j::r, :] = x[:, :, :, start : start + c]
    return out


@pytest.mark.parametrize(("shape", "factor"), [((3, 5, 8), 2), ((2, 2, 18), 3), ((4, 4, 4), 2)])
def test_pixel_shuffle_is_depth_to_space(shape, factor):
    x = images(2, shape)
    shuffled = np.asarray(through(pixel_shuffle, shape, factor, "shuffle")(x))
    np.testing.assert_array_equal(shuffled, depth_to_space(x, factor))
    np.testing.assert_array_equal(shuffled, np.asarray(tf.nn.depth_to_space(x, factor)))


@pytest.mark.parametrize("pad", [1, 3])
def test_reflection_pad_is_numpy_s(pad):
    x = images(2, (7, 9, 2))
    padded = np.asarray(through(reflection_pad, (7, 9, 2), pad, "pad")(x))
    expected = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    np.testing.assert_array_equal(padded, expected)


def test_instance_norm_is_per_example_and_channel():
    x = np.random.default_rng(0).normal(2, 3, (3, 5, 6, 4)).astype("float32")
    normalised = np.asarray(instance_norm("norm")(x))
    mean, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    np.testing.assert_allclose(normalised, (x - mean) / np.sqrt(var + 1e-5), atol=1e-4)


# --- mixed precision -----------------------------------------------------------------------------


def test_outputs_are_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        generator = SMALL_G["unet"].build((28, 28, 1), (28, 28, 1))
        discriminator = SMALL_D["patchgan"].build((28, 28, 1), (28, 28, 1))
        assert generator.get_layer("down_0").compute_dtype == "bfloat16"
    finally:
        keras.config.set_dtype_policy("float32")
    x = images(2, (28, 28, 1))
    out = generator(x)
    assert out.dtype == "float32"
    assert discriminator([x, np.asarray(out)]).dtype == "float32"


# --- standalone reload, JAX ---------------------------------------------------------------------

RELOAD = {
    "unet": (SMALL_G["unet"], (28, 28, 1), (28, 28, 3)),
    "unet-noskip": (
        UNet(filters=8, skip_connections=False, channel_wise_fc=True),
        (28, 28, 1),
        (28, 28, 1),
    ),
    "resnet": (SMALL_G["resnet"], (28, 28, 1), (28, 28, 1)),
    "srresnet": (SMALL_G["srresnet"], (14, 14, 1), (28, 28, 1)),
}


def test_every_kind_reloads_safely_without_project_code(tmp_path):
    manifest = {}
    for name, (network, input_shape, output_shape) in RELOAD.items():
        model = network.build(input_shape, output_shape)
        x = images(2, input_shape)
        np.savez(tmp_path / f"{name}.npz", x0=x, out=np.asarray(model(x)))
        model.save(tmp_path / f"{name}.keras")
        manifest[name] = 1
    for kind, network in SMALL_D.items():
        for condition in (None, (28, 28, 1)):
            name = f"{kind}-{'pair' if condition else 'image'}"
            # Spectral norm's wrapper is a stock layer too: it reloads as one.
            wrap = keras.layers.SpectralNormalization if kind == "patchgan" else lambda x: x
            model = network.build((28, 28, 1), condition, wrap)
            inputs = [images(2, (28, 28, 1), seed) for seed in range(len(model.inputs))]
            arrays = {f"x{i}": x for i, x in enumerate(inputs)}
            out = model(inputs if len(inputs) > 1 else inputs[0])
            np.savez(tmp_path / f"{name}.npz", out=np.asarray(out), **arrays)
            model.save(tmp_path / f"{name}.keras")
            manifest[name] = len(inputs)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    printed = run_standalone(
        """
        import json, keras, numpy as np
        for name, count in json.load(open("manifest.json")).items():
            io = np.load(f"{name}.npz")
            model = keras.saving.load_model(f"{name}.keras", safe_mode=True)
            inputs = [io[f"x{i}"] for i in range(count)]
            out = model(inputs if count > 1 else inputs[0])
            np.testing.assert_allclose(out, io["out"], atol=1e-5, err_msg=name)
            print(name, [t.name for t in model.inputs])
        """,
        tmp_path,
    )
    assert "patchgan-pair ['condition', 'image']" in printed
    assert "srresnet ['image']" in printed
    assert len(printed.splitlines()) == len(manifest)


JAX_SCRIPT = """
import sys
import numpy as np
from pipeline.models.translation.networks import (
    PatchGAN, ResNetGenerator, SRGANDiscriminator, SRResNet, UNet,
)
x28 = np.random.default_rng(0).uniform(-1, 1, (2, 28, 28, 1)).astype("float32")
generators = [
    (UNet(filters=8), x28, (28, 28, 3)),
    (ResNetGenerator(filters=4, blocks=1), x28, (28, 28, 1)),
    (SRResNet(filters=8, blocks=1), x28[:, ::2, ::2], (28, 28, 1)),
]
for network, x, output_shape in generators:
    out = np.asarray(network.build(x.shape[1:], output_shape)(x))
    assert out.shape == (2, *output_shape) and np.abs(out).max() <= 1, network.kind
    print(network.kind, out.shape)
for network, shape in [(PatchGAN(filters=8), (7, 7, 1)), (SRGANDiscriminator(filters=8), (1,))]:
    scores = np.asarray(network.build((28, 28, 1), (28, 28, 1))([x28, x28]))
    assert scores.shape == (2, *shape) and np.isfinite(scores).all(), network.kind
    print(network.kind, scores.shape)
import keras
print("backend", keras.backend.backend(), "tensorflow loaded", "tensorflow" in sys.modules)
"""


def test_one_forward_pass_per_kind_on_jax():
    # Most of the time here is XLA compiling each weight shape's initialiser
    # and each layer once; unoptimised compilation halves it (20 s -> 10 s),
    # and one forward pass of small networks does not need fast code.
    xla_flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0"
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["XLA_FLAGS"] = xla_flags.strip()
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(JAX_SCRIPT)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.splitlines()
    assert printed[-1] == "backend jax tensorflow loaded False"
    assert {line.split()[0] for line in printed[:-1]} == set(GENERATORS) | set(DISCRIMINATORS)
