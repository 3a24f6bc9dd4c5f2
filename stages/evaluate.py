"""Stage `evaluate`: score one model's generator; write its metrics and log them to MLflow.

Writes the full metrics file (every metric beside its floor, and the sample
sizes) and the headline one (the few numbers compared first). The scores go
to a child run of the model's training run, with the evaluation settings as
its params, and to the training run and its logged model, which keep their
own duration.
"""

from __future__ import annotations

import argparse

from pipeline.cli import (
    model_stage_params,
    quiet_tensorflow_import,
    run_stage,
    select_backend,
    stage_arguments,
)
from pipeline.data.verify import verify_prepared
from pipeline.fileio import write_json
from pipeline.locking import model_lock
from pipeline.params import flatten
from pipeline.progress import stage_label, timed_stage
from pipeline.stage_values import EvaluateStage
from pipeline.task_file import read_task
from pipeline.tracking.references import read_reference
from pipeline.tracking.store import check_store

PATHS = {
    "data": "the prepared dataset: the real images the samples are compared with",
    "classifier": "the evaluator's .keras file",
    "generator": "the trained generator's .keras file",
    "networks": "the folder of the model's other trained networks (an unpaired model's "
    "inverse generator, which its cycle error needs; a coupled model's second generator, "
    "which its pixel agreement needs)",
    "run": "the run.json naming the model's MLflow training run",
    "task": "the task.json saying what the generator makes: images from noise, or "
    "translations of one prepared domain into another",
    "metrics": "the JSON file for every metric beside its floor",
    "headline": "the JSON file for the headline metrics (what `dvc metrics show` lists)",
    "lock": "the model's lock file, held while this stage runs: a second stage writing "
    "the same model at once is refused",
}


def main() -> None:
    args = stage_arguments(__doc__, PATHS, per_model=True)
    name, stage = args.model, model_stage_params("evaluate", args.model)
    with timed_stage(stage_label("evaluate", name)), model_lock(args.lock, name):
        evaluate(args, name, stage)


def evaluate(args: argparse.Namespace, name: str, stage: EvaluateStage) -> None:
    """Score the generator; write the metrics files last, once the record is logged."""
    check_store()  # the store's file, before any work
    # On the backend the model trained on (its run.json says), chosen before Keras loads.
    select_backend(read_reference(args.run)["backend"])
    task = read_task(args.task)
    data = verify_prepared(args.data)  # NumPy alone: a damaged dataset fails in a second
    # Imported once the inputs are valid, so that a mistake fails before TensorFlow loads.
    with quiet_tensorflow_import():
        from pipeline import tracking
        from pipeline.evaluation.by_task import ModelFiles, evaluate_model
        from pipeline.evaluation.evaluate import headline
        from pipeline.evaluation.suite import measurements

    run = tracking.find_run(args.run)
    files = ModelFiles(args.data, args.generator, args.networks, args.classifier)
    metrics = evaluate_model(stage.evaluate, stage.seed, task, files, stage.evaluator)
    settings = flatten(stage.evaluate, prefix="evaluate.")
    with tracking.stage_run(run, "evaluate", settings, data):
        tracking.log_final_metrics(run, measurements(metrics))
        tracking.tag_model_version(run, headline(metrics))
    # Last, so that a failure above leaves the previous metrics files in place.
    write_json(args.metrics, metrics)
    write_json(args.headline, headline(metrics))
    print(f"{name}: " + ", ".join(f"{key} {value:.4g}" for key, value in metrics.items()))


if __name__ == "__main__":
    run_stage(main)
