"""The MLflow store: created once under parallel starts, portable, and honest about dead runs."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pipeline.params import ModelParams, applicable_params, flatten
from pipeline.tracking import record
from pipeline.tracking.store import tracking_uri


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    """An empty repository folder whose sqlite store the pipeline will use."""
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    return root


def _open_and_log(root: str, index: int) -> None:
    os.chdir(root)
    import mlflow

    from pipeline.tracking import use_experiment

    use_experiment("parallel")
    with mlflow.start_run(run_name=f"run-{index}"):
        mlflow.log_metric("x", float(index))


# More processes than this machine's cores, all creating the store's tables at once.
OPENERS = 4


def test_many_processes_opening_an_empty_store_at_once_all_succeed(store):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_open_and_log, args=(str(store), i)) for i in range(OPENERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert [worker.exitcode for worker in workers] == [0] * OPENERS

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri())
    [experiment] = [e for e in client.search_experiments() if e.name == "parallel"]
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.data.metrics["x"] for run in runs) == [float(i) for i in range(OPENERS)]


def test_a_moved_store_still_shows_every_artifact(store, tmp_path):
    import mlflow

    from pipeline.tracking import connect_store, use_experiment

    use_experiment("portable")
    with mlflow.start_run() as run:
        mlflow.log_image(np.zeros((4, 4), np.uint8), key="samples", step=0)
        (store / "note.txt").write_text("hello")
        mlflow.log_artifact(str(store / "note.txt"))
    mlflow.set_tracking_uri("")  # forget the old location

    database = (store / "mlflow" / "mlflow.db").read_bytes()
    assert str(store).encode() not in database, "the store names the checkout's path"

    moved = tmp_path / "elsewhere"
    shutil.move(store, moved)
    os.chdir(moved)
    connect_store()
    from mlflow import MlflowClient

    client = MlflowClient()
    names = {Path(f.path).name for f in client.list_artifacts(run.info.run_id)}
    assert "note.txt" in names
    downloaded = client.download_artifacts(run.info.run_id, "note.txt", str(tmp_path))
    assert Path(downloaded).read_text() == "hello"
    assert Path(downloaded).resolve().is_relative_to(tmp_path.resolve())


def test_an_experiment_with_absolute_artifact_paths_is_refused_in_one_line(store):
    import mlflow

    from pipeline.errors import PipelineError
    from pipeline.tracking import connect_store, use_experiment

    connect_store()
    mlflow.create_experiment("old", artifact_location=(store / "mlflow" / "old").as_uri())
    with pytest.raises(PipelineError, match="absolute path"):
        use_experiment("old")


KILLED_OWNER = textwrap.dedent(
    """
    import os, signal, sys
    os.chdir(sys.argv[1])
    import mlflow
    from pipeline.tracking import use_experiment
    from pipeline.tracking.record import process_tag
    use_experiment("orphans")
    run = mlflow.start_run(tags={"pipeline.process": process_tag()})
    print(run.info.run_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_run_whose_process_was_killed_is_marked_killed_by_the_next_process(store):
    import mlflow
    from mlflow import MlflowClient

    from pipeline.tracking import use_experiment

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_OWNER, str(store)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    orphan = done.stdout.split()[0]
    client = MlflowClient(tracking_uri())
    assert client.get_run(orphan).info.status == "RUNNING"

    use_experiment("orphans")
    with mlflow.start_run(tags={"pipeline.process": record.process_tag()}) as alive:
        use_experiment("orphans")  # sees a live run of its own: leaves it alone
        assert client.get_run(alive.info.run_id).info.status == "RUNNING"
    ended = client.get_run(orphan)
    assert ended.info.status == "KILLED"
    assert "killed" in ended.data.tags["error"]


def test_a_process_tag_tells_live_processes_from_gone_ones():
    assert not record.process_is_gone(record.process_tag())
    host, pid, started = record.process_tag().rsplit(":", 2)
    assert record.process_is_gone(f"{host}:{pid}:{float(started) - 100:.3f}"), "a reused pid"
    assert not record.process_is_gone(f"another-host:{pid}:{started}"), "not ours to judge"


@pytest.mark.parametrize(
    ("section", "absent", "present"),
    [
        (
            {"family": "gan"},
            ["regularisers.weight_clipping", "regularisers.gradient_penalty", "network.filters"],
            ["loss.name", "loss.label_smoothing"],
        ),
        (
            {"family": "wgan"},
            ["loss.label_smoothing", "regularisers.gradient_penalty"],
            ["regularisers.weight_clipping.clip_value"],
        ),
        (
            {"family": "wgan_gp"},
            ["loss.label_smoothing", "regularisers.weight_clipping"],
            ["regularisers.gradient_penalty.weight"],
        ),
        (
            {"family": "gan", "network": {"kind": "dcgan"}},
            ["network.generator_units", "network.dropout"],
            ["network.filters", "network.discriminator_norm"],
        ),
        (
            {"family": "gan", "train": {"eval_every": 0, "d_optimizer": {"name": "sgd"}}},
            ["train.eval_samples", "train.d_optimizer.beta_1"],
            ["train.d_optimizer.momentum", "train.g_optimizer.beta_1"],
        ),
    ],
)
def test_a_run_records_only_the_params_that_apply(section, absent, present):
    recorded = flatten(applicable_params(ModelParams.model_validate(section)))
    for key in absent:
        assert key not in recorded, key
    for key in present:
        assert key in recorded, key


def git(root: Path, *args: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", *identity, *args], cwd=root, check=True, capture_output=True)


def test_git_dirty_ignores_what_dvc_writes_but_not_the_code(tmp_path):
    root = tmp_path
    (root / "metrics").mkdir()
    (root / "code.py").write_text("x = 1\n")
    (root / "params.yaml").write_text("seed: 1\n")
    (root / "metrics" / "gan.json").write_text("{}\n")
    (root / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  evaluate:\n    outs:\n    - path: metrics/gan.json\n"
    )
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    assert record.code_differs_from_commit(root) == "false"

    (root / "params.yaml").write_text("seed: 2\n")  # dvc exp run -S
    (root / "metrics" / "gan.json").write_text('{"fid": 1}\n')
    (root / "dvc.lock").write_text((root / "dvc.lock").read_text() + "# rewritten\n")
    assert record.code_differs_from_commit(root) == "false"

    (root / "code.py").write_text("x = 2\n")
    assert record.code_differs_from_commit(root) == "true"
    assert record.code_differs_from_commit(tmp_path / "not-a-repo-at-all") == "unknown"


def test_a_generator_is_registered_once_per_logged_model(store):
    import keras
    import mlflow

    from pipeline.tracking import register_generator, tag_model_version, use_experiment

    use_experiment("registry")
    z = keras.Input((2,), name="z")
    generator = keras.Model(z, keras.layers.Dense(3)(z))
    ids = []
    with mlflow.start_run():
        for _ in range(2):  # two trainings of the same model name
            info = mlflow.keras.log_model(generator, name="gan", pip_requirements=["keras"])
            ids.append(info.model_id)
    # A resumed attempt registers the same logged model again: it gets its version back.
    assert [register_generator(ids[0], "gan") for _ in range(2)] == ["1", "1"]
    assert register_generator(ids[1], "gan") == "2"
    reference = {"registered_model": "gan", "model_version": "2"}
    tag_model_version(reference, {"domain_fid": 12.3456789})
    version = mlflow.MlflowClient().get_model_version("gan", "2")
    assert version.source == f"models:/{ids[1]}" and version.tags["metric.domain_fid"] == "12.3457"
    tag_model_version({}, {"domain_fid": 1.0})  # a run.json from before registering: nothing
