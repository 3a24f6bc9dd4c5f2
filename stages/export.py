"""Stage `export`: write one model's sample grid, interpolation strip and samples.npz."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import model_stage_params, run_stage


def main() -> None:
    name, params = model_stage_params(__doc__)
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    from pipeline.data import load_info
    from pipeline.export import export_samples
    from pipeline.tracking import log_to_run

    model_dir = Path("models") / name
    paths = export_samples(
        params.export,
        params.seed,
        model_dir / "generator.keras",
        Path("exports") / name,
        num_classes=load_info("data/prepared").num_classes,
    )
    log_to_run(
        model_dir / "run.json",
        artifacts=[paths.grid, paths.interpolation, paths.samples],
        artifact_dir="export",
    )
    print(f"{name}: exported {paths.grid}, {paths.interpolation}, {paths.samples}")


if __name__ == "__main__":
    run_stage(main)
