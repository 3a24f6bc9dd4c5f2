"""What every stage script shares: its params, one-line errors and the exit code."""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from pipeline import interrupts
from pipeline.errors import PipelineError
from pipeline.faults import machine_fault
from pipeline.params import load_params
from pipeline.stage_values import StageParams, stage_params

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
    """Run a stage's `main`, turning a `PipelineError` or a machine's fault into one line.

    SIGTERM is turned into KeyboardInterrupt, as Ctrl-C is, so that a stage
    stopped by `kill` or a CI timeout still closes its MLflow run as KILLED;
    `pipeline.interrupts` makes sure no library swallows it.

    Args:
        main: the stage body. It must check its inputs before writing anything.
    """
    interrupts.install()
    try:
        main()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted; run it again to resume", file=sys.stderr)
        sys.exit(interrupts.EXIT_CODE)
    except Exception as err:
        fault = machine_fault(err)
        if fault is None:
            raise
        print(f"error: {fault}", file=sys.stderr)
        sys.exit(fault.exit_code)


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


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, with its errors in the one-line form every stage error takes.

    argparse prints its usage and then the error, two lines or more; a DVC
    log should show one: `error: the following arguments are required: --data`.
    The exit code stays argparse's 2, a bad input.
    """

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def path_argument(text: str) -> Path:
    """An argparse `type` for a path flag: any path but an empty one (which means `.`)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path (give the file or folder it names)")
    return Path(text)


def stage_arguments(
    description: str | None, paths: Mapping[str, str], per_model: bool = False
) -> argparse.Namespace:
    """Parse a stage's command line: the model's name, if it runs per model, and its paths.

    Every path is a required flag with no default: dvc.yaml is the one place
    that names the files a stage reads and writes, and passes them here.

    Args:
        description: the stage's docstring, for `--help`.
        paths: each path flag's name (`data` for `--data`, `evaluator_metrics`
            for `--evaluator-metrics`) and its help text.
        per_model: the stage runs once per name in `models` and takes it first.

    Returns:
        `model` (when `per_model`) and one `Path` per flag, under its name.
    """
    parser = OneLineArgumentParser(
        prog=f"python -m {_stage_module()}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if per_model:
        parser.add_argument("model", help="a name listed under `models` in params.yaml")
    for name, help_text in paths.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=path_argument, required=True, metavar="PATH", help=help_text)
    return parser.parse_args()


def _stage_module() -> str:
    """`stages.train` for stages/train.py: the name `python -m` runs, for messages."""
    script = Path(sys.argv[0])
    return f"{script.parent.name}.{script.stem}" if script.suffix == ".py" else script.name


def select_backend(name: str) -> None:
    """Make `name` Keras' backend for this process; Keras reads it once, when first imported.

    Raises:
        PipelineError: Keras is already loaded with another backend (a caller's
            mistake: the stage must choose before importing anything that loads Keras).
    """
    loaded = sys.modules.get("keras")
    if loaded is not None and loaded.backend.backend() != name:
        raise PipelineError(
            f"backend {name!r}: Keras is already loaded with {loaded.backend.backend()!r}"
        )
    os.environ["KERAS_BACKEND"] = name


def global_stage_params(stage: str) -> StageParams:
    """The validated params a stage that runs once (prepare, evaluator, report) reads."""
    return stage_params(load_params(), stage)


def model_stage_params(stage: str, model: str) -> StageParams:
    """The validated params per-model stage `stage` reads for `model`.

    Args:
        stage: the stage's name in `dvc.yaml` (`train`, `evaluate`, `export`).
        model: a name listed under `models` in params.yaml.

    Returns:
        Exactly what the `params` stage writes to `resolved/` for DVC to track.
    """
    return stage_params(load_params(), stage, model)
