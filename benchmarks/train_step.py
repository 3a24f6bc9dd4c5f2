"""Throughput of `AdversarialModel.train_step` with the default params, in images per second.

Usage: python -m benchmarks.train_step [--steps 300] [--batch-size 64]
           [--family wgan_gp] [--network dcgan]

Random images stand in for data so the figure is the model's alone; compare it
with the data-bound rate `dvc repro` logs. Run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipeline.params import ModelParams, load_params  # noqa: E402
from pipeline.training import build_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--model", default="gan", help="a model section of params.yaml")
    parser.add_argument("--family", help="instead, a fresh model of this preset, with defaults")
    parser.add_argument("--network", default="mlp", help="with --family: the network kind")
    args = parser.parse_args()

    if args.family:
        section = {"family": args.family, "network": {"kind": args.network}}
        params = ModelParams.model_validate(section)
    else:
        params = load_params().model(args.model)
    batch = args.batch_size or params.train.batch_size
    global_batch = batch * params.train.d_steps
    num_classes = 10 if params.conditional else 0
    model = build_model(params, (28, 28, 1), seed=0, num_classes=num_classes)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (global_batch, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, global_batch).astype("int32")
    data = tf.data.Dataset.from_tensors((images, labels) if num_classes else images).repeat()

    model.fit(data, steps_per_epoch=20, epochs=1, verbose=0, shuffle=False)  # warm up
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start

    print(
        f"model {args.model} ({params.family}, {params.network.kind}): batch {batch}, "
        f"d_steps {params.train.d_steps}, {args.steps} steps"
    )
    rate = global_batch * args.steps / seconds
    print(f"{seconds / args.steps * 1e3:.2f} ms/step, {rate:,.0f} images/s")


if __name__ == "__main__":
    main()
