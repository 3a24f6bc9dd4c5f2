"""What a run records about itself: tags, the params that apply, the dataset it read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pipeline.params import applicable_params, flatten
from pipeline.stage_values import TrainStage

if TYPE_CHECKING:
    from pipeline.data import DatasetInfo

PARAMS_FILE = "params.yaml"  # `dvc exp run -S` writes it; its values are the run's params
LOCK_FILE = "dvc.lock"
DATASET_PATH = "data/prepared"  # relative: the record names no checkout
# libyaml's loader where PyYAML has it: dvc.lock lists every output file (a few hundred kB
# for a folder source's shards), which the pure-Python loader took 1.5 s of every stage to read.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DIGEST_CHARS = 16  # of the content hash; MLflow shows a short digest, 64 bits tell data apart


def training_params(stage: TrainStage, info: DatasetInfo) -> dict[str, Any]:
    """The flattened params of a training run: seed, data, and what applies to its model."""
    data = {
        "source": info.source,
        "image_shape": list(info.image_shape),
        "train_count": info.splits["train"].count,
    }
    shared = {"seed": stage.seed, "data": data}
    return {**flatten(shared), **flatten(applicable_params(stage.model), prefix="model.")}


def model_tags(name: str, stage: TrainStage, info: DatasetInfo) -> dict[str, str]:
    """Tags that say what a training run trained, on which data, from which code."""
    model = stage.model
    return {
        "model": name,
        "family": model.family,
        **model.part_tags(),
        "conditional": str(model.conditional).lower(),
        "data_hash": info.content_hash,
        **environment_tags(),
    }


def environment_tags() -> dict[str, str]:
    """The DVC experiment and stage, the source, and whether the code differs from its commit."""
    tags = {"git_dirty": code_differs_from_commit(Path.cwd()), **source_tags()}
    for variable in ("DVC_EXP_NAME", "DVC_STAGE"):
        if os.environ.get(variable):
            tags[variable.lower()] = os.environ[variable]
    return tags


def source_tags() -> dict[str, str]:
    """MLflow's source tags, without the checkout's absolute path.

    MLflow records the script's absolute path, and a clone's `origin` may be
    a local path too; a record that names a checkout breaks when it moves.
    """
    cwd = Path.cwd().resolve()
    script = Path(sys.argv[0]).resolve()
    tags = {
        "mlflow.source.name": script.relative_to(cwd).as_posix()
        if script.is_relative_to(cwd)
        else script.name
    }
    origin = _git(cwd, "remote", "get-url", "origin")
    if origin and "://" not in origin and not origin.startswith("git@"):
        tags["mlflow.source.git.repoURL"] = ""  # a local path: not a place to find the code
    return tags


def run_name(name: str, suffix: str = "") -> str:
    """`<model> @ <DVC experiment>`, or `<model> @ <short commit>` outside an experiment."""
    label = os.environ.get("DVC_EXP_NAME") or (_git(Path.cwd(), "rev-parse", "--short", "HEAD"))
    base = f"{name} @ {label}" if label else name
    return f"{base} {suffix}".strip()


def code_differs_from_commit(root: Path) -> str:
    """ "true" when tracked files differ from the commit, not counting what DVC writes.

    DVC rewrites `dvc.lock`, the outputs it keeps in git and, for `dvc exp run
    -S`, `params.yaml`; none of those is a change to the code, and the params
    are in the run's record anyway. "unknown" outside a git checkout.
    """
    changed = _git(root, "diff", "HEAD", "--name-only", "--no-renames")
    if changed is None:
        return "unknown"
    if not changed:
        return "false"
    written = dvc_written_paths(root)
    code = [path for path in changed.splitlines() if not _under_any(path, written)]
    return str(bool(code)).lower()


def dvc_written_paths(root: Path) -> set[str]:
    """`params.yaml`, `dvc.lock` and every output path `dvc.lock` records."""
    paths = {PARAMS_FILE, LOCK_FILE}
    try:
        lock = yaml.load((root / LOCK_FILE).read_text(encoding="utf-8"), Loader=_FAST_LOADER) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return paths
    for stage in (lock.get("stages") or {}).values():
        for out in (stage or {}).get("outs") or []:
            if isinstance(out, dict) and isinstance(out.get("path"), str):
                paths.add(out["path"].rstrip("/"))
    return paths


def _under_any(path: str, roots: set[str]) -> bool:
    return any(path == root or path.startswith(f"{root}/") for root in roots)


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def process_tag() -> str:
    """This process as `host:pid:start time`, so a later one can tell a dead run from a live one."""
    import psutil

    return f"{socket.gethostname()}:{os.getpid()}:{psutil.Process().create_time():.3f}"


def process_is_gone(tag: str) -> bool:
    """Whether the process a `process_tag` names has ended (on this host; unknown elsewhere)."""
    import psutil

    try:
        host, pid, started = tag.rsplit(":", 2)
        pid_number, start_time = int(pid), float(started)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False  # another machine's run: not ours to judge
    try:
        return abs(psutil.Process(pid_number).create_time() - start_time) > 0.01
    except psutil.Error:
        return True


def log_dataset(info: DatasetInfo, context: str) -> None:
    """Log the prepared dataset as the active run's input: its hash, source and split sizes."""
    import mlflow
    import numpy as np
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.sources import LocalArtifactDatasetSource
    from mlflow.types import Schema, TensorSpec

    schema = Schema(
        [
            TensorSpec(np.dtype(np.uint8), (-1, *info.image_shape), "image"),
            TensorSpec(np.dtype(np.int64), (-1,), "label"),
        ]
    )
    dataset = MetaDataset(
        source=LocalArtifactDatasetSource(DATASET_PATH),
        name=info.source,
        digest=info.content_hash[:DIGEST_CHARS],
        schema=schema,
    )
    tags = {f"{split}_count": str(entry.count) for split, entry in info.splits.items()}
    tags["num_classes"] = str(info.num_classes)
    mlflow.log_input(dataset, context=context, tags=tags)
