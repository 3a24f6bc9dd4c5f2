"""Training callbacks: sample grids, histories, the checkpoint, the stops (divergence, signal)."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from pipeline.errors import RunFailed
from pipeline.fileio import atomic_dir, atomic_file, read_json, recover_dir
from pipeline.images import save_png
from pipeline.interrupts import raise_if_requested

ImageSink = Callable[[np.ndarray, int], None]
MetricSink = Callable[[dict[str, float], int], None]


def grid_name(epoch: int) -> str:
    """File name of the sample grid after `epoch` completed epochs."""
    return f"epoch_{epoch:03d}.png"


class SampleGrid(keras.callbacks.Callback):
    """Draw the generator's output for fixed inputs, before training and after each epoch.

    Every grid goes to `on_grid` (MLflow, with its step slider); a PNG file
    is kept every `save_every` epochs and after the last, so the DVC plots
    page stays small, and goes to `on_file` (MLflow's artifacts, where its
    name is readable, unlike the image chart's files). Grids are named by
    completed epochs: `epoch_000.png` is the untrained generator, so progress
    can be watched from the start.

    Args:
        draw: makes the grid (uint8) from the generator; its inputs are
            fixed, so the grids show one set of inputs as training goes
            (`pipeline.training.tasks`).
        out_dir: folder for the PNG files.
        initial_epoch: the epoch training starts (or resumes) from.
        on_grid: optional sink called with (grid, epoch), e.g. MLflow.
        save_every: epochs between two PNG files (1: every epoch).
        on_file: optional sink called with each PNG file's path once written.
    """

    def __init__(
        self,
        draw: Callable[[keras.Model], np.ndarray],
        out_dir: str | Path,
        initial_epoch: int = 0,
        on_grid: ImageSink | None = None,
        save_every: int = 1,
        on_file: Callable[[Path], None] | None = None,
    ):
        super().__init__()
        self.draw = draw
        self.out_dir = Path(out_dir)
        self.initial_epoch = initial_epoch
        self.on_grid = on_grid
        self.save_every = save_every
        self.on_file = on_file

    def on_train_begin(self, logs=None):
        if self.initial_epoch == 0:
            self._draw(0)

    def on_epoch_end(self, epoch, logs=None):
        self._draw(epoch + 1)

    def _draw(self, epoch: int) -> None:
        grid = self.draw(self.model.generator)
        if epoch % self.save_every == 0 or epoch == self.params["epochs"]:
            path = self.out_dir / grid_name(epoch)
            save_png(grid, path)
            if self.on_file is not None:
                self.on_file(path)
        if self.on_grid is not None:
            self.on_grid(grid, epoch)


class InstanceNoiseSchedule(keras.callbacks.Callback):
    """Anneal the std of the noise on D's inputs linearly, from `initial_std` to 0.

    Set from the epoch number alone, so a resumed run continues the schedule.

    Args:
        initial_std: the std during the first epoch.
        epochs: the run's length; the last epoch's std is initial_std / epochs.
    """

    def __init__(self, initial_std: float, epochs: int):
        super().__init__()
        self.initial_std = initial_std
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None):
        self.model.instance_noise_std.assign(self.initial_std * (1.0 - epoch / self.epochs))


def in_model_order(model: keras.Model, logs: dict[str, Any] | None) -> dict[str, float]:
    """An epoch's logs as floats, in the model's metric order (losses first), not by name."""
    logs = logs or {}
    names = [m.name for m in model.metrics if m.name in logs]
    names += sorted(set(logs) - set(names))
    return {name: float(logs[name]) for name in names}


class HistoryFile(keras.callbacks.Callback):
    """Write one CSV row per epoch (a DVC plot) and pass the row to `on_metrics`.

    Args:
        path: the CSV file, rewritten atomically after every row.
        rows: rows of earlier epochs, when resuming.
        on_metrics: optional sink called with (metrics, epoch), e.g. MLflow.
    """

    def __init__(
        self,
        path: str | Path,
        rows: list[dict[str, float]] | None = None,
        on_metrics: MetricSink | None = None,
    ):
        super().__init__()
        self.path = Path(path)
        self.rows = list(rows or [])
        self.on_metrics = on_metrics

    def on_epoch_end(self, epoch, logs=None):
        self.record(epoch + 1, in_model_order(self.model, logs))

    def record(self, epoch: int, metrics: dict[str, float]) -> None:
        """Append the row of `epoch` completed epochs, rewrite the file, and pass it on."""
        self.rows.append({"epoch": epoch, **metrics})
        write_csv(self.path, self.rows)
        if self.on_metrics is not None:
            self.on_metrics(metrics, epoch)


class QualityHistory(HistoryFile):
    """Score the generator every `every` epochs and write the scores as a history file.

    Scores the untrained generator too (epoch 0), and always the last epoch,
    so the curve spans the whole run.

    Args:
        path: the CSV file.
        score: maps the generator to its metrics, which become the file's
            columns (see `pipeline.evaluation.evaluate.training_scorer`: the
            registry's cheap metrics, so no column is named here).
        every: epochs between two scores.
        initial_epoch: the epoch training starts (or resumes) from.
        rows: rows of earlier epochs, when resuming.
        on_metrics: optional sink called with (metrics, epoch), e.g. MLflow.
    """

    def __init__(
        self,
        path: str | Path,
        score: Callable[[keras.Model], dict[str, float]],
        every: int,
        initial_epoch: int = 0,
        rows: list[dict[str, float]] | None = None,
        on_metrics: MetricSink | None = None,
    ):
        super().__init__(path, rows, on_metrics)
        self.score = score
        self.every = every
        self.initial_epoch = initial_epoch

    def on_train_begin(self, logs=None):
        if self.initial_epoch == 0:
            self.record(0, self.score(self.model.generator))

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every == 0 or done == self.params["epochs"]:
            scores = self.score(self.model.generator)
            self.record(done, scores)
            if logs is not None:
                # Keras prints the epoch's line after every callback has run on
                # these logs, so the scores appear in it (losses file and
                # checkpoint rows come before and do not see them).
                logs.update(scores)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write dict rows as CSV, atomically."""
    with atomic_file(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


class TrainingCheckpoint(keras.callbacks.Callback):
    """Save everything needed to resume bit-for-bit after every epoch.

    Keras' `BackupAndRestore` keeps weights and optimizer state but not the
    noise generator's state or the data order, so a resumed GAN drifts from
    an uninterrupted one. This checkpoint stores every model and optimizer
    variable (the `SeedGenerator` state included), and the data order is
    fixed by the seed (see `training_batches` in `pipeline.backend`). It also keeps
    the history rows. The sample
    grids need no copy: they grow beside the checkpoint, outside the DVC
    outputs, and a resumed run redraws any grid newer than its checkpoint
    exactly as it was.

    A checkpoint is used only when its fingerprint (params, seed, data hash)
    matches, and it is deleted once training completes.

    Args:
        directory: where the checkpoint lives, outside the DVC outputs;
            replaced in one step after every epoch.
        fingerprint: identifies the training run the checkpoint belongs to.
        histories: the `HistoryFile`s whose rows to save, by name.
    """

    def __init__(
        self,
        directory: str | Path,
        fingerprint: str,
        histories: dict[str, HistoryFile],
    ):
        super().__init__()
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.histories = histories

    def on_epoch_end(self, epoch, logs=None):
        with atomic_dir(self.directory) as tmp:
            values = {
                f"v{i}": keras.ops.convert_to_numpy(v)
                for i, v in enumerate(state_variables(self.model))
            }
            np.savez(tmp / "variables.npz", **values)
            state = {
                "fingerprint": self.fingerprint,
                "epoch": epoch + 1,
                "histories": {name: h.rows for name, h in self.histories.items()},
            }
            (tmp / "state.json").write_text(json.dumps(state, indent=2))


class StopWhenRequested(keras.callbacks.Callback):
    """End training within a batch of a Ctrl-C or SIGTERM that some library swallowed.

    See `pipeline.interrupts`: the signal's exception can be lost in a
    finaliser, but the request is not.
    """

    def on_train_batch_end(self, batch, logs=None):
        raise_if_requested()


class StopOnDivergence(keras.callbacks.Callback):
    """Stop training with one line once a loss or a weight is NaN or infinite.

    A diverged GAN keeps running and its NaN samples score deceptively well
    (a NaN image sits inside every k-NN ball), so the first non-finite epoch
    ends the run: nothing after it is saved, and the checkpoint keeps the
    last good epoch. Put it first, so no other callback sees that epoch.

    Args:
        name: the model's name, for the message.
    """

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def on_epoch_end(self, epoch, logs=None):
        logs = in_model_order(self.model, logs)
        losses = ", ".join(f"{key} {value:.4g}" for key, value in logs.items())
        bad_logs = [key for key, value in logs.items() if not np.isfinite(value)]
        bad_weights = [
            network.name
            for network in (self.model.generator, self.model.discriminator)
            if not all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in network.weights)
        ]
        if logs.get("skipped_d_steps", 0.0) >= 1.0:
            # float16 loss scaling skipped every D update: nothing was learnt.
            bad_logs.append("every discriminator update (float16 overflow)")
        if bad_logs or bad_weights:
            found = ", ".join([*bad_logs, *(f"{n} weights" for n in bad_weights)])
            raise RunFailed(
                f"{self.name}: training diverged in epoch {epoch + 1} ({losses}): "
                f"{found} not finite; nothing of this epoch was saved. "
                "Lower the learning rates or change the model, then run again"
            )


def state_variables(model: keras.Model) -> list[keras.Variable]:
    """Every variable a resumed run needs: the model's and both optimizers'."""
    return [*model.variables, *model.d_optimizer.variables, *model.g_optimizer.variables]


def checkpoint_state(directory: str | Path, fingerprint: str) -> dict[str, Any] | None:
    """The saved state (epoch, histories) of a checkpoint of this run, if any."""
    recover_dir(directory)  # a kill during the last save may have left it aside
    try:
        state = read_json(Path(directory) / "state.json")
    except (OSError, ValueError):
        return None
    return state if state.get("fingerprint") == fingerprint else None


def restore_checkpoint(
    directory: str | Path, fingerprint: str, model: keras.Model
) -> dict[str, Any] | None:
    """Load a matching checkpoint into `model`.

    Args:
        directory: the checkpoint folder written by `TrainingCheckpoint`.
        fingerprint: the current run's fingerprint; another one is ignored.
        model: a built, compiled model whose optimizers are built.

    Returns:
        The saved state (epoch, histories), or None when there is no
        usable checkpoint.
    """
    directory = Path(directory)
    state = checkpoint_state(directory, fingerprint)
    if state is None:
        return None
    try:
        saved = np.load(directory / "variables.npz")
    except (OSError, ValueError):
        return None
    variables = state_variables(model)
    if len(saved.files) != len(variables):
        return None
    for i, variable in enumerate(variables):
        variable.assign(saved[f"v{i}"])
    return state


def fingerprint_of(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()
