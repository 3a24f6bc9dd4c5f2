"""The real stages with `train.backend: jax`: no TensorFlow, tagged runs, bit-identical resume.

A JAX-trained generator is then scored by `evaluate` under TensorFlow (the
`.keras` file is backend-neutral).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT
from workspace import TINY_PARAMS, run_stage, stage_command, write_params

pytestmark = pytest.mark.slow

EPOCHS = 3
PARAMS = {
    **TINY_PARAMS,
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
    workspace = tmp_path_factory.mktemp("base")
    write_params(workspace, PARAMS)
    for stage in (("params",), ("prepare",), ("evaluator",)):
        done = run_stage(workspace, *stage)
        assert done.returncode == 0, done.stderr[-3000:]
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

    return keras.saving.load_model(workspace / "models/gan/generator.keras").get_weights()


def test_a_jax_training_never_loads_tensorflow_and_is_recorded_as_jax(trained):
    [(status,)] = rows(trained, "select status from runs")
    assert status == "FINISHED"
    tags = dict(rows(trained, "select key, value from tags"))
    assert tags["devices.backend"] == "jax"
    params = dict(rows(trained, "select key, value from params"))
    assert params["model.train.backend"] == "jax"
    history = (trained / "models/gan/history.csv").read_text().splitlines()
    assert len(history) == EPOCHS + 1


def test_a_jax_trained_generator_is_evaluated_under_tensorflow(trained):
    done = run_stage(trained, "evaluate", "gan")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (trained / "metrics/gan.json").is_file()


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
    assert (workspace / "models/gan/history.csv").read_text() == (
        trained / "models/gan/history.csv"
    ).read_text()
    for ours, theirs in zip(generator_weights(workspace), generator_weights(trained), strict=True):
        np.testing.assert_array_equal(ours, theirs)
