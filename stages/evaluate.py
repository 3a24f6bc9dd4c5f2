"""Stage `evaluate`: score one model's generator; write metrics/<name>.json and log to its run."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import model_stage_params, run_stage
from pipeline.fileio import write_json


def main() -> None:
    name, params = model_stage_params(__doc__)
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    from pipeline.evaluation.evaluate import evaluate_generator
    from pipeline.tracking import log_to_run

    model_dir = Path("models") / name
    metrics = evaluate_generator(
        params.evaluate,
        params.seed,
        data_dir=Path("data/prepared"),
        generator_path=model_dir / "generator.keras",
        classifier_path=Path("models/evaluator/classifier.keras"),
    )
    write_json(Path("metrics") / f"{name}.json", metrics)
    log_to_run(model_dir / "run.json", metrics=metrics)
    print(f"{name}: " + ", ".join(f"{key} {value:.4g}" for key, value in metrics.items()))


if __name__ == "__main__":
    run_stage(main)
