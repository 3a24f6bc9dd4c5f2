"""Stage `export`: write one model's sample grid, interpolation strip and samples.npz.

The files are also logged to a child run of the model's training run, with
the export settings as its params, before they replace exports/<name>/.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import model_stage_params, quiet_tensorflow_import, run_stage
from pipeline.params import flatten

DATA_DIR = Path("data/prepared")


def main() -> None:
    name, stage = model_stage_params("export", __doc__)
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    with quiet_tensorflow_import():
        from pipeline import tracking
        from pipeline.data import verify_prepared
        from pipeline.export import ExportPaths, export_samples

    model_dir = Path("models") / name
    run = tracking.find_run(model_dir / "run.json")

    def log(staged: ExportPaths) -> None:
        settings = flatten(stage.export, prefix="export.")
        with tracking.stage_run(run, "export", settings, verify_prepared(DATA_DIR)):
            tracking.log_artifacts([staged.grid, staged.interpolation, staged.samples])

    paths = export_samples(
        stage.export,
        stage.seed,
        model_dir / "generator.keras",
        Path("exports") / name,
        data_dir=DATA_DIR,
        before_publish=log,
    )
    print(f"{name}: exported {paths.grid}, {paths.interpolation}, {paths.samples}")


if __name__ == "__main__":
    run_stage(main)
