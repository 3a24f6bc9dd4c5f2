"""A small workspace where the real stage scripts run, for tests that break or stop them."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml
from conftest import REPO_ROOT, SHARED_DIR_ENV
from dvcyaml import stage_argv

TINY_PARAMS = {
    "evaluator": {"epochs": 1},
    "models": ["gan"],
    "gan": {
        "network": {"latent_dim": 8, "generator_units": [16], "discriminator_units": [16]},
        "train": {"epochs": 1, "batch_size": 500, "grid_size": 2, "eval_samples": 100},
    },
    "evaluate": {"num_samples": 200, "kid_subsets": 5, "kid_subset_size": 100},
    # No serving formats: tests/test_formats.py and the end-to-end files check them.
    "export": {"num_samples": 20, "grid_size": 2, "interpolation_steps": 2, "formats": []},
}


def stage_command(stage: str, model: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The command dvc.yaml runs for `stage` (and `model`), with the paths it gives, and an
    environment where the project is importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env.update(PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    python, *args = stage_argv(stage, model)
    assert python == "python", python
    return [sys.executable, *args], env


def run_stage(workspace: Path, stage: str, model: str | None = None) -> subprocess.CompletedProcess:
    """Run a stage script in `workspace` to the end, as `dvc repro` runs it."""
    command, env = stage_command(stage, model)
    return subprocess.run(
        command, cwd=workspace, env=env, capture_output=True, text=True, timeout=300
    )


def assert_refused(done: subprocess.CompletedProcess, fragment: str) -> None:
    """Exit code 2, no traceback: one line on stderr naming the problem."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr[-3000:]
    # Short, though a message may quote a long path the user gave (a temporary folder here).
    assert lines[0].startswith("error: ") and len(lines[0]) < 500, lines[0][:600]
    assert fragment in lines[0], lines[0]


def write_params(workspace: Path, params: dict) -> None:
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))


def snapshot(root: Path, locks: bool = True) -> dict[str, str]:
    """Every file under `root` (but caches) and the sha256 of its bytes.

    Args:
        locks: include the models' lock files, `<model>.lock`, which name their
            last holder: the one file a stage refused after taking it writes.
    """
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and (locks or p.suffix != ".lock")
    }


def _shared_dir() -> Path:
    """The folder where this test session keeps workspaces built once for every worker.

    tests/conftest.py makes it before pytest-xdist starts its workers, which
    inherit it through SHARED_DIR_ENV; a script importing this module alone
    gets a folder of its own, removed when it exits.
    """
    root = os.environ.get(SHARED_DIR_ENV)
    if root is None:
        root = tempfile.mkdtemp(prefix="gan-tests-")
        os.environ[SHARED_DIR_ENV] = root
        atexit.register(shutil.rmtree, root, ignore_errors=True)
    return Path(root)


def _built_once(kind: str, params: dict, build: Callable[[Path], None]) -> Path:
    """A workspace `build` made once per test session for `kind` and `params`.

    The first worker to ask builds it under a file lock, in a side folder
    renamed into place when done, so another worker waits for it or finds it
    whole, never half-built. Nothing in it names its folder, so tests copy it.
    """
    from filelock import FileLock

    key = hashlib.sha256(yaml.safe_dump(params, sort_keys=True).encode()).hexdigest()[:16]
    folder = _shared_dir() / f"{kind}-{key}"
    with FileLock(f"{folder}.lock"):
        if not folder.is_dir():
            partial = folder.with_name(f"{folder.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            build(partial)
            partial.rename(folder)
    return folder


def _run_stages(workspace: Path, *stages: tuple[str, ...]) -> None:
    for stage in stages:
        done = run_stage(workspace, *stage)
        assert done.returncode == 0, done.stderr[-3000:]


def _make_ready(workspace: Path, params: dict) -> None:
    write_params(workspace, params)
    _run_stages(workspace, ("params",), ("prepare",), ("evaluator",))


def ready_to_train(workspace: Path, params: dict) -> Path:
    """`params`, the data prepared and the evaluator trained: what training reads.

    The three stages (about 10 CPU s) run once per test session and params;
    every call copies that result (no MLflow run exists yet).
    """
    template = _built_once("ready", params, lambda folder: _make_ready(folder, params))
    shutil.copytree(template, workspace, symlinks=True, dirs_exist_ok=True)
    return workspace


def trained_workspace(workspace: Path) -> Path:
    """Prepared data, a one-epoch evaluator and a one-epoch `gan` with its MLflow run.

    Trained once per test session (the MLflow store travels with the copy).
    """

    def train(folder: Path) -> None:
        ready_to_train(folder, TINY_PARAMS)
        _run_stages(folder, ("train", "gan"))

    template = _built_once("trained", TINY_PARAMS, train)
    shutil.copytree(template, workspace, symlinks=True, dirs_exist_ok=True)
    return workspace
