"""Stage `params`: validate params.yaml and write what each stage reads to a folder (resolved/)."""

from __future__ import annotations

from pipeline.cli import run_stage, stage_arguments
from pipeline.params import load_params
from pipeline.stage_values import write_resolved

PATHS = {"out": "the folder for each stage's values, defaults filled in (replaced in one step)"}


def main() -> None:
    args = stage_arguments(__doc__, PATHS)
    written = write_resolved(load_params(), args.out)
    print(f"params.yaml is valid; wrote {len(written)} resolved files to {args.out}/")


if __name__ == "__main__":
    run_stage(main)
