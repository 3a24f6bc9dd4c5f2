"""Atomic writes: a directory is replaced whole or not at all, even under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from pipeline.fileio import atomic_dir, exchange_paths, recover_dir


def write_version(folder: Path, version: int, files: int = 5) -> None:
    for i in range(files):
        (folder / f"part{i}.txt").write_text(f"{version}\n" * 200)


def read_version(folder: Path, files: int = 5) -> int:
    """The one version every file holds; fails on a mix or a missing file."""
    versions = {(folder / f"part{i}.txt").read_text().splitlines()[0] for i in range(files)}
    assert len(versions) == 1, f"a torn directory: {versions}"
    return int(versions.pop())


def test_replaces_the_old_directory_on_success(tmp_path):
    target = tmp_path / "out"
    for version in (1, 2):
        with atomic_dir(target) as staging:
            write_version(staging, version)
    assert read_version(target) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no temporaries are left"


def test_a_failure_leaves_the_old_directory(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as staging:
        write_version(staging, 1)
    with pytest.raises(RuntimeError), atomic_dir(target) as staging:
        write_version(staging, 2)
        raise RuntimeError("the stage failed")
    assert read_version(target) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_exchange_swaps_two_directories_in_one_step(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_version(tmp_path / "a", 1)
    write_version(tmp_path / "b", 2)
    assert exchange_paths(tmp_path / "a", tmp_path / "b")
    assert (read_version(tmp_path / "a"), read_version(tmp_path / "b")) == (2, 1)


def test_a_kill_between_the_fallback_renames_is_undone(tmp_path):
    # Where paths cannot be exchanged, the old directory is renamed aside
    # first; this is the state a kill right after that rename leaves.
    target = tmp_path / "out"
    aside = tmp_path / ".out.old"
    aside.mkdir()
    write_version(aside, 1)
    (tmp_path / ".out.new.abc123").mkdir()  # the unfinished new copy
    recover_dir(target)
    assert read_version(target) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_finished_swap_drops_the_old_copy(tmp_path):
    # Killed after both renames, before the old copy was deleted.
    (tmp_path / "out").mkdir()
    write_version(tmp_path / "out", 2)
    (tmp_path / ".out.old").mkdir()
    write_version(tmp_path / ".out.old", 1)
    recover_dir(tmp_path / "out")
    assert read_version(tmp_path / "out") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


SWAPPER = """
import sys
from pathlib import Path
from pipeline.fileio import atomic_dir

target = Path(sys.argv[1])
version = 0
while True:
    version += 1
    with atomic_dir(target) as staging:
        for i in range(5):
            (staging / f"part{i}.txt").write_text(f"{version}\\n" * 200)
    if version == 1:
        (target.parent / "ready").touch()
"""


def test_sigkill_at_any_moment_leaves_one_whole_version(tmp_path):
    target = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    seen = set()
    for attempt in range(12):
        (tmp_path / "ready").unlink(missing_ok=True)
        swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(target)], env=env)
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.005 * attempt)  # land the kill at different points of a swap
        swapper.send_signal(signal.SIGKILL)
        swapper.wait()
        recover_dir(target)
        seen.add(read_version(target))
    assert len(seen) > 1, "the kills all landed before a second swap; nothing was tested"
