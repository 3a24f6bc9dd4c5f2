"""`python -m benchmarks.train_step` prints its table: one row per combination.

Speed is never asserted beyond "more than nothing": the figures vary from
machine to machine and run to run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

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


def test_train_step_benchmark_prints_one_row_per_combination():
    # Two precisions are measured; steps/exec 0 is refused by the schema, in its row.
    command = [
        sys.executable,
        "-m",
        "benchmarks.train_step",
        "--families",
        "gan",
        "--networks",
        "mlp",
        "--precision",
        "float32",
        "mixed_bfloat16",
        "--steps-per-execution",
        "1",
        "0",
        "--quick",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]

    header, separator, *rows = table_rows(done.stdout)
    assert header == HEADER
    assert set(separator) == {"---"}
    assert [(row[3], row[5]) for row in rows] == [
        ("float32", "1"),
        ("float32", "0"),
        ("mixed_bfloat16", "1"),
        ("mixed_bfloat16", "0"),
    ]
    measured = [row for row in rows if row[5] == "1"]
    for row in measured:
        assert row[:3] == ["tensorflow", "gan", "mlp"]
        assert row[4] in ("on", "off")  # `auto`, resolved: on with a GPU, off without
        assert float(row[7].replace(",", "")) > 0
        assert float(row[8]) > 0 and float(row[9]) > 0
    refused = [row for row in rows if row[5] == "0"]
    for row in refused:
        assert row[7].startswith("not measured: schema: gan.train.steps_per_execution = 0")
    assert "Devices (tensorflow):" in done.stdout
    assert "images/s: real images" in done.stdout


def test_train_step_benchmark_puts_both_backends_in_one_table():
    command = [sys.executable, "-m", "benchmarks.train_step", "--backend", "tensorflow", "jax"]
    command += ["--families", "wgan_gp", "--networks", "mlp", "--quick"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    header, _, *rows = table_rows(done.stdout)
    assert header == HEADER
    assert [row[:3] for row in rows] == [
        ["tensorflow", "wgan_gp", "mlp"],
        ["jax", "wgan_gp", "mlp"],
    ]
    assert rows[1][4] == "on"  # JAX compiles with XLA
    for row in rows:
        assert float(row[7].replace(",", "")) > 0
    assert "Devices (tensorflow)" in done.stdout and "Devices (jax)" in done.stdout
