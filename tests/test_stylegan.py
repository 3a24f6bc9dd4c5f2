"""The small StyleGAN: its preset, modulated convolutions, style mixing, noise and w truncation.

The networks' shapes, conditioning, spectral-norm wrapping and reload with
Keras alone are test_networks' (StyleGAN is one of its kinds); the step on
both backends is test_jax's (tests/one_step.py); a tiny `dvc repro` of the
preset, with `pipeline.generate --truncation`, is test_translation_pipeline's.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops
from PIL import Image
from resume import check_resume

from pipeline.data.stream import ArrayExamples, BatchStream
from pipeline.export import export_samples
from pipeline.generate import main
from pipeline.models.build import make_model
from pipeline.models.conditioning import Concatenation, InformationCodes, Unconditional
from pipeline.models.networks import StyleGAN
from pipeline.models.networks.stylegan import SYNTHESIS, mixed_styles
from pipeline.params import ExportParams, ModelParams
from pipeline.sampling import W_AVERAGE_STREAM, generate, latent_vectors
from pipeline.training.model import build_model
from pipeline.truncation import W_AVERAGE_SAMPLES, has_w_space, truncation, w_average
from pipeline.w_space import MAPPING, W_TRUNCATION

LATENT = 8
SMALL = {"kind": "stylegan", "latent_dim": LATENT, "w_dim": 8, "filters": 4, "mapping_layers": 2}
SHAPE = (28, 28, 1)


def small(**update) -> StyleGAN:
    return StyleGAN(**{**SMALL, **update})


def latents(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, LATENT)).astype("float32")


@pytest.fixture(scope="module")
def generator() -> keras.Model:
    keras.utils.set_random_seed(0)
    return small().build_generator(SHAPE, Unconditional(), 0)


def test_the_preset_is_the_paper_s_setting():
    params = ModelParams.model_validate({"family": "stylegan"})
    assert params.network.kind == "stylegan" and params.loss.name == "non_saturating"
    assert (params.network.mapping_lr_multiplier, params.network.style_mixing) == (0.01, 0.9)
    assert params.regularisers.r1.gamma == 0.01 and params.regularisers.ema.momentum == 0.999
    for optimizer in (params.train.d_optimizer, params.train.g_optimizer):
        assert (optimizer.learning_rate, optimizer.beta_1, optimizer.beta_2) == (2e-3, 0.0, 0.99)


def test_info_codes_are_refused_and_a_stray_key_is_named():
    network = small()
    with pytest.raises(ValueError, match="style mixing would mix InfoGAN's codes"):
        network.build(SHAPE, InformationCodes(), 0)
    with pytest.raises(ValueError, match="phase_images"):
        ModelParams.model_validate({"family": "stylegan", "network": {"phase_images": 10}})


def test_g_is_a_mapping_and_a_synthesis_network_joined_by_an_identity_truncation(generator):
    assert has_w_space(generator)
    mapping, synthesis = generator.get_layer(MAPPING), generator.get_layer(SYNTHESIS)
    # 28x28: a conv and a toRGB at 7x7, two convs and a toRGB at 14 and at 28.
    assert synthesis.inputs[0].shape[1:] == (8, 8)
    assert [tuple(t.shape[1:3]) for t in synthesis.inputs[1:]] == [
        (7, 7), (14, 14), (14, 14), (28, 28), (28, 28)
    ]  # fmt: skip
    truncation_layer = generator.get_layer(W_TRUNCATION)
    assert not truncation_layer.trainable
    np.testing.assert_array_equal(truncation_layer.kernel, np.eye(8))
    z = latents(4)
    ws = np.repeat(np.asarray(mapping(z))[:, None], 8, axis=1)
    zero_noise = [np.zeros((4, s, s, 1), "float32") for s in (7, 14, 14, 28, 28)]
    np.testing.assert_allclose(generator(z), synthesis([ws, *zero_noise]), atol=1e-6)


def test_demodulation_gives_each_output_map_unit_weight_norm_whatever_the_style():
    """d scales each output channel's modulated weights to unit L2 norm: the outputs of a
    demodulated convolution do not change when the style is scaled."""
    network = small()
    x_in, w_in = keras.Input((5, 5, 3)), keras.Input((8,))
    outputs = {}
    for demodulate in (True, False):
        y = network.modulated_conv(x_in, w_in, 4, 3, f"conv_{demodulate}", demodulate)
        outputs[demodulate] = keras.Model([x_in, w_in], y)
    x = np.random.default_rng(1).standard_normal((2, 5, 5, 3)).astype("float32")
    w = np.random.default_rng(2).standard_normal((2, 8)).astype("float32")
    for demodulate, model in outputs.items():
        affine = model.get_layer(f"conv_{demodulate}_affine")
        before = np.asarray(model([x, w]))
        affine.kernel.assign(affine.kernel * 3.0)  # the style, scaled by 3 (the bias too:)
        affine.bias.assign(affine.bias * 3.0)
        after = np.asarray(model([x, w]))
        if demodulate:
            np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)
        else:
            np.testing.assert_allclose(after, 3.0 * before, rtol=1e-4, atol=1e-5)


def test_mixed_styles_switch_to_the_second_w_at_each_image_s_crossover():
    w = np.zeros((3, 2), "float32")
    w_other = np.ones((3, 2), "float32")
    crossover = np.array([[1], [3], [4]], "int32")  # 4 = the layer count: not mixed
    ws = np.asarray(mixed_styles(w, w_other, crossover, 4))
    assert ws.shape == (3, 4, 2)
    np.testing.assert_array_equal(ws[:, :, 0], [[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]])


def _training_images(network: StyleGAN, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """G's images for fixed z in training (through the model's step's call) and saved."""
    keras.utils.set_random_seed(0)
    generator = network.build_generator(SHAPE, Unconditional(), 0)
    for layer in generator.get_layer(SYNTHESIS).layers:
        if layer.name.endswith("_noise"):  # noise strengths start at 0, as the paper's
            layer.kernel.assign(ops.ones_like(layer.kernel))
    call = network.training_call(generator)
    z = latents(16)
    images = np.asarray(call(ops.convert_to_tensor(z), keras.random.SeedGenerator(seed)))
    return images, np.asarray(generator(z))


