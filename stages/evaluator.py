"""Stage `evaluator`: train the domain classifier that scores every generator."""

from __future__ import annotations

from pipeline.cli import global_stage_params, quiet_tensorflow_import, run_stage, stage_arguments
from pipeline.data.verify import verify_prepared
from pipeline.progress import timed_stage

PATHS = {
    "data": "the prepared dataset to train and test on",
    "out": "the .keras file for the trained classifier",
    "metrics": "the JSON file for its test metrics",
}


def main() -> None:
    args = stage_arguments(__doc__, PATHS)
    stage = global_stage_params("evaluator")
    with timed_stage("evaluator"):
        verify_prepared(args.data)  # NumPy alone: a damaged dataset fails in a second
        # Imported once the inputs are valid, so that a mistake fails before TensorFlow loads.
        with quiet_tensorflow_import():
            from pipeline.evaluation.evaluator import fit_evaluator

        metrics = fit_evaluator(stage.evaluator, stage.seed, args.data, args.out, args.metrics)
        print(f"evaluator test accuracy: {metrics['test_accuracy']:.4f}")


if __name__ == "__main__":
    run_stage(main)
