#!/usr/bin/env bash
# Download the wheels the GPU check needs beside JAX, for a machine that has
# JAX, NumPy, SciPy, Pillow and PyYAML but no Keras or pydantic (Python 3.12,
# x86-64 Linux): Keras and its small dependencies, pydantic and its own.
# Usage: scripts/gpu_wheels.sh DIR   (about 40 MB; docs/gpu.md has the rest)
set -euo pipefail
out="${1:?usage: scripts/gpu_wheels.sh DIR}"
mkdir -p "$out"
# With their dependencies, so that pydantic and pydantic-core match; the machine
# installs them with `pip install --no-index --find-links DIR keras pydantic`,
# which keeps what it already has (NumPy, ml-dtypes).
pip download --quiet --only-binary=:all: --dest "$out" \
  --python-version 3.12 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  "keras>=3.14,<3.16" "pydantic>=2.5,<3"
ls "$out"
