"""Stage `evaluator`: train the domain classifier that scores every generator."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import run_stage
from pipeline.fileio import write_json
from pipeline.params import load_params

DATA_DIR = Path("data/prepared")
MODEL_PATH = Path("models/evaluator/classifier.keras")
METRICS_PATH = Path("metrics/evaluator.json")


def main() -> None:
    params = load_params()
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    from pipeline.evaluation.evaluator import fit_evaluator

    metrics = fit_evaluator(params.evaluator, params.seed, DATA_DIR, MODEL_PATH)
    write_json(METRICS_PATH, metrics)
    print(f"evaluator test accuracy: {metrics['test_accuracy']:.4f}")


if __name__ == "__main__":
    run_stage(main)
