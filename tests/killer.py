"""Run a stage script and SIGKILL it at a named point: `python tests/killer.py POINT STAGE ARGS...`.

The kill is real (no cleanup, no `finally`, no atexit), only its moment is
chosen, by wrapping one function the stage calls. Production code has no hook.
One point sends SIGTERM instead, at the moment that once let a stopped
training run on: while a finaliser runs.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import time
from collections.abc import Callable


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def sigterm_inside_a_finaliser() -> None:
    """SIGTERM this process while an object's `__del__` runs: Python swallows the exception."""

    class Finaliser:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.01)  # the handler runs here, inside __del__

    Finaliser()  # collected at once


def wrap(owner: object, name: str, before: Callable[..., bool] | None = None, after: bool = False):
    """Replace `owner.name` by a function that dies before it (when `before` says so) or after."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if before is not None and before(*args, **kwargs):
            die()
        result = original(*args, **kwargs)
        if after:
            die()
        return result

    setattr(owner, name, wrapper)


def arm(point: str) -> None:
    from pipeline import callbacks

    if point == "before_first_checkpoint":
        # The run exists and step 0's grid and scores are logged; no checkpoint yet.
        wrap(callbacks.SampleGrid, "on_train_begin", after=True)
    elif point == "between_metrics_and_checkpoint":
        # Epoch 2's metrics and grid are logged; the checkpoint still holds epoch 1.
        def second_epoch(self, epoch, *args) -> bool:
            return epoch == 1

        wrap(callbacks.TrainingCheckpoint, "on_epoch_end", before=second_epoch)
    elif point == "sigterm_in_a_finaliser":
        # After this process's first checkpoint; Python reports the exception as "ignored".
        original = callbacks.TrainingCheckpoint.on_epoch_end

        def checkpoint_then_signal(self, *args, **kwargs):
            original(self, *args, **kwargs)
            sigterm_inside_a_finaliser()

        callbacks.TrainingCheckpoint.on_epoch_end = checkpoint_then_signal
    elif point == "during_model_logging":
        # The logged model exists (PENDING), its files are not uploaded.
        from mlflow import MlflowClient

        wrap(MlflowClient, "log_model_artifacts", before=lambda *a, **k: True)
    elif point == "before_the_run_ends":
        # Outputs published, run still RUNNING, checkpoint still there.
        import mlflow

        wrap(mlflow, "end_run", before=lambda status="FINISHED": status == "FINISHED")
    elif point == "during_stage_logging":
        # evaluate or export: its child run is open, its outputs not yet replaced.
        from pipeline.tracking import record

        wrap(record, "log_dataset", before=lambda *a, context="training": context != "training")
    elif point == "before_the_second_seed":
        # The seeds stage: the first extra seed trained and scored, the second not begun.
        from pipeline.training import tracked

        calls: list[int] = []

        def second(*args, **kwargs) -> bool:
            calls.append(1)
            return len(calls) == 2

        wrap(tracked, "train_model", before=second)
    elif point == "before_the_swap":
        # A new output folder is complete beside the old one, not yet in its place.
        from pipeline import fileio

        wrap(fileio, "_move_into_place", before=lambda *a: True)
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    point, stage, *args = sys.argv[1:]
    arm(point)
    sys.argv = [f"stages/{stage}.py", *args]
    runpy.run_module(f"stages.{stage}", run_name="__main__", alter_sys=True)
