"""SIGKILL at the moments that used to split the record: one run per training, no repeats.

One training is killed at each point in turn (see tests/killer.py), every
attempt but the first resuming what the one before left, as `dvc repro` run
again after each kill would; then it is run to its end, and the store's rows
checked: one FINISHED training run, none RUNNING, no metric step or image
step logged twice, one logged model, and the weights of an uninterrupted run.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT
from workspace import TINY_PARAMS, ready_to_train, run_stage, stage_command, write_params

pytestmark = pytest.mark.slow

EPOCHS = 3
PARAMS = {
    **TINY_PARAMS,
    "gan": {
        **TINY_PARAMS["gan"],
        "train": {**TINY_PARAMS["gan"]["train"], "epochs": EPOCHS, "eval_every": 1},
    },
}
POINTS = (
    "before_first_checkpoint",
    "between_metrics_and_checkpoint",
    "during_model_logging",
    "before_the_run_ends",
)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    # The shared tiny workspace (its data and evaluator), training longer.
    workspace = ready_to_train(tmp_path_factory.mktemp("base"), TINY_PARAMS)
    write_params(workspace, PARAMS)
    return workspace


def copy_of(base: Path, destination: Path) -> Path:
    shutil.copytree(base, destination)
    return destination


@pytest.fixture(scope="module")
def uninterrupted(base, tmp_path_factory) -> Path:
    workspace = copy_of(base, tmp_path_factory.mktemp("whole") / "ws")
    done = run_stage(workspace, "train", "gan")
    assert done.returncode == 0, done.stderr[-3000:]
    return workspace


def killed_at(workspace: Path, point: str) -> None:
    command, env = stage_command("train", "gan")
    # [python, -m, stages.train, gan, --data, ...] -> [python, killer.py, POINT, train, gan, ...]
    command = [command[0], str(REPO_ROOT / "tests" / "killer.py"), point, "train", *command[3:]]
    done = subprocess.run(
        command, cwd=workspace, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == -9, f"not killed at {point}: {done.stderr[-2000:]}"


def rows(workspace: Path, query: str) -> list[tuple]:
    with sqlite3.connect(workspace / "mlflow" / "mlflow.db") as db:
        return db.execute(query).fetchall()


def generator_weights(workspace: Path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(workspace / "trained/gan/generator.keras").get_weights()


def test_kills_at_each_point_and_a_rerun_leave_one_finished_run_and_no_repeats(
    base, uninterrupted, tmp_path
):
    workspace = copy_of(base, tmp_path / "ws")
    # In their order in a training: each attempt resumes the one killed before
    # it and reaches the next point (before_the_run_ends: after the model's
    # logging, which the attempt before was killed in).
    for point in POINTS:
        killed_at(workspace, point)
        [(status,)] = rows(workspace, "select status from runs")
        assert status == "RUNNING", (
            f"{point}: a SIGKILL leaves the run open until a later process looks"
        )

    done = run_stage(workspace, "train", "gan")
    assert done.returncode == 0, done.stderr[-3000:]

    [(run_id, status)] = rows(workspace, "select run_uuid, status from runs")
    assert status == "FINISHED"
    assert json.loads((workspace / "trained/gan/run.json").read_text())["run_id"] == run_id
    assert "resumed from epoch" in done.stdout
    [(resumed,)] = rows(workspace, "select value from tags where key = 'resumed_from_epoch'")
    assert f"resumed from epoch {resumed} of {EPOCHS}" in done.stdout
    assert not rows(workspace, "select key from tags where key = 'error'")

    repeated = rows(
        workspace,
        "select key, step, count(*) from metrics group by key, step having count(*) > 1",
    )
    assert not repeated, repeated
    # The training's own metrics; MLflow's system metrics are samples every
    # 10 s, as many as each attempt lasted (their steps did not repeat, above).
    own = "select key, step from metrics where key not like 'system/%' order by key, step"
    assert rows(workspace, own) == rows(uninterrupted, own)

    history = (workspace / "trained/gan/history.csv").read_text()
    assert history == (uninterrupted / "trained/gan/history.csv").read_text()

    images = sorted(p.name for p in (workspace / "mlflow/artifacts").rglob("samples+step+*.png"))
    steps = [int(name.split("+step+")[1].split("+")[0]) for name in images]
    assert sorted(steps) == list(range(EPOCHS + 1)), images

    # A model a killed attempt left half-logged is deleted (MLflow keeps the row).
    models = rows(
        workspace, "select name, status from logged_models where lifecycle_stage = 'active'"
    )
    assert models == [("gan", 2)], models  # 2: READY
    # ... and so are its files, which MLflow's delete keeps.
    [(model_id,)] = rows(workspace, "select model_id from logged_models where status = 2")
    on_disk = [p.name for p in (workspace / "mlflow/artifacts").glob("*/models/*")]
    assert on_disk == [model_id], on_disk

    for ours, theirs in zip(
        generator_weights(workspace), generator_weights(uninterrupted), strict=True
    ):
        np.testing.assert_array_equal(ours, theirs)
