"""A git copy of the repository where the real `dvc` CLI runs, and the tiny params for it.

The end-to-end files (tests/test_pipeline.py, test_folder_pipeline.py,
test_translation_pipeline.py, test_parallel_experiments.py, test_ci.py) each
build their copy with `copy_repo` and drive it with `run`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, committed_params_text

from pipeline.models.presets import merge

# kind: mlp replaces a default model's convolutional network (presets.merge).
TINY_NETS = {"kind": "mlp", "generator_units": [64], "discriminator_units": [64]}
TINY_TRAIN = {"epochs": 1, "batch_size": 250, "grid_size": 3, "eval_samples": 100}
TINY_PARAMS = {
    "evaluator": {"epochs": 1},
    "seeds": [],  # each model once; the seeds stage's trainings are tests/test_seeds.py's
    # One model of each kind the tests tell apart: unconditional, conditional, and a
    # critic with its family's defaults (n_critic, gradient penalty). Each model more
    # costs every `dvc repro` of tests/test_pipeline.py about 20 s; each family's training is
    # tests/test_presets.py's.
    "models": ["gan", "cgan", "wgan_gp"],
    "gan": {"network": TINY_NETS, "train": {**TINY_TRAIN, "epochs": 2, "eval_every": 1}},
    "cgan": {"network": TINY_NETS, "train": TINY_TRAIN},
    # Scoring during training off: the declared quality.csv holds a header only.
    "wgan_gp": {"network": TINY_NETS, "train": {**TINY_TRAIN, "batch_size": 100, "eval_every": 0}},
    "evaluate": {"num_samples": 200, "kid_subsets": 10, "kid_subset_size": 100},
    "export": {
        "num_samples": 200,  # as many as evaluate scores: the same images
        "grid_size": 3,
        "interpolation_steps": 4,
        "interpolation_rows": 2,
    },
}


def copy_repo(destination: Path, tiny: dict | None = None) -> Path:
    """Copy the files git would commit, and make the copy a git repo of its own.

    Its params.yaml is the committed one with `tiny` (by default `TINY_PARAMS`) over it.
    """
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
    # The committed params, whatever an experiment left in the workspace's.
    params = yaml.safe_load(committed_params_text())
    tiny = TINY_PARAMS if tiny is None else tiny
    (destination / "params.yaml").write_text(yaml.safe_dump(merge(params, tiny)))
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
