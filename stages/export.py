"""Stage `export`: write one model's sample grid, interpolation strip, samples.npz and formats.

`formats/` holds the generator as a TensorFlow SavedModel and as ONNX (what
`export.formats` lists), each loaded back and compared with the Keras model:
`formats/checks.json` has the largest absolute differences.

With `export.truncation` set, a noise generator's export also writes
truncation.png (an image-to-image one has no latent to truncate: it writes
its three files alone). The files are also logged to a child run of the
model's training run, with the export settings as its params, before they
replace the output folder.
"""

from __future__ import annotations

import argparse

from pipeline.cli import (
    model_stage_params,
    quiet_tensorflow_import,
    run_stage,
    select_backend,
    stage_arguments,
)
from pipeline.data.verify import verify_prepared
from pipeline.locking import model_lock
from pipeline.params import flatten
from pipeline.progress import stage_label, timed_stage
from pipeline.stage_values import ExportStage
from pipeline.task_file import (
    COUPLED_GENERATION,
    GENERATION,
    UNPAIRED_TRANSLATION,
    continuous_codes,
    read_task,
)
from pipeline.tracking.references import read_reference
from pipeline.tracking.store import check_store

PATHS = {
    "data": "the prepared dataset (its info says the image shape and classes)",
    "generator": "the trained generator's .keras file",
    "networks": "the folder of the model's other trained networks (a coupled model's "
    "second generator, whose images are shown beside the generator's)",
    "run": "the run.json naming the model's MLflow training run",
    "task": "the task.json saying what the generator makes: images from noise, or "
    "translations of one prepared domain into another",
    "out": "the folder for grid.png, interpolation.png, samples.npz, formats/ and, if "
    "asked for, truncation.png (replaced in one step)",
    "lock": "the model's lock file, held while this stage runs: a second stage writing "
    "the same model at once is refused",
}


def main() -> None:
    args = stage_arguments(__doc__, PATHS, per_model=True)
    name, stage = args.model, model_stage_params("export", args.model)
    with timed_stage(stage_label("export", name)), model_lock(args.lock, name):
        export(args, name, stage)


def export(args: argparse.Namespace, name: str, stage: ExportStage) -> None:
    """Write the samples, log them to a child run, then put them in place."""
    check_store()  # the store's file, before any work
    # On the backend the model trained on (its run.json says), chosen before Keras loads.
    select_backend(read_reference(args.run)["backend"])
    task = read_task(args.task)
    data = verify_prepared(args.data)  # NumPy alone: a damaged dataset fails in a second
    # Imported once the inputs are valid, so that a mistake fails before TensorFlow loads.
    with quiet_tensorflow_import():
        from pipeline import tracking
        from pipeline.data.pairs import held_out_pairs
        from pipeline.data.unpaired import held_out_unpaired
        from pipeline.export import (
            ExportPaths,
            export_coupled,
            export_samples,
            export_translations,
        )
        from pipeline.formats import check_metrics

    run = tracking.find_run(args.run)

    def log(staged: ExportPaths) -> None:
        settings = flatten(stage.export, prefix="export.")
        with tracking.stage_run(run, "export", settings, data):
            tracking.log_artifacts(staged.written())
            tracking.log_metrics(check_metrics(staged.formats))

    if task["kind"] == GENERATION:
        paths = export_samples(
            stage.export,
            stage.seed,
            args.generator,
            args.out,
            data_dir=args.data,
            before_publish=log,
            continuous_codes=continuous_codes(task),
        )
    elif task["kind"] == COUPLED_GENERATION:
        paths = export_coupled(
            stage.export,
            stage.seed,
            task,
            args.generator,
            args.networks,
            args.out,
            data_dir=args.data,
            before_publish=log,
        )
    else:
        unpaired = task["kind"] == UNPAIRED_TRANSLATION
        held_out = held_out_unpaired if unpaired else held_out_pairs
        inputs, targets = held_out(args.data, task["input"], task["target"])
        paths = export_translations(
            stage.export, args.generator, args.out, inputs, targets, before_publish=log
        )
        if stage.export.truncation:
            # export.truncation is shared by every model: skipped here, not refused.
            print(f"{name}: no truncation.png (an image-to-image generator draws no latent)")
    print(f"{name}: exported {', '.join(map(str, paths.written()))}")


if __name__ == "__main__":
    run_stage(main)
