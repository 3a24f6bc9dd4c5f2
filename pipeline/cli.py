"""What every stage script shares: one-line errors and a non-zero exit."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from pipeline.errors import PipelineError
from pipeline.params import Params, load_params

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


def model_stage_params(description: str | None) -> tuple[str, Params]:
    """Parse a per-model stage's one argument, the model's name, and load the params.

    Args:
        description: the stage's docstring, for `--help`.

    Returns:
        The model's name and the validated params, in which it is listed.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("model", help="a name listed under `models` in params.yaml")
    name = parser.parse_args().model
    params = load_params()
    params.model(name)
    return name, params


def progress_verbosity() -> int:
    """Keras `verbose` for `fit`: the progress bar on a terminal, one line per epoch in a log."""
    return 1 if sys.stdout.isatty() else 2
