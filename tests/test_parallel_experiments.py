"""Queued DVC experiments started together on an empty MLflow store all land."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time

import pytest
import yaml
from repo_copy import clean_env, copy_repo, git, run

pytestmark = pytest.mark.slow

# Two queued experiments, started together, race to create the empty store: the race
# end to end, through `dvc queue` and its copies of the repo (DVC_ROOT). More
# processes racing at once is tests/test_tracking.py's (four, in seconds); each
# worker more here costs a training process and DVC's copy, about 15 s.
WORKERS = 2


def queue_status(root) -> str | None:
    """`dvc queue status`, or None while it cannot read the queue.

    DVC reads each running task's info file while its worker may be rewriting it, and
    then fails with a JSON error (seen on CI); the next poll reads the finished file.
    """
    done = run(root, "dvc", "queue", "status", check=False)
    return done.stdout if done.returncode == 0 else None


def landed(root) -> int:
    """How many of the queued experiments DVC has saved as a ref (git alone, no DVC)."""
    listed = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/exps"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    refs = listed.stdout.split()
    return sum(any(ref.endswith(f"/batch-{i}") for ref in refs) for i in range(WORKERS))


def test_queued_experiments_on_an_empty_store_all_land_and_a_serial_one_follows(tmp_path):
    root = copy_repo(tmp_path)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["models"] = ["gan"]
    params["gan"]["train"].update(epochs=1, eval_every=0)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    run(root, "dvc", "repro", "evaluator")  # shared by every experiment; opens no store
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "data and evaluator")
    assert not (root / "mlflow" / "mlflow.db").exists()

    for index in range(WORKERS):
        batch = f"gan.train.batch_size={100 * (index + 1)}"
        run(root, "dvc", "exp", "run", "--queue", "-S", batch, "-n", f"batch-{index}", "train@gan")
    # The workers it starts outlive it and hold any pipe it was given: no capture.
    subprocess.run(
        ["dvc", "queue", "start", "-j", str(WORKERS)],
        cwd=root,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    try:
        status, polls, deadline = None, 0, time.monotonic() + 900
        while time.monotonic() < deadline:
            # `dvc queue status` costs a DVC start: asked once every experiment has its
            # ref, and every 30 s meanwhile (a failed one never gets a ref).
            if landed(root) == WORKERS or polls % 10 == 0:
                status = queue_status(root)
                if status is not None and not any(w in status for w in ("Queued", "Running")):
                    break
            polls += 1
            time.sleep(3)
    finally:
        run(root, "dvc", "queue", "stop", "--kill", check=False)
    assert status is not None, "dvc queue status never answered"
    finished = [line for line in status.splitlines() if line.startswith(tuple("0123456789abcdef"))]
    assert len(finished) == WORKERS and all("Success" in line for line in finished), status

    run(root, "dvc", "exp", "run", "-S", "gan.train.batch_size=250", "-n", "serial", "train@gan")
    with sqlite3.connect(root / "mlflow" / "mlflow.db") as db:
        runs = db.execute("select name, status from runs").fetchall()
    assert sorted(runs) == sorted(
        [(f"gan @ batch-{i}", "FINISHED") for i in range(WORKERS)] + [("gan @ serial", "FINISHED")]
    )
    reference = json.loads((root / "trained/gan/run.json").read_text())
    assert reference["run_name"] == "gan @ serial"
