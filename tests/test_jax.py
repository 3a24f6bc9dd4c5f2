"""The same models on Keras' JAX backend: every preset, the same step as TensorFlow's, no TF.

Each check runs in a subprocess with KERAS_BACKEND set, since a process
picks its backend once, when it first imports Keras (this one runs on
TensorFlow).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT

from pipeline.models.presets import PRESETS
from pipeline.models.translation.presets import PAIRED_PRESETS

ONE_STEP = REPO_ROOT / "tests" / "one_step.py"
# One step from the same weights, batch and draws: the backends' kernels sum in
# different orders, so the results agree to float32 rounding, not bit for bit.
# (Measured: at most 1.3e-5 on a weight, sngan's; 6e-7 elsewhere.)
WEIGHT_TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
LOSS_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


def steps_on(
    backend: str, out: Path, *args: str, env: dict[str, str] | None = None
) -> np.lib.npyio.NpzFile:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    done = subprocess.run(
        [sys.executable, str(ONE_STEP), str(out), *args],
        env=env,
        cwd=out.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = "tensorflow loaded: True" in done.stdout
    assert loaded == (backend == "tensorflow"), done.stdout
    return np.load(out)


@pytest.fixture(scope="module")
def tensorflow_step(tmp_path_factory) -> np.lib.npyio.NpzFile:
    return steps_on("tensorflow", tmp_path_factory.mktemp("tf") / "step.npz")


@pytest.fixture(scope="module")
def jax_step(tensorflow_step, tmp_path_factory) -> np.lib.npyio.NpzFile:
    init = tmp_path_factory.mktemp("init") / "init.npz"
    np.savez(init, **{k: tensorflow_step[k] for k in tensorflow_step.files if "/init/" in k})
    return steps_on("jax", tmp_path_factory.mktemp("jax") / "step.npz", "--init", str(init))


def entries(results: np.lib.npyio.NpzFile, preset: str, kind: str) -> dict[str, np.ndarray]:
    prefix = f"{preset}/{kind}/"
    return {k[len(prefix) :]: results[k] for k in results.files if k.startswith(prefix)}


@pytest.mark.parametrize("preset", [*PRESETS, *PAIRED_PRESETS])
def test_one_step_agrees_across_backends(preset, tensorflow_step, jax_step):
    tf_logs, jax_logs = entries(tensorflow_step, preset, "log"), entries(jax_step, preset, "log")
    assert set(tf_logs) == set(jax_logs) and "d_loss" in tf_logs
    for name, value in tf_logs.items():
        np.testing.assert_allclose(jax_logs[name], value, **LOSS_TOLERANCE, err_msg=name)
    tf_vars, jax_vars = entries(tensorflow_step, preset, "var"), entries(jax_step, preset, "var")
    assert len(tf_vars) == len(jax_vars)
    init = entries(tensorflow_step, preset, "init")
    moved = [i for i in tf_vars if tf_vars[i].size and not np.array_equal(tf_vars[i], init[i])]
    assert moved, "the step changed no variable"
    for i, value in tf_vars.items():
        np.testing.assert_allclose(jax_vars[i], value, **WEIGHT_TOLERANCE, err_msg=f"var {i}")


# Thirty steps of these presets on JAX, with two CPU devices in the process: on one of them
# (`strategy: default`), again, and over both (`strategy: mirrored`).
SEVERAL_STEPS = ("--steps", "30", "--presets", "gan", "wgan_gp", "cgan", "sngan")
TWO_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


@pytest.fixture(scope="module")
def one_device_steps(tmp_path_factory) -> np.lib.npyio.NpzFile:
    out = tmp_path_factory.mktemp("one") / "one.npz"
    return steps_on("jax", out, *SEVERAL_STEPS, "--strategy", "default", env=TWO_DEVICES)


def test_jax_training_is_seeded_and_spectral_norm_holds(tmp_path, one_device_steps):
    """Same seed, same weights, run after run; SNGAN's kernels keep σ near 1 on JAX too."""
    first = one_device_steps
    args = (*SEVERAL_STEPS, "--strategy", "default")
    second = steps_on("jax", tmp_path / "second.npz", *args, env=TWO_DEVICES)
    assert first.files == second.files
    for key in first.files:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    sigmas = entries(first, "sngan", "sigma")
    assert len(sigmas) == 2, sigmas  # the hidden layer and the score head
    for sigma in sigmas.values():
        # Normalised in each training call; only the last optimizer step moved it since.
        assert float(sigma) == pytest.approx(1.0, abs=0.05)


def test_two_devices_take_the_steps_one_device_takes(tmp_path, one_device_steps):
    """`strategy: mirrored` on JAX: Keras' DataParallel over two CPU devices, the same steps."""
    one = one_device_steps
    args = (*SEVERAL_STEPS, "--strategy", "mirrored")
    two = steps_on("jax", tmp_path / "two.npz", *args, env=TWO_DEVICES)
    for preset in ("gan", "wgan_gp", "cgan", "sngan"):
        assert int(one[f"{preset}/replicas"]) == 1 and int(two[f"{preset}/replicas"]) == 2
        for kind in ("log", "var"):
            ours, theirs = entries(two, preset, kind), entries(one, preset, kind)
            for key, value in theirs.items():
                # XLA splits the batch's sums over the devices: float32 rounding apart
                # (measured over these 30 steps: at most a fifth of the tolerance).
                np.testing.assert_allclose(ours[key], value, **WEIGHT_TOLERANCE, err_msg=key)
