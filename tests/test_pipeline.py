"""End to end: the real `dvc` CLI on a copy of the repo, and the real sqlite MLflow store."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO_ROOT

pytestmark = pytest.mark.slow

TINY_PARAMS = {
    "evaluator": {"epochs": 1},
    "models": ["gan", "cgan"],
    "gan": {
        "network": {"generator_units": [64], "discriminator_units": [64]},
        "train": {"epochs": 2, "batch_size": 250, "grid_size": 3},
    },
    "cgan": {
        "family": "cgan",
        "network": {"generator_units": [64], "discriminator_units": [64]},
        "train": {"epochs": 1, "batch_size": 250, "grid_size": 3},
    },
    "evaluate": {"num_samples": 200},
    "export": {
        "num_samples": 50,
        "grid_size": 3,
        "interpolation_steps": 4,
        "interpolation_rows": 2,
    },
}


def merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        is_section = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = merge(base[key], value) if is_section else value
    return merged


def copy_repo(destination: Path) -> Path:
    """Copy the files git would commit, and make the copy a git repo of its own."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    params = yaml.safe_load((destination / "params.yaml").read_text())
    (destination / "params.yaml").write_text(yaml.safe_dump(merge(params, TINY_PARAMS)))
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        git(destination, *args)
    return destination


def git(cwd: Path, *args: str) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True)


def clean_env() -> dict[str, str]:
    """This venv's tools first on PATH, and no tracking or DVC settings from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def run(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True)
    if check and done.returncode != 0:
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        pytest.fail(f"{' '.join(cmd)} exited {done.returncode}:\n{output}")
    return done


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A copy of the repo after one `dvc repro` with tiny params."""
    root = copy_repo(tmp_path_factory.mktemp("repo"))
    run(root, "dvc", "repro")
    return root


@pytest.fixture(scope="module")
def mlflow_client(repo):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow' / 'mlflow.db'}")


@pytest.fixture(scope="module")
def gan_run(repo, mlflow_client):
    reference = json.loads((repo / "models/gan/run.json").read_text())
    return mlflow_client.get_run(reference["run_id"])


def test_repro_writes_every_declared_output(repo):
    for name in (
        "data/prepared/info.json",
        "models/evaluator/classifier.keras",
        "metrics/evaluator.json",
        "models/gan/generator.keras",
        "models/gan/history.csv",
        "models/gan/samples/epoch_000.png",
        "models/gan/samples/epoch_002.png",
        "metrics/gan.json",
        "exports/gan/grid.png",
        "exports/gan/interpolation.png",
        "exports/gan/samples.npz",
    ):
        assert (repo / name).is_file(), name
    assert not (repo / "checkpoints/gan").exists()
    assert not (repo / "mlruns").exists(), "MLflow wrote outside the repo's store"


def test_second_repro_has_nothing_to_do(repo):
    done = run(repo, "dvc", "repro")
    assert "Data and pipelines are up to date" in done.stdout
    assert "Running stage" not in done.stdout


def test_metrics_show_lines_up_every_models_metrics(repo):
    shown = json.loads(run(repo, "dvc", "metrics", "show", "--json").stdout)
    files = {path: entry["data"] for path, entry in shown[""]["data"].items()}
    assert 0.0 <= files["metrics/evaluator.json"]["test_accuracy"] <= 1.0
    gan, cgan = files["metrics/gan.json"], files["metrics/cgan.json"]
    for metrics in (gan, cgan):
        assert metrics["domain_fid"] > 0
        assert metrics["domain_fid_floor"] >= 0
        assert 0 <= metrics["classes_covered"] <= 10
        assert metrics["num_samples"] == 200
    assert set(gan) < set(cgan), "a conditional model reports the shared keys and more"
    assert 0.0 <= cgan["conditional_accuracy"] <= 1.0
    assert cgan["conditional_cross_entropy"] > 0


def test_conditional_export_draws_one_row_per_class(repo):
    from PIL import Image

    grid = np.asarray(Image.open(repo / "exports/cgan/grid.png"))
    assert grid.shape[0] == 10 * (28 + 2) + 2
    with np.load(repo / "exports/cgan/samples.npz") as saved:
        np.testing.assert_array_equal(saved["labels"][:12], np.arange(12) % 10)


def stages_a_dry_run_would_run(repo: Path, section: str, key: str, value) -> set[str]:
    """Set `section.key` (a dotted key) in params.yaml, ask `dvc repro --dry`, put it back."""
    params_file = repo / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    *parents, leaf = key.split(".")
    target = params[section]
    for parent in parents:
        target = target[parent]
    target[leaf] = value
    params_file.write_text(yaml.safe_dump(params))
    try:
        dry = run(repo, "dvc", "repro", "--dry").stdout
    finally:
        params_file.write_text(original)
    return set(re.findall(r"Running stage '([^']+)'", dry))


def test_changing_one_models_params_reruns_only_its_stages(repo):
    # A dry run cannot know the new generator yet, so it stops at train@cgan.
    assert stages_a_dry_run_would_run(repo, "cgan", "train.batch_size", 200) == {"train@cgan"}


