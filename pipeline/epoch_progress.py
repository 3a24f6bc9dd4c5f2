"""The line a training prints per epoch: which model, epoch N of M, about how long is left."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

import keras

from pipeline.callbacks import in_model_order
from pipeline.progress import duration_text


def seconds_per_epoch(seconds: Sequence[float]) -> float:
    """The mean of the epochs measured, the first left out once there are others.

    The first epoch a process runs also traces and compiles the step, which
    the epochs still to run will not.
    """
    counted = seconds[1:] or seconds
    return sum(counted) / len(counted)


def epoch_line(
    label: str,
    epoch: int,
    epochs: int,
    per_epoch: float,
    metrics: Mapping[str, float] | None = None,
) -> str:
    """`train@gan (model 1 of 4): epoch 12/200, 2.1 s/epoch, about 6 min 35 s left`.

    Args:
        label: who is training (`pipeline.progress.stage_label`).
        epoch: epochs completed, counted from the start of training, not of this process.
        epochs: the epochs training runs in all.
        per_epoch: the seconds an epoch takes (`seconds_per_epoch`).
        metrics: the epoch's losses and scores, appended when given.
    """
    if epoch >= epochs:
        left = "done"
    else:
        left = f"about {duration_text(per_epoch * (epochs - epoch))} left"
    line = f"{label}: epoch {epoch}/{epochs}, {duration_text(per_epoch)}/epoch, {left}"
    if metrics:
        line += "; " + ", ".join(f"{key} {value:.4g}" for key, value in metrics.items())
    return line


class EpochProgress(keras.callbacks.Callback):
    """Print one plain line after each epoch (`epoch_line`), flushed, with no carriage return.

    The time left comes from the epochs this process has run, so a resumed
    training (which starts at epoch k) estimates from its own epochs, not
    from k. An epoch's time runs from the end of the one before (or of the
    other callbacks' start of training): put this callback last, so that it
    counts every other callback's work (grids, scores, the checkpoint) and
    sees the scores `QualityHistory` adds to the logs. When Keras prints
    nothing itself (`verbose` 0, as in a log) the line ends with the epoch's
    losses and scores; otherwise Keras' own output shows them.

    Args:
        label: who is training, e.g. `train@gan (model 1 of 4)`.
        stream: where the lines go; standard output by default (where Keras prints).
    """

    def __init__(self, label: str, stream: TextIO | None = None):
        super().__init__()
        self.label = label
        self.stream = stream
        self.seconds: list[float] = []
        self._last = 0.0

    def on_train_begin(self, logs=None):
        self.seconds = []
        self._last = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        self.seconds.append(now - self._last)
        self._last = now
        metrics = in_model_order(self.model, logs) if self.params.get("verbose") == 0 else None
        line = epoch_line(
            self.label, epoch + 1, self.params["epochs"], seconds_per_epoch(self.seconds), metrics
        )
        print(line, file=self.stream or sys.stdout, flush=True)


def progress_callbacks(label: str, verbose: int) -> list[keras.callbacks.Callback]:
    """The per-epoch line, after Keras' progress bar when `verbose` asks for one: put them last.

    Keras appends its own bar after every callback it is given, so its last
    redraw of an epoch would come after the line and run into it; given
    here, the bar finishes its epoch first.
    """
    line = EpochProgress(label)
    if verbose == 0:
        return [line]
    bar = keras.callbacks.ProgbarLogger()
    # Keras updates its own bar from a thread where the backend allows it
    # (JAX), so as not to wait for each step; a bar passed in is updated on
    # the training thread unless it says it is safe, which it is.
    bar.async_safe = True
    return [bar, line]
