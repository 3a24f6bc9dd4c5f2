"""`train.precision`, `train.jit_compile` and `train.steps_per_execution` on CPU."""

from __future__ import annotations

import functools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipeline.backend import uses_xla  # noqa: E402
from pipeline.params import parse_params  # noqa: E402
from pipeline.training.model import build_model  # noqa: E402
from pipeline.training.paths import TrainPaths  # noqa: E402
from pipeline.training.session import fit_model  # noqa: E402

SHAPE = (28, 28, 1)
TINY_DCGAN = {"kind": "dcgan", "filters": 8, "latent_dim": 8}


def section(family: str, **train) -> dict:
    network = dict(TINY_DCGAN)
    if family == "wgan_gp":
        network["discriminator_norm"] = "layer"
    return {"family": family, "network": network, "train": {"grid_size": 2, **train}}


def params_of(family: str, **train):
    return parse_params({"models": ["m"], "m": section(family, **train)}).model("m")


def batch(num_classes: int, size: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (size, *SHAPE)).astype("float32")
    labels = rng.integers(0, 10, size).astype("int32")
    return (images, labels) if num_classes else images


@functools.cache
def trained_steps(family: str, precision: str, steps: int = 3):
    """A small model of `family` after `steps` steps, and their logs.

    Built once per process: tests that read the same model share it, and a
    test that trains it on only reads the logs of these first steps.
    """
    params = params_of(family, precision=precision, batch_size=16)
    num_classes = 10 if params.conditional else 0
    model = build_model(params, SHAPE, seed=0, num_classes=num_classes)
    data = batch(num_classes, 16 * params.train.d_steps)
    logs = [step(model, data) for _ in range(steps)]
    return model, logs


def step(model, data) -> dict:
    """One train step; (images, labels) go in as Keras' x and y."""
    return model.train_on_batch(*(data if isinstance(data, tuple) else (data,)), return_dict=True)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("family", ["dcgan", "acgan", "wgan_gp"])
def test_each_precision_trains_with_finite_losses(family, precision):
    model, logs = trained_steps(family, precision)
    # Under float16 the first D updates of the gradient penalty overflow at
    # the initial scale of 2^15: they are skipped and their losses left out.
    log = logs[-1]
    assert all(np.isfinite(value) for value in log.values()), logs
    assert ("skipped_d_steps" in log) == (precision == "mixed_float16")
    compute = "float32" if precision == "float32" else precision.removeprefix("mixed_")
    dense = [layer for layer in model.generator.layers if isinstance(layer, keras.layers.Dense)]
    assert dense[0].compute_dtype == compute
    # Variables stay float32; the networks' outputs are cast back to float32.
    assert all(v.dtype == "float32" for v in model.generator.trainable_variables)
    inputs = batch(model.num_classes, 4)
    labels = inputs[1] if model.num_classes else None
    images = model.generate(np.zeros((4, 8), "float32"), labels, training=False)
    assert images.dtype == "float32"
    outputs = model.discriminate(images, labels)
    for output in outputs if isinstance(outputs, list | tuple) else [outputs]:
        assert output.dtype == "float32"
    scaled = isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (precision == "mixed_float16")
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer) == scaled


def test_float16_skips_an_overflowing_step_and_halves_the_scale():
    # The model of test_each_precision_trains_with_finite_losses[wgan_gp-mixed_float16].
    model, _ = trained_steps("wgan_gp", "mixed_float16")
    params = params_of("wgan_gp", precision="mixed_float16", batch_size=16)
    data = batch(0, 16 * params.train.d_steps)
    step(model, data)
    before = [v.numpy().copy() for v in model.discriminator.trainable_variables]
    steps = int(model.d_optimizer.iterations.numpy())
    # A scale this large overflows float16 inside D: every D update of the step
    # has non-finite gradients, so none is applied and the scale halves each time.
    model.d_optimizer.dynamic_scale.assign(2.0**60)
    step(model, data)
    after = [v.numpy() for v in model.discriminator.trainable_variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert int(model.d_optimizer.iterations.numpy()) == steps
    assert float(model.d_optimizer.dynamic_scale.numpy()) == 2.0 ** (60 - params.train.d_steps)
    # Back at a sane scale the updates apply again.
    model.d_optimizer.dynamic_scale.assign(2.0**10)
    step(model, data)
    assert int(model.d_optimizer.iterations.numpy()) == steps + params.train.d_steps
    changed = [v.numpy() for v in model.discriminator.trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(after, changed, strict=True))


def test_the_saved_mixed_precision_generator_loads_with_keras_alone(tmp_path):
    model, _ = trained_steps("dcgan", "mixed_float16")
    model.generator.save(tmp_path / "generator.keras")
    loaded = keras.saving.load_model(tmp_path / "generator.keras")
    z = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    images = loaded(z)
    assert images.dtype == "float32"
    np.testing.assert_allclose(np.asarray(images), np.asarray(model.generator(z)), atol=1e-6)


def test_jit_compile_auto_is_off_on_cpu_and_true_turns_xla_on():
    assert uses_xla("auto", tf.distribute.get_strategy()) is False
    assert uses_xla(True, tf.distribute.get_strategy()) is True
    assert uses_xla(False, tf.distribute.get_strategy()) is False
    xla = build_model(params_of("dcgan", jit_compile=True), SHAPE, seed=0)
    assert xla.jit_compile is True  # Keras did not turn it off (op determinism is off)
    plain = build_model(params_of("dcgan", jit_compile="auto"), SHAPE, seed=0)
    assert plain.jit_compile is False
    from tensorflow.python.framework.config import is_op_determinism_enabled

    assert is_op_determinism_enabled()


def test_xla_training_is_finite_and_seeded(mnist5k_dir, tmp_path):
    def weights(run: str):
        params = parse_params(
            {
                "models": ["gan"],
                "gan": {
                    "network": {
                        "latent_dim": 8,
                        "generator_units": [16],
                        "discriminator_units": [16],
                    },
                    "train": {"epochs": 1, "batch_size": 400, "grid_size": 2, "jit_compile": True},
                },
            }
        ).model("gan")
        paths = TrainPaths(mnist5k_dir, tmp_path / run / "out", tmp_path / run / "ckpt")
        model = fit_model(params, 0, paths, "fp", verbose=0)
        return [v.numpy() for v in model.generator.trainable_variables]

    first, second = weights("a"), weights("b")
    assert all(np.isfinite(w).all() for w in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("family", ["gan", "wgan_gp"])
def test_steps_per_execution_gives_the_same_weights(mnist5k_dir, tmp_path, family):
    def weights(steps_per_execution: int):
        params = parse_params(
            {
                "models": ["m"],
                "m": {
                    "family": family,
                    "network": {
                        "kind": "mlp",
                        "latent_dim": 8,
                        "generator_units": [16],
                        "discriminator_units": [16],
                    },
                    "train": {
                        "epochs": 2,
                        "batch_size": 200,
                        "d_steps": 2,
                        "grid_size": 2,
                        "steps_per_execution": steps_per_execution,
                    },
                },
            }
        ).model("m")
        run = tmp_path / f"spe{steps_per_execution}"
        paths = TrainPaths(mnist5k_dir, run / "out", run / "ckpt")
        model = fit_model(params, 0, paths, "fp", verbose=0)
        # 4,000 images in global batches of 400: 10 steps an epoch, 5 per call.
        assert int(model.g_optimizer.iterations.numpy()) == 20
        return [v.numpy() for v in model.generator.trainable_variables]

    fused, plain = weights(5), weights(1)
    assert all(np.array_equal(a, b) for a, b in zip(fused, plain, strict=True))
