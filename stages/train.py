"""Stage `train`: fit one model and write models/<name>/ (generator, histories, grids, run id)."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import model_stage_params, quiet_tensorflow_import, run_stage


def main() -> None:
    name, stage = model_stage_params("train", __doc__)
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    with quiet_tensorflow_import():
        from pipeline.training import TrainPaths, train_model

    paths = TrainPaths(
        data_dir=Path("data/prepared"),
        out_dir=Path("models") / name,
        checkpoint_dir=Path("checkpoints") / name,
        classifier=Path("models/evaluator/classifier.keras"),
    )
    run_id = train_model(stage, name, paths)
    print(f"trained {name}: {paths.outputs.generator} (MLflow run {run_id})")


if __name__ == "__main__":
    run_stage(main)
