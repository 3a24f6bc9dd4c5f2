"""A stage stopped by SIGTERM (a CI timeout, `kill`): one line, a KILLED run, the old outputs.

Also when the signal's exception lands in a finaliser, where Python swallows it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
import yaml
from conftest import REPO_ROOT
from workspace import run_stage, snapshot, stage_command, trained_workspace

pytestmark = pytest.mark.slow

# Enough that the signal lands mid-training even when a loaded machine notices
# the first checkpoint late (8 epochs of the tiny model once ended first).
EPOCHS = 30


def test_sigterm_marks_the_run_killed_keeps_the_outputs_and_a_rerun_resumes(tmp_path):
    from mlflow import MlflowClient

    workspace = trained_workspace(tmp_path)
    published = snapshot(workspace / "trained" / "gan")
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["gan"]["train"]["epochs"] = EPOCHS
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))

    state = workspace / "checkpoints" / "gan" / "state" / "state.json"
    command, env = stage_command("train", "gan")
    train = subprocess.Popen(
        command,
        cwd=workspace,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while not state.exists() and time.monotonic() < deadline and train.poll() is None:
        time.sleep(0.1)
    assert state.exists(), "no checkpoint was written before the signal"
    train.send_signal(signal.SIGTERM)
    _, stderr = train.communicate(timeout=120)

    assert train.returncode == 130
    assert stderr.strip().splitlines() == ["error: interrupted; run it again to resume"]
    assert snapshot(workspace / "trained" / "gan") == published, "a stopped run published"
    run_id = json.loads((workspace / "checkpoints/gan/run.json").read_text())["run_id"]
    client = MlflowClient(f"sqlite:///{workspace / 'mlflow' / 'mlflow.db'}")
    stopped = client.get_run(run_id)
    assert stopped.info.status == "KILLED"
    assert stopped.data.tags["error"] == "interrupted"

    # Stopped again, with the signal's exception swallowed by a finaliser
    # (tests/killer.py): the request still stops it, just as cleanly.
    command, env = stage_command("train", "gan")
    killer = str(REPO_ROOT / "tests" / "killer.py")
    swallowed = subprocess.run(
        [command[0], killer, "sigterm_in_a_finaliser", "train", *command[3:]],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert swallowed.returncode == 130, swallowed.stderr[-3000:]
    # The last line: the killer imports TensorFlow before the stage can quiet its notices.
    assert swallowed.stderr.strip().splitlines()[-1] == "error: interrupted; run it again to resume"
    assert "Exception ignored" not in swallowed.stderr and "Traceback" not in swallowed.stderr
    assert snapshot(workspace / "trained" / "gan") == published, "a stopped run published"
    assert client.get_run(run_id).info.status == "KILLED"

    done = run_stage(workspace, "train", "gan")
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((workspace / "trained/gan/run.json").read_text())["run_id"] == run_id
    resumed = client.get_run(run_id)
    assert resumed.info.status == "FINISHED"
    epoch = resumed.data.tags["resumed_from_epoch"]
    assert f"gan: resumed from epoch {epoch} of {EPOCHS} in MLflow run {run_id}" in done.stdout
    # Its progress lines, plain in a log, go on from there: one per epoch still to run.
    label = "train@gan (model 1 of 1)"
    progress = [line for line in done.stdout.splitlines() if line.startswith(f"{label}: epoch ")]
    assert progress[0].startswith(f"{label}: epoch {int(epoch) + 1}/{EPOCHS}, "), done.stdout
    assert len(progress) == EPOCHS - int(epoch) and "\r" not in done.stdout
    assert f"{label}: finished in " in done.stdout
    assert "error" not in resumed.data.tags
    rows = (workspace / "trained/gan/history.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == [str(epoch) for epoch in range(1, EPOCHS + 1)]
