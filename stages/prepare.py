"""Stage `prepare`: read the chosen source, split it with the seed, write `data/prepared`."""

from __future__ import annotations

from pathlib import Path

from pipeline.cli import run_stage
from pipeline.params import load_params

OUT_DIR = Path("data/prepared")


def main() -> None:
    params = load_params()
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    from pipeline.data import prepare_dataset

    info = prepare_dataset(params.prepare, seed=params.seed, out_dir=OUT_DIR)
    counts = ", ".join(f"{name} {split.count}" for name, split in info.splits.items())
    shape = "x".join(str(d) for d in info.image_shape)
    print(
        f"prepared {info.source}: {shape} images, {info.num_classes} classes, {counts}; "
        f"content {info.content_hash[:12]} -> {OUT_DIR}"
    )


if __name__ == "__main__":
    run_stage(main)