def test_without_mixing_or_noise_training_runs_the_saved_generator():
    trained, saved = _training_images(small(style_mixing=0.0, noise=False))
    np.testing.assert_allclose(trained, saved, atol=1e-6)


def test_mixing_and_noise_change_training_images_and_follow_the_seed():
    for network in (small(style_mixing=1.0, noise=False), small(style_mixing=0.0)):
        trained, saved = _training_images(network)
        differs = np.abs(trained - saved).reshape(16, -1).max(axis=1) > 1e-4
        assert differs.all()
        again, _ = _training_images(network)
        np.testing.assert_array_equal(trained, again)
        other_seed, _ = _training_images(network, seed=1)
        assert not np.allclose(trained, other_seed)


def test_the_model_s_step_uses_the_training_call():
    params = ModelParams.model_validate({"family": "stylegan", "network": SMALL})
    network = params.network
    generator, discriminator = network.build(SHAPE, Unconditional(), 0)
    model = make_model(params, generator, discriminator, 0, seed=0)
    assert model.training_call is not None
    dcgan = ModelParams.model_validate({"family": "dcgan"})
    assert dcgan.network.training_call(generator) is None


def _fit(model, epochs: int, start_epoch: int = 0) -> dict:
    images = np.random.default_rng(3).uniform(-1, 1, (32, 8, 8, 1)).astype("float32")
    stream = BatchStream(ArrayExamples(images, np.zeros(32, "int32")), 8, seed=0,
                         start_batch=start_epoch * 4)  # fmt: skip
    return model.fit(
        iter(stream), steps_per_epoch=4, epochs=epochs, verbose=0, shuffle=False
    ).history


def test_a_stopped_run_resumes_bit_identically():
    """The mixing's and the noise's draws come from the model's seed generator, which
    the checkpoint holds: two epochs straight equal one, a restore and one more."""
    network = {**SMALL, "filters": 2}
    params = ModelParams.model_validate({"family": "stylegan", "network": network,
                                         "train": {"batch_size": 8}})  # fmt: skip
    histories = []

    def fit(model, epochs, start_epoch=0):
        histories.append(_fit(model, epochs, start_epoch))

    check_resume(lambda: build_model(params, (8, 8, 1), seed=1), fit)
    assert "r1_penalty" in histories[0]
    assert all(np.isfinite(v).all() for v in histories[0].values())


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_with_finite_losses_and_float32_images(precision):
    network = {**SMALL, "filters": 2}
    train = {"batch_size": 8, "precision": precision}
    params = ModelParams.model_validate({"family": "stylegan", "network": network, "train": train})
    model = build_model(params, (8, 8, 1), seed=0)
    images = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    logs = [model.train_on_batch(images, return_dict=True) for _ in range(2)]
    assert all(np.isfinite(value) for value in logs[-1].values()), logs
    assert model.generate(np.zeros((2, LATENT), "float32"), None, training=False).dtype == "float32"
    assert all(v.dtype == "float32" for v in model.generator.trainable_variables)


