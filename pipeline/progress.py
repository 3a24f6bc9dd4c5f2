"""What a person sees while a stage runs: Keras' verbosity, the stage's label, durations.

A library concern, so no library module imports the CLI. Plain Python, no
Keras: stage scripts import it before TensorFlow loads. The per-epoch line
of a training is `pipeline.epoch_progress`, a Keras callback built on this.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def progress_verbosity() -> int:
    """Keras `verbose` for a `fit` that prints no line of its own (the evaluator's).

    The progress bar on a terminal, Keras' line per epoch in a log: a progress
    bar redraws itself with carriage returns, which turn a DVC log or a CI log
    into one unreadable line per step.
    """
    return 1 if sys.stdout.isatty() else 2


def line_verbosity() -> int:
    """Keras `verbose` for a `fit` that prints its own line per epoch (`EpochProgress`).

    The progress bar on a terminal, where it shows the epoch's steps and the
    line follows it; nothing in a log, where the line (which then carries the
    losses) is the only one per epoch.
    """
    return 1 if sys.stdout.isatty() else 0


def stage_label(stage: str, model: str | None = None, models: Sequence[str] | None = None) -> str:
    """`train@cgan (model 2 of 4)`: DVC's name for the stage, and the model's place in `models`.

    The place is for display only: it is read from the whole params file at
    run time, never from the stage's tracked values, so that adding or
    removing a model makes no other model's stage stale. DVC runs the models'
    stages in the order of `models`, so it is also how far `dvc repro` has come.

    Args:
        stage: the stage's name in dvc.yaml (`train`).
        model: the model a per-model stage runs for, or None.
        models: params.yaml's `models`; without it (or without the model in
            it), the label is the stage's name alone.
    """
    if model is None:
        return stage
    label = f"{stage}@{model}"
    if models and model in models:
        label += f" (model {list(models).index(model) + 1} of {len(models)})"
    return label


def duration_text(seconds: float) -> str:
    """A duration as a person reads it: `0.42 s`, `2.1 s`, `35 s`, `6 min 35 s`, `2 h 05 min`."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


@contextmanager
def timed_stage(label: str) -> Iterator[None]:
    """Print `<label>: finished in <duration>` when the block ends without an error.

    DVC already prints which stage starts; how long each took is what its log
    lacks. A failure prints nothing here: the stage's one-line error says it.
    """
    start = time.monotonic()
    yield
    print(f"{label}: finished in {duration_text(time.monotonic() - start)}", flush=True)
