"""Stage `train`: fit one model and publish its folder (generator, histories, grids, run id)."""

from __future__ import annotations

from contextlib import nullcontext

from pipeline import cluster
from pipeline.cli import (
    model_stage_params,
    quiet_tensorflow_import,
    run_stage,
    select_backend,
    stage_arguments,
)
from pipeline.data.verify import verify_prepared
from pipeline.locking import model_lock
from pipeline.params import load_params
from pipeline.progress import stage_label, timed_stage
from pipeline.tracking.store import check_store

PATHS = {
    "data": "the prepared dataset to train on",
    "classifier": "the evaluator's .keras file, which scores the generator during training",
    "out": "the folder to publish: generator.keras, history.csv, quality.csv, samples/, "
    "run.json (replaced in one step once training has succeeded)",
    "checkpoints": "the folder for the resumable state and the outputs in progress, "
    "outside DVC's outputs (deleted once training has succeeded)",
    "lock": "the model's lock file, held while this stage runs: a second stage writing "
    "the same model at once is refused",
}


def main() -> None:
    args = stage_arguments(__doc__, PATHS, per_model=True)
    stage = model_stage_params("train", args.model)
    # "model 2 of 4", for the progress lines only: read from the whole file at
    # run time, not from the stage's tracked values, so that adding or removing
    # a model makes no other model's training stale.
    label = stage_label("train", args.model, load_params().models)
    # Only the chief writes the model; a multi-worker training's other workers
    # run the same command, in folders of their own.
    lock = model_lock(args.lock, args.model) if cluster.is_chief() else nullcontext()
    with timed_stage(label), lock:
        check_store()  # the store's file, before any work
        select_backend(stage.model.train.backend)
        verify_prepared(args.data)  # NumPy alone: a damaged dataset fails in a second
        # Imported once the inputs are valid, so that a mistake fails before TensorFlow loads.
        with quiet_tensorflow_import():
            from pipeline.training.paths import TrainPaths
            from pipeline.training.tracked import train_model

        paths = TrainPaths(
            data_dir=args.data,
            out_dir=args.out,
            checkpoint_dir=args.checkpoints,
            classifier=args.classifier,
        )
        run_id = train_model(stage, args.model, paths, progress=label)
        if run_id:
            print(f"{args.model}: training done, {paths.outputs.generator} (MLflow run {run_id})")
        else:
            print(f"{args.model}: training done as a non-chief worker; the chief wrote the outputs")


if __name__ == "__main__":
    run_stage(main)
