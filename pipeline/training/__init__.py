"""Build, fit and save a GAN: seeded, resumable, the same code on one device or several.

One module a job: `paths` (where a training reads and writes), `model`
(a compiled model from its params), `plan` (the checks before training),
`session` (the one training sequence, with `Hooks` for what a caller adds),
`tracked` (that sequence inside its MLflow run: the stage's entry point),
`worker` (a multi-worker training's other workers). Everything that
differs between Keras backends is in `pipeline.backend`.
"""

from __future__ import annotations

from pipeline.training.model import build_model, inner_optimizer, make_optimizer
from pipeline.training.paths import ModelFiles, TrainPaths
from pipeline.training.plan import TrainingPlan, check_training_inputs, epoch_steps
from pipeline.training.session import Hooks, fit_model, run_training
from pipeline.training.tracked import device_tags, train_model

__all__ = [
    "Hooks",
    "ModelFiles",
    "TrainPaths",
    "TrainingPlan",
    "build_model",
    "check_training_inputs",
    "device_tags",
    "epoch_steps",
    "fit_model",
    "inner_optimizer",
    "make_optimizer",
    "run_training",
    "train_model",
]
