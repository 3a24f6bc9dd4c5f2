"""Where one model's training reads and writes: the finished outputs, the state, the attempt."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelFiles:
    """The files one model's training writes, all in `folder`."""

    folder: Path

    @property
    def generator(self) -> Path:
        return self.folder / "generator.keras"

    @property
    def history(self) -> Path:
        return self.folder / "history.csv"

    @property
    def quality(self) -> Path:
        return self.folder / "quality.csv"

    @property
    def samples(self) -> Path:
        return self.folder / "samples"

    @property
    def networks(self) -> Path:
        """The model's other networks, one `.keras` file each: the discriminator, and
        whatever else its evaluation reads (a CycleGAN's inverse generator)."""
        return self.folder / "networks"

    @property
    def task(self) -> Path:
        """A translation model's task (`pipeline.training.tasks`); absent for the others."""
        return self.folder / "task.json"

    @property
    def run_file(self) -> Path:
        return self.folder / "run.json"


@dataclass(frozen=True)
class TrainPaths:
    """Where one model's training reads and writes.

    While training runs, the grids and histories grow in `checkpoint_dir`
    (`live`), beside the resumable state; `out_dir` (`outputs`) is replaced
    in one step when training has succeeded, so a failure or a kill leaves
    the last good outputs there.

    Args:
        data_dir: the prepared dataset.
        out_dir: the stage's outputs (generator, histories, grids, run id).
        checkpoint_dir: resumable state and the outputs in progress, kept
            outside the DVC outputs.
        classifier: the evaluator that scores the generator during training
            (`train.eval_every`); None trains without those scores.
    """

    data_dir: Path
    out_dir: Path
    checkpoint_dir: Path
    classifier: Path | None = None

    def __post_init__(self):
        for name in ("data_dir", "out_dir", "checkpoint_dir", "classifier"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))

    @property
    def outputs(self) -> ModelFiles:
        """The finished outputs."""
        return ModelFiles(self.out_dir)

    @property
    def live(self) -> ModelFiles:
        """The outputs while training runs (no generator or run id yet)."""
        return ModelFiles(self.checkpoint_dir)

    @property
    def state_dir(self) -> Path:
        """The state a resumed run starts from, rewritten after every epoch."""
        return self.checkpoint_dir / "state"

    @property
    def attempt_file(self) -> Path:
        """The MLflow run of the training in progress, saved as soon as the run exists."""
        return self.checkpoint_dir / "run.json"
