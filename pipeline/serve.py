"""Serve a logged generator over HTTP: `python -m pipeline.serve MODEL [OPTIONS]`.

MODEL is what `pipeline.generate` takes: a model name of params.yaml (its
registered model's newest version), `models:/<name>/<version or latest>`,
`models:/<model_id>`, `runs:/<run_id>/<name>`, or an MLflow model folder.
OPTIONS go to `mlflow models serve` as they are (`-p 5001`, `-h 0.0.0.0`).

Why not `mlflow models serve -m models:/...` itself: the project's store
records artifacts as `mlflow-artifacts:/` URIs, which the stock CLI resolves
only through a tracking server. This command downloads the model from the
store's folder (`pipeline.tracking.store`), then runs `mlflow models serve
-m <that folder> --env-manager local` until it is stopped; the folder is
removed afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.cli import quiet_tensorflow_import, run_stage
from pipeline.generation.models import mlflow_model_folder, model_source, registered_source

USAGE = "usage: python -m pipeline.serve MODEL [mlflow models serve options, e.g. -p 5001]"


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__ if len(sys.argv) > 1 else USAGE)
        return
    model, options = sys.argv[1], sys.argv[2:]
    source = model_source(model)
    if source.kind == "file":  # a model name (or a .keras file): its newest registered version
        source = registered_source(model)
    with tempfile.TemporaryDirectory(prefix="serve-model-") as downloads:
        folder = mlflow_model_folder(source, Path(downloads), quiet_tensorflow_import)
        command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(folder)]
        done = subprocess.run([*command, "--env-manager", "local", *options])
    sys.exit(done.returncode)


if __name__ == "__main__":
    run_stage(main)
