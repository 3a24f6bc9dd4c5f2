"""Take one CoGAN training step on the backend KERAS_BACKEND names, and save the result.

`python tests/coupled_step.py OUT.npz [--init INIT.npz]`

Builds the `cogan` preset's tiny coupled pair for 8x8 images (seed 0),
optionally loads every variable from INIT.npz, takes one `train_on_batch`
step on a fixed (first, second) batch with the noise replaced by
`one_step.FixedDraws` (the same numbers on every backend), and saves the
logs (`log/<name>`) and every variable (`var/<i>`; without --init also
`init/<i>`). `take_step` is also called in-process by the TensorFlow side
of tests/test_cogan.py.
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

from pipeline.models.coupled_settings import CoupledParams  # noqa: E402
from pipeline.training.model import build_model  # noqa: E402

SHAPE = (8, 8, 1)
BATCH = 8
SECTION = {
    "family": "cogan",
    "domains": {"second": "negative"},
    "network": {"filters": 4, "latent_dim": 4},
    "train": {"batch_size": BATCH},
}


def fixed_batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    first = rng.uniform(-1, 1, (BATCH, *SHAPE)).astype("float32")
    return first, -rng.permutation(first)


def take_step(init: dict | None) -> dict:
    """One step from `init` (or from seed 0's weights), its noise fixed; see the module doc."""
    draws = FixedDraws()
    normal = keras.random.normal
    keras.random.normal = draws.normal
    try:
        model = build_model(CoupledParams.model_validate(SECTION), SHAPE, 0, target_shape=SHAPE)
        variables = [*model.variables, *model.d_optimizer.variables, *model.g_optimizer.variables]
        saved = {}
        for i, variable in enumerate(variables):
            if init is None:
                saved[f"init/{i}"] = ops.convert_to_numpy(variable)
            else:
                variable.assign(init[f"init/{i}"])
        step = model.step

        def step_with_fixed_draws(data):
            draws.count = 0  # the same numbers however often the step is traced
            return step(data)

        model.step = step_with_fixed_draws
        logs = model.train_on_batch(*fixed_batch(), return_dict=True)
    finally:
        keras.random.normal = normal
    saved.update({f"log/{name}": np.asarray(value) for name, value in logs.items()})
    for i, variable in enumerate(variables):
        saved[f"var/{i}"] = ops.convert_to_numpy(variable)
    return saved


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--init")
    args = parser.parse_args()
    init = dict(np.load(args.init)) if args.init else None
    np.savez(args.out, **take_step(init))
    print("tensorflow loaded:", "tensorflow" in sys.modules)


if __name__ == "__main__":
    main()
