"""The real stages with `train.backend: jax`: no TensorFlow, tagged runs, bit-identical resume.

A JAX-trained model is scored and exported on JAX too, and the same
generator scores the same under TensorFlow; the `.keras` file generates the
same images on either backend.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT
from workspace import TINY_PARAMS, ready_to_train, run_stage, stage_command, write_params

pytestmark = pytest.mark.slow

EPOCHS = 3
PARAMS = {
    **TINY_PARAMS,
    # The serving formats go through TensorFlow, in a child process of the JAX export.
    "export": {**TINY_PARAMS["export"], "formats": ["onnx"]},
    "gan": {
        **TINY_PARAMS["gan"],
        "train": {
            **TINY_PARAMS["gan"]["train"],
            "epochs": EPOCHS,
            "eval_every": 1,
            "backend": "jax",
        },
    },
}


def run_without_tensorflow(workspace: Path, stage: str, model: str):
    """Run a stage as dvc.yaml gives it, in a process where importing TensorFlow fails."""
    command, env = stage_command(stage, model)
    # [python, -m, stages.train, gan, ...] -> [python, no_tensorflow.py, stages.train, gan, ...]
    no_tf = str(REPO_ROOT / "tests" / "no_tensorflow.py")
    command = [command[0], no_tf, *command[2:]]
    return subprocess.run(
        command, cwd=workspace, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    # The shared tiny workspace (its data and evaluator), its model trained on JAX.
    workspace = ready_to_train(tmp_path_factory.mktemp("base"), TINY_PARAMS)
    write_params(workspace, PARAMS)
    return workspace


@pytest.fixture(scope="module")
def trained(base, tmp_path_factory) -> Path:
    workspace = tmp_path_factory.mktemp("whole") / "ws"
    shutil.copytree(base, workspace)
    done = run_without_tensorflow(workspace, "train", "gan")
    assert done.returncode == 0, done.stderr[-3000:]
    return workspace


def rows(workspace: Path, query: str) -> list[tuple]:
    with sqlite3.connect(workspace / "mlflow" / "mlflow.db") as db:
        return db.execute(query).fetchall()


def generator_weights(workspace: Path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(workspace / "trained/gan/generator.keras").get_weights()


def test_a_jax_training_never_loads_tensorflow_and_is_recorded_as_jax(trained):
    [(status,)] = rows(trained, "select status from runs")
    assert status == "FINISHED"
    tags = dict(rows(trained, "select key, value from tags"))
    assert tags["devices.backend"] == "jax"
    assert tags["devices.xla"] == "true" and tags["devices.deterministic_ops"] == "true"  # a CPU
    params = dict(rows(trained, "select key, value from params"))
    assert params["model.train.backend"] == "jax"
    history = (trained / "trained/gan/history.csv").read_text().splitlines()
    assert len(history) == EPOCHS + 1


def test_a_jax_model_is_evaluated_and_exported_on_jax_and_scores_the_same_on_tensorflow(
    trained, tmp_path
):
    """Evaluate and export on JAX without TensorFlow; then the evaluator's features and
    every metric, on TensorFlow, agree with JAX's to rounding."""
    workspace = tmp_path / "ws"
    shutil.copytree(trained, workspace)
    run_file = workspace / "trained/gan/run.json"
    assert json.loads(run_file.read_text())["backend"] == "jax"
    for stage in ("evaluate", "export"):
        done = run_without_tensorflow(workspace, stage, "gan")
        assert done.returncode == 0, done.stderr[-3000:]
    assert (workspace / "exports/gan/samples.npz").is_file()
    checks = json.loads((workspace / "exports/gan/formats/checks.json").read_text())
    assert checks["onnx"]["max_abs_difference"] <= checks["tolerance"]
    # The training run and its two child runs, all ended.
    assert [status for (status,) in rows(workspace, "select status from runs")] == ["FINISHED"] * 3
    jax_metrics = json.loads((workspace / "metrics/gan.json").read_text())

    run_file.write_text(json.dumps({**json.loads(run_file.read_text()), "backend": "tensorflow"}))
    on_tensorflow = run_stage(workspace, "evaluate", "gan")
    assert on_tensorflow.returncode == 0, on_tensorflow.stderr[-3000:]
    tf_metrics = json.loads((workspace / "metrics/gan.json").read_text())
    assert tf_metrics.keys() == jax_metrics.keys()
    for key, value in jax_metrics.items():
        assert value == pytest.approx(tf_metrics[key], rel=1e-3, abs=1e-4), key


