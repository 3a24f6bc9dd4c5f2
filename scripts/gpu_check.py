"""The GPU check: the train-step benchmark and a time-to-quality run, on JAX, without TensorFlow.

Made for a machine that has JAX (with CUDA) and NumPy but no TensorFlow,
Keras, pydantic, DVC or MLflow: it needs the project, the wheels
`scripts/gpu_wheels.sh` downloads, the prepared shards and the evaluator
(docs/gpu.md has the command). It never loads TensorFlow or MLflow.

1. `python -m benchmarks.train_step --backend jax` for the MLP and DCGAN
   presets at batch 512, float32 and bfloat16, 1 and 50 steps per execution
   (`benchmark.md`).
2. The conditional model (`--model`, params.yaml's `cgan` by default) trained
   on JAX from scratch, scored with the evaluator after every epoch, until its
   conditional accuracy reaches `--target` (0.95): the wall seconds to get
   there, the training seconds (scoring left out) and the domain FID then
   (`time_to_quality.json`).

Usage:

    KERAS_BACKEND=jax python scripts/gpu_check.py --data data/prepared \\
        --classifier trained/evaluator/classifier.keras --out gpu-check
    # A smoke test on a CPU, in about a minute:
    python scripts/gpu_check.py ... --quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("KERAS_BACKEND", "jax")

BENCHMARK = (
    "--families gan --networks mlp dcgan --batch-size 512 "
    "--precision float32 mixed_bfloat16 --steps-per-execution 1 50 --steps 200 --warmup 50"
)
QUICK_BENCHMARK = "--families gan --networks mlp --batch-size 64 --steps-per-execution 1 5 --quick"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="the prepared shards")
    parser.add_argument("--classifier", type=Path, required=True, help="the evaluator")
    parser.add_argument("--out", type=Path, required=True, help="where the reports go")
    parser.add_argument("--params", type=Path, default=REPO_ROOT / "params.yaml")
    parser.add_argument("--model", default="cgan", help="a conditional model of --params")
    parser.add_argument("--target", type=float, default=0.95, help="conditional accuracy")
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds for step 2")
    parser.add_argument("--eval-samples", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a CPU")
    parser.add_argument("--skip-benchmark", action="store_true")
    return parser.parse_args()


def run_benchmark(args: argparse.Namespace) -> None:
    """Step 1, in a process of its own; its table is printed and kept in benchmark.md."""
    options = (QUICK_BENCHMARK if args.quick else BENCHMARK).split()
    command = [sys.executable, "-m", "benchmarks.train_step", "--backend", "jax", *options]
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
    print(done.stdout, flush=True)
    (args.out / "benchmark.md").write_text(done.stdout)
    if done.returncode:
        raise SystemExit(f"the benchmark failed (exit code {done.returncode})")


def time_to_quality(args: argparse.Namespace) -> dict:
    """Step 2: train until the conditional accuracy reaches the target, or the budget ends."""
    import keras

    from pipeline.errors import PipelineError
    from pipeline.evaluation.evaluate import training_scorer
    from pipeline.params import ModelParams, load_params
    from pipeline.saved_models import load_keras
    from pipeline.training.paths import TrainPaths
    from pipeline.training.session import fit_model

    params = load_params(args.params)
    section = params.model(args.model).model_dump()
    train = {**section["train"], "backend": "jax", "eval_every": 0}
    train["epochs"] = args.max_epochs
    model_params = ModelParams.model_validate({**section, "train": train})
    if not model_params.conditional:
        raise PipelineError(f"--model {args.model}: not a conditional model")
    scorer = training_scorer(
        load_keras(args.classifier, "evaluator"), args.data, params.seed, args.eval_samples
    )

    class TimeToQuality(keras.callbacks.Callback):
        """Score after every epoch; stop at the target or when the budget is spent."""

        def __init__(self):
            super().__init__()
            self.rows: list[dict] = []
            self.scoring = 0.0
            self.reached: dict | None = None

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            scored_at = time.perf_counter()
            scores = scorer(self.model.generator)
            self.scoring += time.perf_counter() - scored_at
            wall = time.perf_counter() - self.start
            row = {
                "epoch": epoch + 1,
                "wall_seconds": round(wall, 2),
                "training_seconds": round(wall - self.scoring, 2),
                "conditional_accuracy": scores["conditional_accuracy"],
                "domain_fid": scores["domain_fid"],
            }
            self.rows.append(row)
            print(json.dumps(row), flush=True)
            if row["conditional_accuracy"] >= args.target and self.reached is None:
                self.reached = row
                self.model.stop_training = True
            elif wall > args.budget:
                self.model.stop_training = True

    watcher = TimeToQuality()
    with tempfile.TemporaryDirectory() as scratch:
        paths = TrainPaths(args.data, Path(scratch) / "out", Path(scratch) / "state")
        fit_model(model_params, params.seed, paths, "gpu-check", callbacks=[watcher], verbose=0)
    return {
        "model": args.model,
        "target_conditional_accuracy": args.target,
        "reached": watcher.reached,
        "epochs": watcher.rows,
        "batch_size": model_params.train.batch_size,
        "network": model_params.network.kind,
    }


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import jax

    devices = ", ".join(f"{d.platform}:{d.device_kind}" for d in jax.devices())
    print(f"JAX {jax.__version__} on {devices}", flush=True)
    if not args.skip_benchmark:
        run_benchmark(args)
    if args.quick:
        args.max_epochs, args.eval_samples = min(args.max_epochs, 2), min(args.eval_samples, 200)
    result = {"jax": jax.__version__, "devices": devices, **time_to_quality(args)}
    result["tensorflow_loaded"] = "tensorflow" in sys.modules
    (args.out / "time_to_quality.json").write_text(json.dumps(result, indent=2) + "\n")
    reached = result["reached"]
    if reached:
        print(
            f"conditional accuracy {reached['conditional_accuracy']:.3f} >= {args.target} after "
            f"{reached['epoch']} epochs: {reached['wall_seconds']:.1f} s wall "
            f"({reached['training_seconds']:.1f} s training), "
            f"domain FID {reached['domain_fid']:.2f}"
        )
    else:
        print(f"conditional accuracy {args.target} not reached within the budget")


if __name__ == "__main__":
    main()