# --- truncation in w ---------------------------------------------------------------------


def test_w_average_is_the_mean_w_of_the_seeded_stream(generator):
    z = latent_vectors(3, W_AVERAGE_SAMPLES, LATENT, W_AVERAGE_STREAM)
    expected = np.asarray(generator.get_layer(MAPPING)(z)).mean(axis=0)
    np.testing.assert_allclose(w_average(generator, 3), expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(w_average(generator, 4), expected, rtol=1e-6, atol=0)


def test_truncation_pulls_w_to_its_mean_and_is_undone_after(generator):
    z = latents(6)
    untruncated = np.asarray(generator(z))
    with truncation(generator, 1e-6, seed=3) as z_psi:
        assert z_psi is None  # the latents are drawn as they come
        collapsed = np.asarray(generator(z))
    with truncation(generator, 0.5, seed=3):
        halfway = np.asarray(generator(z))
    # psi -> 0: every z gives the mean w's image.
    assert np.abs(collapsed - collapsed[:1]).max() < 1e-4
    assert np.abs(untruncated - untruncated[:1]).max() > 1e-2
    spread = [np.abs(images - images.mean(axis=0)).mean() for images in (halfway, untruncated)]
    assert spread[0] < spread[1]
    np.testing.assert_array_equal(generator(z), untruncated)  # restored
    with truncation(generator, 1.0, seed=3):
        np.testing.assert_allclose(generator(z), untruncated, atol=1e-5)


def test_a_conditional_generator_averages_w_over_its_classes():
    keras.utils.set_random_seed(0)
    conditional = small().build_generator(SHAPE, Concatenation(), 3)
    with truncation(conditional, 0.7, seed=0, num_classes=3) as z_psi:
        assert z_psi is None
        images = generate(conditional, latents(3), np.arange(3, dtype="int32"))
    assert np.isfinite(images).all()


def test_generate_truncation_works_in_w(generator, tmp_path):
    path = tmp_path / "stylegan.keras"
    generator.save(path)
    out = tmp_path / "x.npz"
    main(
        [
            str(path),
            "-n",
            "5",
            "--truncation",
            "0.7",
            "--seed",
            "4",
            "--scale",
            "1",
            "--out",
            str(out),
        ]
    )
    written = np.load(out)
    # z is drawn as it comes (truncation is in w), and the images are w's truncated.
    z = latent_vectors(4, 5, LATENT, 4)
    np.testing.assert_array_equal(written["z"], z)
    with truncation(generator, 0.7, seed=4):
        expected = generate(generator, z)
    np.testing.assert_allclose(written["images"], (expected + 1) / 2, atol=1e-5)


def test_export_s_truncation_png_truncates_w_row_by_row(generator, negatives_dir, tmp_path):
    path = tmp_path / "stylegan.keras"
    generator.save(path)
    params = ExportParams(
        grid_size=4, interpolation_rows=1, interpolation_steps=2, num_samples=3,
        truncation=[1.0, 0.04],
    )  # fmt: skip
    paths = export_samples(params, 5, path, tmp_path / "out", negatives_dir)
    with Image.open(paths.truncation) as image:
        grid = np.asarray(image).astype(int)
    step = 28 + 2
    rows = [grid[2 + r * step : 2 + r * step + 28] for r in range(2)]
    cells = [[row[:, 2 + c * step : 2 + c * step + 28] for c in range(4)] for row in rows]
    # At psi 1 the four images differ; at 0.04 they are close to the mean w's image.
    spread = [max(np.abs(row[0] - cell).max() for cell in row[1:]) for row in cells]
    assert spread[0] > 10 and spread[1] < 0.2 * spread[0]