def test_a_sigkilled_jax_training_resumes_to_the_same_weights(base, trained, tmp_path):
    workspace = tmp_path / "ws"
    shutil.copytree(base, workspace)
    # Killed after epoch 2's metrics, before its checkpoint (tests/killer.py).
    killer = str(REPO_ROOT / "tests" / "killer.py")
    command, env = stage_command("train", "gan")
    done = subprocess.run(
        [command[0], killer, "between_metrics_and_checkpoint", "train", *command[3:]],
        cwd=workspace,
        # The killer imports the project (and Keras) before the stage picks its backend.
        env={**env, "KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -9, done.stderr[-3000:]
    done = run_without_tensorflow(workspace, "train", "gan")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed from epoch 1" in done.stdout
    assert (workspace / "trained/gan/history.csv").read_text() == (
        trained / "trained/gan/history.csv"
    ).read_text()
    for ours, theirs in zip(generator_weights(workspace), generator_weights(trained), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def generated(workspace: Path, backend: str) -> np.ndarray:
    """64 images from the workspace's gan generator, `python -m pipeline.generate` on `backend`."""
    out = workspace / f"generated-{backend}.npz"
    _, env = stage_command("train", "gan")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.generate", "trained/gan/generator.keras"]
        + ["--out", str(out), "--scale", "1", "--seed", "3", "--overwrite"],
        cwd=workspace,
        env={**env, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(out)["images"]


@pytest.mark.parametrize("trained_on", ["jax", "tensorflow"])
def test_a_generator_generates_the_same_images_on_either_backend(
    trained_on, base, trained, tmp_path
):
    workspace = trained
    if trained_on == "tensorflow":
        workspace = tmp_path / "ws"
        shutil.copytree(base, workspace)
        params = {**PARAMS, "gan": {**PARAMS["gan"], "train": {**PARAMS["gan"]["train"]}}}
        params["gan"]["train"]["backend"] = "tensorflow"
        write_params(workspace, params)  # what the train stage reads
        done = run_stage(workspace, "train", "gan")
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads((workspace / "trained/gan/run.json").read_text())["backend"] == (
            "tensorflow"
        )
    on_tensorflow, on_jax = generated(workspace, "tensorflow"), generated(workspace, "jax")
    assert on_tensorflow.shape == (64, 28, 28, 1)
    # The same weights and latents; the backends' kernels round differently.
    np.testing.assert_allclose(on_jax, on_tensorflow, atol=1e-5)


def test_the_gpu_check_runs_on_a_cpu_without_tensorflow(base, tmp_path):
    """scripts/gpu_check.py --quick: the benchmark's table and a time-to-quality record."""
    params = tmp_path / "params.yaml"
    params.write_text(
        "models: [cgan]\n"
        "cgan: {family: cgan, network: {kind: mlp, latent_dim: 8, generator_units: [16], "
        "discriminator_units: [16]}, train: {batch_size: 500}}\n"
    )
    out = tmp_path / "check"
    _, env = stage_command("train", "gan")
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tests" / "no_tensorflow.py"), "scripts.gpu_check"]
        + ["--data", str(base / "data/prepared"), "--out", str(out), "--quick"]
        + ["--classifier", str(base / "trained/evaluator/classifier.keras")]
        + ["--params", str(params), "--target", "0"],
        cwd=REPO_ROOT,
        env={**env, "KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| jax | gan | mlp |" in (out / "benchmark.md").read_text()
    record = json.loads((out / "time_to_quality.json").read_text())
    assert record["reached"]["epoch"] == 1 and record["tensorflow_loaded"] is False
    assert record["reached"]["domain_fid"] > 0
