"""Faults of the MLflow store and the checkout: one line each, and nothing lost.

Real faults on a real trained workspace: the sqlite file truncated, overwritten
or emptied; a read-only checkout (a real read-only bind mount, where this
machine lets the tests mount one); a full file system (a real size-limited
tmpfs, likewise).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from workspace import assert_refused, run_stage, snapshot, stage_command, trained_workspace

pytestmark = pytest.mark.slow

STORE = Path("mlflow/mlflow.db")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return trained_workspace(tmp_path_factory.mktemp("trained"))


@pytest.fixture
def workspace(trained, tmp_path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(trained, copy)
    return copy


def generate(workspace: Path, source: str, out: Path) -> subprocess.CompletedProcess:
    """`python -m pipeline.generate SOURCE` in `workspace`, as a user runs it."""
    _, env = stage_command("train", "gan")
    return subprocess.run(
        [sys.executable, "-m", "pipeline.generate", source, "-n", "4", "--out", str(out)],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def model_uri(workspace: Path) -> str:
    return "models:/" + json.loads((workspace / "trained/gan/run.json").read_text())["model_id"]


def truncate_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garbage_first_page(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(b"\xa5" * 4096 + data[4096:])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def garbage_after_the_header(path: Path) -> None:
    """Every page but the first overwritten: the header looks fine, the tables do not."""
    data = path.read_bytes()
    path.write_bytes(data[:4096] + b"\x5a" * (len(data) - 4096))


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated to half": (truncate_half, "cut short"),
    "garbage over its first page": (garbage_first_page, "first bytes were overwritten"),
    "0 bytes": (empty, "0 bytes"),
    "garbage after its header": (garbage_after_the_header, "damaged"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_store_is_one_line_and_loses_nothing(case, workspace, tmp_path):
    damage, fragment = DAMAGE[case]
    uri = model_uri(workspace)
    damage(workspace / STORE)
    before = snapshot(workspace, locks=False)
    assert_refused(run_stage(workspace, "train", "gan"), fragment)
    assert_refused(run_stage(workspace, "evaluate", "gan"), fragment)
    assert_refused(generate(workspace, uri, tmp_path / "out.npz"), fragment)
    assert snapshot(workspace, locks=False) == before


def test_a_run_missing_from_a_replaced_store_names_the_command_that_rebuilds_it(workspace):
    (workspace / STORE).rename(workspace / "mlflow/old.db")
    done = run_stage(workspace, "evaluate", "gan")
    assert_refused(done, "dvc repro --force --downstream train@gan")


def can_mount() -> bool:
    probe = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", "/mnt"], capture_output=True
    )
    if probe.returncode != 0:
        return False
    subprocess.run(["umount", "/mnt"], check=True)
    return True


needs_mount = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("mount") is None or not can_mount(),
    reason="mounting (a read-only bind, a tmpfs) needs Linux and the right to mount",
)


@contextmanager
def mounted(*args: str) -> Iterator[None]:
    target = args[-1]
    subprocess.run(["mount", *args], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["umount", target], check=True, capture_output=True)


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    with mounted("--bind", str(folder), str(folder)):
        subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True
        )
        yield


@needs_mount
def test_a_read_only_checkout_reads_and_refuses_writes_in_one_line(workspace, tmp_path):
    uri = model_uri(workspace)
    out = tmp_path / "generated.npz"
    with read_only(workspace):
        done = generate(workspace, uri, out)
        assert done.returncode == 0, done.stderr[-3000:]
        assert_refused(run_stage(workspace, "params"), "writable")
        assert_refused(run_stage(workspace, "train", "gan"), "writable")
        assert_refused(run_stage(workspace, "evaluate", "gan"), "writable")
    assert out.is_file()


@needs_mount
def test_a_full_store_fails_in_one_line_and_leaves_no_run_running(workspace):
    from mlflow import MlflowClient

    store = workspace / "mlflow"
    saved = workspace.parent / "mlflow-saved"
    shutil.copytree(store, saved)
    shutil.rmtree(store)
    store.mkdir()
    # Room for the store as it is (tmpfs counts whole 4 KiB pages) and a little
    # more: a new training's records do not fit.
    room = sum(-(-p.stat().st_size // 4096) * 4096 for p in saved.rglob("*")) + 16384
    with mounted("-t", "tmpfs", "-o", f"size={room}", "tmpfs", str(store)):
        shutil.copytree(saved, store, dirs_exist_ok=True)
        shutil.rmtree(workspace / "checkpoints", ignore_errors=True)
        done = run_stage(workspace, "train", "gan")
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1, done.stderr[-3000:]
        assert len(lines) == 1 and ("no space left" in lines[0] or "full" in lines[0]), done.stderr
        shutil.copytree(store, saved, dirs_exist_ok=True)
    # Space again: the next pipeline process marks the dead run KILLED.
    shutil.rmtree(store)
    shutil.copytree(saved, store)
    done = run_stage(workspace, "train", "gan")
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert "RUNNING" not in [run.info.status for run in runs]


@needs_mount
def test_a_full_checkpoint_folder_fails_in_one_line_and_the_run_resumes_after(workspace):
    from mlflow import MlflowClient

    checkpoints = workspace / "checkpoints"
    shutil.rmtree(checkpoints, ignore_errors=True)
    checkpoints.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(checkpoints)):
        done = run_stage(workspace, "train", "gan")
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1, done.stderr[-3000:]
        assert len(lines) == 1 and "no space left" in lines[0], done.stderr[-3000:]
    done = run_stage(workspace, "train", "gan")
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{workspace / STORE}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert "RUNNING" not in [run.info.status for run in runs]
