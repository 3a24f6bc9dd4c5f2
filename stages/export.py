"""Stage `export`: write one model's sample grid, interpolation strip and samples.npz."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import model_stage_params, quiet_tensorflow_import, run_stage


def main() -> None:
    name, stage = model_stage_params("export", __doc__)
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    with quiet_tensorflow_import():
        from pipeline.export import ExportPaths, export_samples
        from pipeline.tracking import find_run, log_to_run

    model_dir = Path("models") / name
    run = find_run(model_dir / "run.json")

    def log(staged: ExportPaths) -> None:
        log_to_run(
            run,
            artifacts=[staged.grid, staged.interpolation, staged.samples],
            artifact_dir="export",
        )

    paths = export_samples(
        stage.export,
        stage.seed,
        model_dir / "generator.keras",
        Path("exports") / name,
        data_dir=Path("data/prepared"),
        before_publish=log,
    )
    print(f"{name}: exported {paths.grid}, {paths.interpolation}, {paths.samples}")


if __name__ == "__main__":
    run_stage(main)
