"""What every stage script shares: its params, one-line errors and the exit code."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pipeline.errors import PipelineError
from pipeline.params import StageParams, load_params, stage_params

# Stages import this module before TensorFlow: keep TF's C++ info lines out of
# the DVC log unless the user asked for them, so an error stays one line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# What TensorFlow writes to stderr while it loads, before its log level
# applies: a notice that oneDNN is on (the default) and absl's warning about it.
_LOADING_NOTICES = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on"
)


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's `main`, turning a `PipelineError` into one line on stderr.

    SIGTERM is turned into KeyboardInterrupt, as Ctrl-C is, so that a stage
    stopped by `kill` or a CI timeout still closes its MLflow run as KILLED.

    Args:
        main: the stage body. It must check its inputs before writing anything.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        main()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted; run it again to resume", file=sys.stderr)
        sys.exit(130)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


@contextmanager
def quiet_tensorflow_import() -> Iterator[None]:
    """Import the modules that load TensorFlow inside this block, without its loading notices.

    TensorFlow's C++ side writes them straight to file descriptor 2, so they
    are caught there; every other line written meanwhile is passed on after.
    Without this, a stage's one-line error would follow four lines of notices.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines(keepends=True):
                if not _LOADING_NOTICES.match(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def global_stage_params(stage: str) -> StageParams:
    """The validated params a stage that runs once (prepare, evaluator, report) reads."""
    return stage_params(load_params(), stage)


def model_stage_params(stage: str, description: str | None) -> tuple[str, StageParams]:
    """Parse a per-model stage's one argument, the model's name, and load its params.

    Args:
        stage: the stage's name in `dvc.yaml` (`train`, `evaluate`, `export`).
        description: the stage's docstring, for `--help`.

    Returns:
        The model's name and the validated params the stage reads, exactly
        what the `params` stage writes to `resolved/` for DVC to track.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("model", help="a name listed under `models` in params.yaml")
    name = parser.parse_args().model
    return name, stage_params(load_params(), stage, name)


def progress_verbosity() -> int:
    """Keras `verbose` for `fit`: the progress bar on a terminal, one line per epoch in a log."""
    return 1 if sys.stdout.isatty() else 2
