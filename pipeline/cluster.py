"""This process's place in a multi-worker cluster, read from TF_CONFIG.

`train.strategy: multi_worker` runs TensorFlow's `MultiWorkerMirroredStrategy`,
which takes the cluster (every worker's host:port) and this process's task from
the TF_CONFIG environment variable. Every worker runs the same train stage;
only the chief writes the stage's outputs and the MLflow run, the others keep
their state in a folder of their own (`worker_dir`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

TASK_TYPES = ("chief", "worker")
_EXAMPLE = (
    '{"cluster": {"worker": ["127.0.0.1:20001", "127.0.0.1:20002"]}, '
    '"task": {"type": "worker", "index": 0}}'
)


def tf_config() -> dict[str, Any] | None:
    """TF_CONFIG, parsed; None when it is unset or empty (a single process)."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except ValueError as err:
        raise PipelineError(f"TF_CONFIG is not JSON ({err}); it looks like {_EXAMPLE}") from None
    return config


def check_tf_config() -> None:
    """Refuse a TF_CONFIG that `MultiWorkerMirroredStrategy` cannot start from, in one line.

    Raises:
        PipelineError: unset, not JSON, no `cluster` of workers, or a `task`
            that is not one of them.
    """
    config = tf_config()
    if config is None:
        raise PipelineError(
            "train.strategy = 'multi_worker' needs TF_CONFIG naming the cluster and this "
            f"process's task, e.g. TF_CONFIG='{_EXAMPLE}' (docs/gpu.md)"
        )
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster.get("worker") and not cluster.get("chief"):
        raise PipelineError(f"TF_CONFIG has no cluster of workers; it looks like {_EXAMPLE}")
    unknown = sorted(set(cluster) - set(TASK_TYPES))
    if unknown:
        raise PipelineError(
            f"TF_CONFIG cluster has {unknown}: MultiWorkerMirroredStrategy takes only "
            f"{list(TASK_TYPES)}"
        )
    task = config.get("task")
    kind = task.get("type") if isinstance(task, dict) else None
    index = task.get("index") if isinstance(task, dict) else None
    members = cluster.get(kind) if isinstance(kind, str) else None
    if (
        not isinstance(members, list)
        or not isinstance(index, int)
        or not (0 <= index < len(members))
    ):
        raise PipelineError(
            f"TF_CONFIG task = {task!r}: must be {{'type': T, 'index': I}} with T in "
            f"{sorted(cluster)} and I below the number of its addresses"
        )


def task() -> tuple[str, int]:
    """This process's (type, index); ("chief", 0) outside a cluster."""
    config = tf_config()
    if config is None:
        return "chief", 0
    return config["task"]["type"], int(config["task"]["index"])


def is_chief() -> bool:
    """Whether this process writes outputs and MLflow: the `chief`, or worker 0 without one."""
    config = tf_config()
    if config is None:
        return True
    kind, index = config["task"]["type"], int(config["task"]["index"])
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in config["cluster"])


def worker_dir(checkpoint_dir: Path) -> Path:
    """Where a non-chief worker keeps its state and its throwaway outputs, beside the chief's."""
    kind, index = task()
    return checkpoint_dir.with_name(f"{checkpoint_dir.name}.{kind}-{index}")


def worker_addresses() -> list[str]:
    """Every task's host:port in TF_CONFIG's cluster (chief first); empty outside a cluster."""
    config = tf_config()
    if config is None:
        return []
    return [address for kind in TASK_TYPES for address in config["cluster"].get(kind, [])]
