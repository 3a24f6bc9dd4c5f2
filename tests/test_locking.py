"""One writer per model: a second stage writing a model at once is refused, and loses nothing.

The lock is real (`flock` on checkpoints/<model>.lock) and so are the
processes: a training started as dvc.yaml gives it, a second one beside it,
and a holder killed by SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from workspace import assert_refused, run_stage, snapshot, stage_command, trained_workspace

from pipeline.errors import PipelineError
from pipeline.locking import model_lock

HOLD = (
    "import sys, time\n"
    "from pipeline.locking import model_lock\n"
    "with model_lock(sys.argv[1], 'gan'):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(600)\n"
)


def hold_lock(path: Path) -> subprocess.Popen:
    """A process that holds the lock at `path` until it is killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    lock = tmp_path / "gan.lock"
    holder = hold_lock(lock)
    try:
        refused = pytest.raises(PipelineError, match=f"gan is being written by .* pid {holder.pid}")
        with refused, model_lock(lock, "gan"):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    lock = tmp_path / "gan.lock"
    holder = hold_lock(lock)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with model_lock(lock, "gan"):
        assert lock.read_text().endswith(f"pid {os.getpid()}")


def test_a_lock_that_cannot_be_created_is_one_line(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    refused = pytest.raises(PipelineError, match="cannot create gan's lock")
    with refused, model_lock(not_a_folder / "gan.lock", "gan"):
        pass


@pytest.mark.slow
def test_a_training_run_twice_at_once_is_refused_and_loses_nothing(tmp_path):
    """The case issue 21 found: `dvc repro` training gan while the stage's command runs too."""
    workspace = trained_workspace(tmp_path)
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["gan"]["train"]["epochs"] = 3
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    lock = workspace / "checkpoints" / "gan.lock"
    command, env = stage_command("train", "gan")
    first = subprocess.Popen(
        command, cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:
        if lock.is_file() and lock.read_text().endswith(f"pid {first.pid}"):
            break
        time.sleep(0.05)
    assert first.poll() is None, "the first training ended before the second started"
    published = snapshot(workspace / "trained" / "gan")

    for stage in ("train", "evaluate", "export"):
        assert_refused(run_stage(workspace, stage, "gan"), f"pid {first.pid}")
    # The refused ones touched nothing the first one is writing.
    assert snapshot(workspace / "trained" / "gan") == published

    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr[-3000:]
    history = (workspace / "trained/gan/history.csv").read_text().splitlines()
    assert len(history) == 1 + 3
    assert (workspace / "trained/gan/quality.csv").is_file()
    # Released at its end: the next holder takes it (model_lock, the lock the
    # stages above took or were refused by).
    with model_lock(lock, "gan"):
        assert lock.read_text().endswith(f"pid {os.getpid()}")
