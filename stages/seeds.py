"""Stage `seeds`: train and score one model again with each of params.yaml's `seeds`.

Writes each seed's training outputs and every seed's scores (the `train`
stage's own seed first) to the output folder, and each metric's mean and
standard deviation over the seeds to the summary (a DVC metrics file). With
no extra seeds it writes the one seed's scores and their summary, in a
fraction of a second. `pipeline/seeds.py` says how a kill is resumed.
"""

from __future__ import annotations

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
    "data": "the prepared dataset to train on and score against",
    "classifier": "the evaluator's .keras file",
    "metrics": "the train stage's model's full metrics file: the first seed's scores",
    "run": "the run.json naming the model's MLflow training run",
    "out": "the folder for each seed's training outputs and every seed's scores "
    "(replaced in one step)",
    "checkpoints": "the folder for finished seeds and trainings in progress, outside "
    "DVC's outputs (deleted once the outputs are published)",
    "summary": "the JSON file for each metric's mean and standard deviation over the seeds",
    "lock": "the model's lock file, held while this stage runs: a second stage writing "
    "the same model at once is refused",
}


def main() -> None:
    args = stage_arguments(__doc__, PATHS, per_model=True)
    stage = model_stage_params("seeds", args.model)
    label = stage_label("seeds", args.model, load_params().models)
    with timed_stage(label), model_lock(args.lock, args.model):
        check_store()  # the store's file, before any work
        select_backend(stage.train.model.train.backend)
        verify_prepared(args.data)  # NumPy alone: a damaged dataset fails in a second
        # Imported once the inputs are valid, so that a mistake fails before TensorFlow loads.
        with quiet_tensorflow_import():
            from pipeline.seeds import SeedsPaths, run_seeds

            if stage.seeds:  # what their trainings load (TensorFlow's notices kept off stderr)
                import pipeline.evaluation.by_task
                import pipeline.training.tracked  # noqa: F401

        paths = SeedsPaths(
            data_dir=args.data,
            classifier=args.classifier,
            primary_metrics=args.metrics,
            primary_run=args.run,
            out_dir=args.out,
            staging=args.checkpoints,
            summary=args.summary,
        )
        summary = run_seeds(stage, args.model, paths, progress=label)
        print(f"{args.model}: scores over seeds {', '.join(map(str, summary['seeds']))}")


if __name__ == "__main__":
    run_stage(main)
