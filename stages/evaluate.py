"""Stage `evaluate`: score one model's generator; write metrics/<name>.json and log to its run."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import model_stage_params, quiet_tensorflow_import, run_stage
from pipeline.fileio import write_json


def main() -> None:
    name, stage = model_stage_params("evaluate", __doc__)
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    with quiet_tensorflow_import():
        from pipeline.evaluation.evaluate import evaluate_generator
        from pipeline.tracking import find_run, log_to_run

    model_dir = Path("models") / name
    run = find_run(model_dir / "run.json")
    metrics = evaluate_generator(
        stage.evaluate,
        stage.seed,
        data_dir=Path("data/prepared"),
        generator_path=model_dir / "generator.keras",
        classifier_path=Path("models/evaluator/classifier.keras"),
    )
    log_to_run(run, metrics=metrics)
    # Last, so that a failure above leaves the previous metrics file in place.
    write_json(Path("metrics") / f"{name}.json", metrics)
    print(f"{name}: " + ", ".join(f"{key} {value:.4g}" for key, value in metrics.items()))


if __name__ == "__main__":
    run_stage(main)
