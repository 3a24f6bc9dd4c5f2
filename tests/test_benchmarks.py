"""`python -m benchmarks.train_step` prints its table: one row per combination.

Speed is never asserted beyond "more than nothing": the figures vary from
machine to machine and run to run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

HEADER = [
    "backend",
    "family",
    "network",
    "precision",
    "xla",
    "steps/exec",
    "batch",
    "images/s",
    "ms/step",
    "first s",
]


def table_rows(stdout: str) -> list[list[str]]:
    """The Markdown table's lines, as lists of cells (header and separator included)."""
    lines = [line.strip() for line in stdout.splitlines() if line.startswith("|")]
    # A reason may hold an escaped `\|`, which does not end its cell.
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line[1:-1])] for line in lines]


def test_train_step_benchmark_prints_one_row_per_combination_of_both_backends_in_one_table():
    # Two precisions are measured on each backend, each in a process of its own;
    # steps/exec 0 is refused by the schema, in its row.
    command = [sys.executable, "-m", "benchmarks.train_step", "--backend", "tensorflow", "jax"]
    command += ["--families", "gan", "--networks", "mlp", "--precision", "float32"]
    command += ["mixed_bfloat16", "--steps-per-execution", "1", "0", "--quick"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]

    header, separator, *rows = table_rows(done.stdout)
    assert header == HEADER
    assert set(separator) == {"---"}
    assert [(row[0], row[3], row[5]) for row in rows] == [
        (backend, precision, steps)
        for backend in ("tensorflow", "jax")
        for precision in ("float32", "mixed_bfloat16")
        for steps in ("1", "0")
    ]
    measured = [row for row in rows if row[5] == "1"]
    for row in measured:
        assert row[1:3] == ["gan", "mlp"]
        if row[0] == "jax":
            assert row[4] == "on"  # JAX compiles with XLA
        else:
            assert row[4] in ("on", "off")  # `auto`, resolved: on with a GPU, off without
        assert float(row[7].replace(",", "")) > 0
        assert float(row[8]) > 0 and float(row[9]) > 0
    refused = [row for row in rows if row[5] == "0"]
    for row in refused:
        assert row[7].startswith("not measured: schema: gan.train.steps_per_execution = 0")
    assert "Devices (tensorflow)" in done.stdout and "Devices (jax)" in done.stdout
    assert "images/s: real images" in done.stdout


@pytest.mark.parametrize("module", ["benchmarks.train_step", "benchmarks.evaluation"])
def test_benchmark_help_answers_without_loading_tensorflow(module):
    # Timing is never asserted; what makes `--help` slow and noisy is loading
    # TensorFlow (or Keras, or JAX), which `-X importtime` lists if it happens.
    command = [sys.executable, "-X", "importtime", "-m", module, "--help"]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage: ")
    timings = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in timings}
    assert "argparse" in imported, "python -X importtime listed no imports"
    assert not imported & {"tensorflow", "keras", "jax"}
    assert [line for line in done.stderr.splitlines() if line not in timings] == []


def test_train_step_benchmark_prints_each_row_as_soon_as_it_is_measured():
    """Stopped while measuring its second combination, the run has printed the first row."""
    command = [sys.executable, "-m", "benchmarks.train_step", "--families", "gan"]
    command += ["--networks", "mlp", "dcgan", "--quick"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert child.stdout is not None
    seen: list[str] = []
    try:
        for line in child.stdout:
            seen.append(line.rstrip("\n"))
            if line.startswith("[2/2 "):  # stderr: the second combination starts
                break
    finally:
        child.kill()
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, f"it ended before being stopped: {seen}"

    header = seen.index("| " + " | ".join(HEADER) + " |")
    assert seen[header + 1] == "|" + "---|" * len(HEADER)
    rows = [i for i, line in enumerate(seen) if line.startswith("| tensorflow |")]
    assert len(rows) == 1 and header < rows[0], seen
    cells = table_rows(seen[rows[0]])[0]
    assert cells[:4] == ["tensorflow", "gan", "mlp", "float32"]
    assert float(cells[7].replace(",", "")) > 0
    assert any(line.startswith("Devices (tensorflow):") for line in seen[:header])
    # Which combination comes next, and the time left from the one measured.
    assert (
        seen.index(
            "[1/2 on tensorflow] gan, mlp, float32, jit_compile auto, steps/exec 1, batch own"
        )
        < rows[0]
    )
    assert re.fullmatch(
        r"\[2/2 on tensorflow, about .+ left\] gan, dcgan, float32, .*", seen[-1]
    ), seen[-1]
