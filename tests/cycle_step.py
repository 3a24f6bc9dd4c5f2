"""Take CycleGAN steps on the backend KERAS_BACKEND names, and save the result.

`python tests/cycle_step.py OUT.npz [--init INIT.npz] [--steps N]`, or `take_steps` in-process.

The counterpart of `tests/one_step.py` for the unpaired model: tiny ResNet
generators and PatchGANs, a fixed batch, a pool of 2 images so that the
steps both fill it and swap images out of it, and the pool's draws replaced
by `one_step.FixedDraws` (the same numbers on every backend). Saves every
variable (`var/<i>`), the logs (`log/<name>`) and, without --init, the
starting variables (`init/<i>`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import numpy as np
from keras import ops

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from one_step import FixedDraws  # noqa: E402

from pipeline.params import parse_params  # noqa: E402
from pipeline.training.model import build_model  # noqa: E402

SHAPE = (8, 8, 1)
BATCH = 4
SECTION = {
    "family": "cyclegan",
    "generator": {"kind": "resnet", "filters": 4, "blocks": 1},
    "discriminator": {"kind": "patchgan", "filters": 4, "norm": "instance"},
    "pool_size": 2,
    "train": {"batch_size": BATCH},
}


def take_steps(init: dict | None, steps: int = 3) -> dict[str, np.ndarray]:
    """Build the model (seed 0), optionally load every variable from `init`, take `steps`
    steps with the pool's draws fixed; every variable and log, and the start without `init`."""
    draws, uniform = FixedDraws(), keras.random.uniform
    keras.random.uniform = draws.uniform
    try:
        raw = {"models": ["cyc"], "prepare": {"domains": ["negative"]}, "cyc": SECTION}
        model = build_model(parse_params(raw).model("cyc"), SHAPE, seed=0, target_shape=SHAPE)
        variables = [*model.variables, *model.d_optimizer.variables, *model.g_optimizer.variables]
        saved = {}
        if init is not None:
            for i, variable in enumerate(variables):
                variable.assign(init[f"init/{i}"])
        else:
            saved.update({f"init/{i}": ops.convert_to_numpy(v) for i, v in enumerate(variables)})
        rng = np.random.default_rng(7)
        a = rng.uniform(-1, 1, (BATCH, *SHAPE)).astype("float32")
        b = rng.uniform(-1, 1, (BATCH, *SHAPE)).astype("float32")
        for _ in range(steps):
            logs = model.train_on_batch(a, b, return_dict=True)
    finally:
        keras.random.uniform = uniform
    saved.update({f"log/{name}": np.asarray(value) for name, value in logs.items()})
    saved.update({f"var/{i}": ops.convert_to_numpy(v) for i, v in enumerate(variables)})
    return saved


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--init")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    init = dict(np.load(args.init)) if args.init else None
    np.savez(args.out, **take_steps(init, args.steps))


if __name__ == "__main__":
    main()