def test_samples_npz_holds_the_exported_images(repo):
    with np.load(repo / "exports/gan/samples.npz") as saved:
        assert saved["images"].shape == (50, 28, 28, 1)
        assert saved["images"].min() >= -1 and saved["images"].max() <= 1
        assert saved["z"].shape == (50, 100)


def test_mlflow_run_holds_params_tags_and_metric_curves(gan_run, mlflow_client, repo):
    assert gan_run.info.status == "FINISHED"
    assert gan_run.data.params["model.train.epochs"] == "2"
    assert gan_run.data.params["seed"] == "42"
    tags = gan_run.data.tags
    assert len(tags["git_commit"]) == 40
    assert tags["git_dirty"] in {"true", "false"}
    info = json.loads((repo / "data/prepared/info.json").read_text())
    assert tags["data_hash"] == info["content_hash"]
    assert tags["dvc_stage"] == "train@gan"
    assert (tags["family"], tags["network"], tags["conditional"]) == ("gan", "mlp", "false")
    assert gan_run.info.run_name == "gan-mlp"
    curve = mlflow_client.get_metric_history(gan_run.info.run_id, "d_loss")
    assert sorted(m.step for m in curve) == [1, 2]
    for key in ("domain_fid", "domain_fid_floor", "classes_covered", "class_kl"):
        assert key in gan_run.data.metrics


def test_mlflow_run_holds_sample_images_and_exports(gan_run, mlflow_client, repo):
    run_id = gan_run.info.run_id
    images = [f.path for f in mlflow_client.list_artifacts(run_id, "images")]
    # MLflow names logged images `<key>+step+<step>+timestamp+...`.
    steps = {int(p.split("+step+")[1].split("+")[0]) for p in images if "+step+" in p}
    assert steps == {0, 1, 2}, images
    exported = {Path(f.path).name for f in mlflow_client.list_artifacts(run_id, "export")}
    assert exported == {"grid.png", "interpolation.png", "samples.npz"}
    assert gan_run.info.artifact_uri.startswith((repo / "mlflow" / "artifacts").as_uri())


def test_mlflow_logged_model_loads_and_generates(gan_run, mlflow_client):
    import mlflow

    mlflow.set_tracking_uri(mlflow_client.tracking_uri)
    models = mlflow.search_logged_models(
        experiment_ids=[gan_run.info.experiment_id], output_format="list"
    )
    [model] = [m for m in models if m.source_run_id == gan_run.info.run_id]
    assert model.name == "generator"
    generator = mlflow.keras.load_model(model.model_uri)
    images = np.asarray(generator(np.zeros((2, 100), dtype="float32")))
    assert images.shape == (2, 28, 28, 1)


def test_changing_export_params_reruns_only_export(repo):
    assert stages_a_dry_run_would_run(repo, "export", "grid_size", 2) == {
        "export@gan",
        "export@cgan",
    }


def test_temp_experiment_logs_to_the_repos_store(repo, mlflow_client):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first repro")
    run(repo, "dvc", "exp", "run", "--temp", "-n", "one-epoch", "-S", "gan.train.epochs=1")
    experiment = mlflow_client.get_experiment_by_name("gan-pipeline")
    query = "tags.dvc_exp_name = 'one-epoch'"
    runs = mlflow_client.search_runs([experiment.experiment_id], query)
    assert len(runs) == 1, "the --temp run, made in a copy under .dvc/tmp, must log here"
    assert runs[0].data.params["model.train.epochs"] == "1"
    assert "domain_fid" in runs[0].data.metrics
    assert not list((repo / ".dvc" / "tmp").glob("**/mlflow.db"))


def test_bad_params_fail_in_one_line_and_write_nothing(tmp_path):
    root = copy_repo(tmp_path)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["gan"]["train"]["batch_size"] = 0
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    before = sorted(p.relative_to(root) for p in root.rglob("*") if ".git" not in p.parts)
    for stage in (["stages.prepare"], ["stages.train", "gan"], ["stages.evaluate", "gan"]):
        done = run(root, sys.executable, "-m", *stage, check=False)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines == [
            "error: params.yaml: gan.train.batch_size = 0: Input should be greater than 0"
        ]
    after = sorted(p.relative_to(root) for p in root.rglob("*") if ".git" not in p.parts)
    assert after == before, "a rejected run must not write files or an MLflow store"


def test_training_killed_mid_run_resumes_in_the_same_mlflow_run(tmp_path):
    root = copy_repo(tmp_path)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["gan"]["train"]["epochs"] = 6
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    run(root, "dvc", "repro", "prepare")
    state = root / "checkpoints" / "gan" / "state.json"

    train = subprocess.Popen(
        [sys.executable, "-m", "stages.train", "gan"],
        cwd=root,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not state.exists() and time.monotonic() < deadline and train.poll() is None:
            time.sleep(0.2)
        assert state.exists(), "no checkpoint was written before the kill"
    finally:
        train.kill()  # SIGKILL: no cleanup runs
        train.wait()
    killed_at = json.loads(state.read_text())
    assert 1 <= killed_at["epoch"] < 6

    run(root, "dvc", "repro", "train@gan")
    reference = json.loads((root / "models/gan/run.json").read_text())
    assert reference["run_id"] == killed_at["extra"]["run_id"]
    rows = (root / "models/gan/history.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert not state.exists()
