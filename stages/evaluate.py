"""Stage `evaluate`: score one model's generator; write its metrics and log them to MLflow.

Writes metrics/<name>.json (every metric beside its floor, and the sample
sizes) and metrics/headline/<name>.json (the few numbers compared first).
The scores go to a child run of the model's training run, with the
evaluation settings as its params, and to the training run and its logged
model, which keep their own duration.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import model_stage_params, quiet_tensorflow_import, run_stage
from pipeline.fileio import write_json
from pipeline.params import flatten

DATA_DIR = Path("data/prepared")


def main() -> None:
    name, stage = model_stage_params("evaluate", __doc__)
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    with quiet_tensorflow_import():
        from pipeline import tracking
        from pipeline.data import verify_prepared
        from pipeline.evaluation.evaluate import evaluate_generator, headline, measurements

    model_dir = Path("models") / name
    run = tracking.find_run(model_dir / "run.json")
    metrics = evaluate_generator(
        stage.evaluate,
        stage.seed,
        data_dir=DATA_DIR,
        generator_path=model_dir / "generator.keras",
        classifier_path=Path("models/evaluator/classifier.keras"),
    )
    settings = flatten(stage.evaluate, prefix="evaluate.")
    with tracking.stage_run(run, "evaluate", settings, verify_prepared(DATA_DIR)):
        tracking.log_final_metrics(run, measurements(metrics))
    # Last, so that a failure above leaves the previous metrics files in place.
    write_json(Path("metrics") / f"{name}.json", metrics)
    write_json(Path("metrics/headline") / f"{name}.json", headline(metrics))
    print(f"{name}: " + ", ".join(f"{key} {value:.4g}" for key, value in metrics.items()))


if __name__ == "__main__":
    run_stage(main)
