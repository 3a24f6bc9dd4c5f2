"""Stage `evaluator`: train the domain classifier that scores every generator."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import global_stage_params, quiet_tensorflow_import, run_stage

DATA_DIR = Path("data/prepared")
MODEL_PATH = Path("models/evaluator/classifier.keras")
METRICS_PATH = Path("metrics/evaluator.json")


def main() -> None:
    stage = global_stage_params("evaluator")
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    with quiet_tensorflow_import():
        from pipeline.evaluation.evaluator import fit_evaluator

    metrics = fit_evaluator(stage.evaluator, stage.seed, DATA_DIR, MODEL_PATH, METRICS_PATH)
    print(f"evaluator test accuracy: {metrics['test_accuracy']:.4f}")


if __name__ == "__main__":
    run_stage(main)
