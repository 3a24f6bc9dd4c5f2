"""The checks before training: the data, the batch sizes, the devices, the evaluator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

from pipeline import backend, cluster
from pipeline.data import DatasetInfo, verify_prepared
from pipeline.errors import PipelineError
from pipeline.params import ModelSection
from pipeline.saved_models import load_keras
from pipeline.training.paths import TrainPaths
from pipeline.training.tasks import CoupledGeneration, Generation, Task, task_for

# The tasks whose scores during training include the evaluator's of a noise generator.
SCORED_BY_EVALUATOR = (Generation, CoupledGeneration)


def epoch_steps(steps_per_pass: int, steps_per_execution: int) -> int:
    """An epoch's generator steps: a pass over the data, cut to whole executions.

    Keras runs `steps_per_execution` steps per call even when fewer are left
    in an epoch of an endless stream, so an epoch is the largest multiple of
    it within one pass (the stream carries on where it stopped: no image is
    skipped). Where it divides the pass, epochs are the same as without it.
    """
    return steps_per_pass // steps_per_execution * steps_per_execution


@dataclass(frozen=True)
class TrainingPlan:
    """What `check_training_inputs` found: everything training needs, checked.

    Attributes:
        info: the prepared dataset's info, its shards verified.
        placement: the devices `train.strategy` names (`backend.select_placement`).
        steps_per_epoch: generator steps per pass over the training split.
        num_classes: 0 for an unconditional model, else the dataset's classes.
        scoring: whether training scores the generator every `eval_every` epochs.
        classifier: the evaluator, loaded, when those scores need it.
        task: what the model learns from the data (`pipeline.training.tasks`).
    """

    info: DatasetInfo
    placement: Any
    steps_per_epoch: int
    num_classes: int
    scoring: bool
    classifier: keras.Model | None
    task: Task


def check_training_inputs(params: ModelSection, paths: TrainPaths) -> TrainingPlan:
    """Check the data, the batch sizes and the evaluator before anything is written.

    Raises:
        PipelineError: one line naming the value and what is allowed.
    """
    info = verify_prepared(paths.data_dir)
    num_classes = info.num_classes if params.conditional else 0
    task = task_for(params, info, num_classes)
    train = params.train
    placement = backend.select_placement(train.strategy)
    replicas = placement.num_replicas_in_sync
    if train.batch_size % replicas:
        raise PipelineError(
            f"train.batch_size = {train.batch_size}: must be divisible by the "
            f"{replicas} replicas of the {train.strategy!r} strategy"
        )
    count = info.splits["train"].count
    if isinstance(task, CoupledGeneration):
        count = task.examples_per_pass  # each domain reads its own half
    global_batch = train.examples_per_step
    if global_batch > count:
        raise PipelineError(
            f"{train.examples_per_step_keys} = {global_batch}: larger than the "
            f"{count} training images; make it at most {count}"
        )
    steps_per_pass = count // global_batch
    if train.steps_per_execution > steps_per_pass:
        raise PipelineError(
            f"train.steps_per_execution = {train.steps_per_execution}: more than the "
            f"{steps_per_pass} steps of a pass over the {count} training images; "
            f"make it at most {steps_per_pass}"
        )
    # Scoring during training is the chief's; another worker would only repeat it.
    scoring = bool(train.eval_every) and paths.classifier is not None and cluster.is_chief()
    if scoring and isinstance(task, SCORED_BY_EVALUATOR) and train.eval_samples > count:
        raise PipelineError(
            f"train.eval_samples = {train.eval_samples}: larger than the {count} "
            f"training images it is compared with; use at most {count}"
        )
    # The noise models' scores need the evaluator; a content loss needs it to train.
    needs_classifier = paths.classifier is not None and (
        (scoring and isinstance(task, SCORED_BY_EVALUATOR)) or task.needs_classifier
    )
    classifier = load_keras(paths.classifier, "evaluator") if needs_classifier else None
    return TrainingPlan(
        info=info,
        placement=placement,
        steps_per_epoch=epoch_steps(steps_per_pass, train.steps_per_execution),
        num_classes=num_classes,
        scoring=scoring,
        classifier=classifier,
        task=task,
    )
