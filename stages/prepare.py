"""Stage `prepare`: read the chosen source, split it with the seed, write the prepared data."""

from __future__ import annotations

from pipeline.cli import global_stage_params, quiet_tensorflow_import, run_stage, stage_arguments

PATHS = {
    "raw": "the folder of users' source files the stage depends on: a source's path lies under it",
    "out": "the folder for the prepared shards and info.json (replaced in one step)",
}


def main() -> None:
    args = stage_arguments(__doc__, PATHS)
    stage = global_stage_params("prepare")
    # Imported once the params are valid, so that a mistake fails before TensorFlow loads.
    with quiet_tensorflow_import():
        from pipeline.data.prepare import check_watched, prepare_dataset

    check_watched(stage.prepare.source, args.raw)
    info = prepare_dataset(stage.prepare, seed=stage.seed, out_dir=args.out)
    counts = ", ".join(f"{name} {split.count}" for name, split in info.splits.items())
    domains = f", domains {', '.join(info.domains)}" if info.domains else ""
    print(
        f"prepared {info.source}: {info.examples}, {info.num_classes} classes, {counts}"
        f"{domains}; content {info.content_hash[:12]} -> {args.out}"
    )


if __name__ == "__main__":
    run_stage(main)
