"""Stage `params`: validate params.yaml and write what each stage reads to resolved/."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import run_stage
from pipeline.params import load_params, write_resolved

OUT_DIR = Path("resolved")


def main() -> None:
    written = write_resolved(load_params(), OUT_DIR)
    print(f"params.yaml is valid; wrote {len(written)} resolved files to {OUT_DIR}/")


if __name__ == "__main__":
    run_stage(main)
