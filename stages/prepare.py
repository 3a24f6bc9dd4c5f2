"""Stage `prepare`: read the chosen source, split it with the seed, write `data/prepared`."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import global_stage_params, quiet_tensorflow_import, run_stage

OUT_DIR = Path("data/prepared")


def main() -> None:
    stage = global_stage_params("prepare")
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    with quiet_tensorflow_import():
        from pipeline.data.prepare import prepare_dataset

    info = prepare_dataset(stage.prepare, seed=stage.seed, out_dir=OUT_DIR)
    counts = ", ".join(f"{name} {split.count}" for name, split in info.splits.items())
    shape = "x".join(str(d) for d in info.image_shape)
    print(
        f"prepared {info.source}: {shape} images, {info.num_classes} classes, {counts}; "
        f"content {info.content_hash[:12]} -> {OUT_DIR}"
    )


if __name__ == "__main__":
    run_stage(main)
