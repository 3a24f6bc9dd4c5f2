"""What every stage script shares: one-line errors and a non-zero exit."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from pipeline.errors import PipelineError

# Stages import this module before TensorFlow: keep TF's C++ info lines out of
# the DVC log unless the user asked for them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's `main`, turning a `PipelineError` into one line on stderr.

    Args:
        main: the stage body. It must validate params before writing anything.
    """
    try:
        main()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def stage_model_name(description: str | None) -> str:
    """Parse the one argument of a per-model stage: the model's name in `models`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("model", help="a name listed under `models` in params.yaml")
    return parser.parse_args().model
