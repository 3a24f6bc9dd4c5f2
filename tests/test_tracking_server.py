"""A real `mlflow server` on loopback dies mid-training: noticed within a minute, resumed after.

The server is killed with SIGKILL (its whole process group) while the train
stage, pointed at it by MLFLOW_TRACKING_URI, is between epochs. The stage must
end with one line within about a minute, keep its checkpoint, and, once the
server is back, resume in the same run and leave no run RUNNING.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from workspace import TINY_PARAMS, ready_to_train, stage_command, write_params

pytestmark = pytest.mark.slow

# Enough that the server dies mid-training: after the first checkpoint, the
# test kills it at once, and every later epoch (and the model's logging)
# talks to it.
EPOCHS = 10
PARAMS = {
    **TINY_PARAMS,
    "gan": {**TINY_PARAMS["gan"], "train": {**TINY_PARAMS["gan"]["train"], "epochs": EPOCHS}},
}
NOTICED_WITHIN_S = 75  # the documented bound is about a minute


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`mlflow server` with its own sqlite store and artifact folder under `root`."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        mlflow = Path(sys.executable).with_name("mlflow")
        self.process = subprocess.Popen(
            [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--backend-store-uri", f"sqlite:///{self.root / 'server.db'}"]
            + ["--artifacts-destination", str(self.root / "artifacts"), "--workers", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("mlflow server did not start within 120 s")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    running = Server(tmp_path)
    running.start()
    yield running
    if running.process is not None and running.process.poll() is None:
        running.kill()


def train(workspace: Path, uri: str, **popen) -> subprocess.Popen:
    command, env = stage_command("train", "gan")
    return subprocess.Popen(
        command,
        cwd=workspace,
        env={**env, "MLFLOW_TRACKING_URI": uri},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_a_dead_server_is_noticed_within_a_minute_and_the_run_resumes_after(server, tmp_path):
    from mlflow import MlflowClient

    (tmp_path / "ws").mkdir()
    # The shared tiny workspace (its data and evaluator), training longer.
    workspace = ready_to_train(tmp_path / "ws", TINY_PARAMS)
    write_params(workspace, PARAMS)
    state = workspace / "checkpoints/gan/state/state.json"
    training = train(workspace, server.uri)
    deadline = time.monotonic() + 180
    while not state.exists() and time.monotonic() < deadline and training.poll() is None:
        time.sleep(0.1)
    assert state.exists(), "no checkpoint before the server was killed"

    server.kill()
    killed_at = time.monotonic()
    _, stderr = training.communicate(timeout=300)
    noticed_after = time.monotonic() - killed_at
    lines = stderr.strip().splitlines()
    assert training.returncode == 1, stderr[-3000:]
    assert len(lines) == 1 and "does not answer" in lines[0], stderr[-3000:]
    assert noticed_after < NOTICED_WITHIN_S, f"noticed after {noticed_after:.0f} s"
    assert state.exists(), "the checkpoint must survive"

    server.start()
    done = train(workspace, server.uri)
    stdout, stderr = done.communicate(timeout=600)
    assert done.returncode == 0, stderr[-3000:]
    assert "resumed from epoch" in stdout
    client = MlflowClient(server.uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [run.info.status for run in runs] == ["FINISHED"]
