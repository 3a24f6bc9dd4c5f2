"""Take training steps of every preset on the backend KERAS_BACKEND names, and save the result.

`python tests/one_step.py OUT.npz [--init INIT.npz] [--steps N]`

For each preset, on small MLPs (small U-Nets and PatchGANs for the
translation presets, on 8x8 pairs; a preset whose point is its network keeps
that network, small: progan's on 8x8 images) and a fixed batch: build the model (seed 0),
optionally load every variable from INIT.npz (so two backends start from
the same weights), take N steps with `train_on_batch`, and save the step's
logs and every variable to OUT.npz (`<preset>/log/<name>`,
`<preset>/var/<i>`), and the top singular value of each of D's kernels
(`<preset>/sigma/<i>`), and how many devices hold the weights
(`<preset>/replicas`). Without --init the initial variables are saved too
(`<preset>/init/<i>`), for the other backend to start from.

The noise inside the step (latents, the penalty's epsilon, DiffAugment's
draws) is replaced by a fixed function of the draw's shape and its place
in the step, written in keras.ops: the same numbers on every backend,
which backends' own random generators never give. Dropout is 0 (its masks
come from the backend's generator too).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import keras
import numpy as np
from keras import ops

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.models.presets import PRESETS  # noqa: E402
from pipeline.models.translation.presets import PAIRED_PRESETS  # noqa: E402
from pipeline.models.translation.reconstruction import TermContext  # noqa: E402
from pipeline.models.translation.settings import PairedTranslationParams  # noqa: E402
from pipeline.params import ModelParams  # noqa: E402
from pipeline.training.model import build_model  # noqa: E402

IMAGE_SHAPE = (4, 4, 1)
BATCH = 8
NUM_CLASSES = 3
SECTION = {
    "network": {
        "kind": "mlp",
        "latent_dim": 4,
        "generator_units": [16],
        "discriminator_units": [16],
        "dropout": 0.0,
    },
    "train": {"batch_size": BATCH},
}

# Presets whose point is their network keep it, small, on the smallest images it
# makes: (network, image shape, D updates already made). ProGAN grows 4 -> 8 with
# a phase every 12 images, and its schedule reads D's update count: starting the
# count at 2 (16 images seen), the step runs a third of the way into the fade
# to 8x8, where both resolutions and both blends are live.
OWN_NETWORKS = {
    "progan": (
        {"kind": "progan", "latent_dim": 4, "filters": 2, "phase_images": 12},
        (8, 8, 1),
        2,
    ),
    # StyleGAN on 8x8 (4 -> 8): its step draws the second z, the crossovers and the
    # noise maps through keras.random, which FixedDraws stands in for.
    "stylegan": (
        {"kind": "stylegan", "latent_dim": 4, "w_dim": 4, "filters": 2, "mapping_layers": 1},
        (8, 8, 1),
        0,
    ),
}


# The translation presets on 8x8 images (4x4 inputs for super-resolution), no dropout.
PAIR_SHAPE = (8, 8, 1)
TRANSLATION_SECTION = {
    "generator": {"kind": "unet", "filters": 4, "dropout": 0.0},
    "discriminator": {"kind": "patchgan", "filters": 4},
    "train": {"batch_size": BATCH},
}
TRANSLATION_PARTS = {
    "srgan": {
        "generator": {"kind": "srresnet", "filters": 4, "blocks": 1},
        "discriminator": {"kind": "srgan", "filters": 4, "dense_units": 8},
    },
    "context_encoder": {
        "generator": {"kind": "unet", "filters": 4, "dropout": 0.0, "skip_connections": False},
    },
}


class FixedDraws:
    """Stands in for keras.random's draws: a fixed function of the shape and the draw's index."""

    def __init__(self):
        self.count = 0

    def values(self, shape, low: float, high: float, dtype):
        self.count += 1
        size = math.prod(shape)
        positions = ops.cast(ops.arange(size), "float32")
        # A low-discrepancy sequence in [0, 1): spread out and different per draw.
        unit = (positions * 0.6180339887 + self.count * 0.4142135623) % 1.0
        return ops.cast(ops.reshape(low + (high - low) * unit, shape), dtype or "float32")

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return mean + stddev * self.values(shape, -1.7, 1.7, dtype)

    def uniform(self, shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return self.values(shape, minval, maxval, dtype)

    def randint(self, shape, minval, maxval, dtype="int32", seed=None):
        draws = ops.floor(self.values(shape, minval, maxval - 1e-3, "float32"))
        return ops.cast(draws, dtype)


def fixed_batch(image_shape=IMAGE_SHAPE):
    """Enough images for the largest `d_steps` of a preset (5), and their labels."""
    rng = np.random.default_rng(7)
    images = rng.uniform(-1, 1, (BATCH * 5, *image_shape)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, BATCH * 5).astype("int32")
    return images, labels


def take_steps(
    preset: str, init: dict | None, steps: int, draws: FixedDraws, strategy: str = "auto"
) -> dict:
    if preset in PAIRED_PRESETS:
        model, batch = translation_model(preset, strategy)
    else:
        model, batch = noise_model(preset, strategy)
    variables = [*model.variables, *model.d_optimizer.variables, *model.g_optimizer.variables]
    saved = {}
    if init is None:
        for i, variable in enumerate(variables):
            saved[f"{preset}/init/{i}"] = ops.convert_to_numpy(variable)
    else:
        for i, variable in enumerate(variables):
            variable.assign(init[f"{preset}/init/{i}"])
    step = model.step

    def step_with_fixed_draws(data):
        draws.count = 0  # the same numbers however often the step is traced
        return step(data)

    model.step = step_with_fixed_draws
    for _ in range(steps):
        logs = model.train_on_batch(*batch, return_dict=True)
    for name, value in logs.items():
        saved[f"{preset}/log/{name}"] = np.asarray(value)
    saved[f"{preset}/replicas"] = np.asarray(devices_holding(model.generator.weights[0]))
    for i, variable in enumerate(variables):
        saved[f"{preset}/var/{i}"] = ops.convert_to_numpy(variable)
    kernels = [w for w in model.discriminator.trainable_weights if len(w.shape) > 1]
    for i, kernel in enumerate(kernels):
        matrix = ops.convert_to_numpy(kernel).reshape(-1, kernel.shape[-1])
        saved[f"{preset}/sigma/{i}"] = np.linalg.svd(matrix, compute_uv=False)[0]
    return saved


def noise_model(preset: str, strategy: str):
    """A noise-to-image preset's model on small MLPs (or its own small network), and its batch."""
    network, image_shape, updates = OWN_NETWORKS.get(preset, (SECTION["network"], IMAGE_SHAPE, 0))
    section = {**SECTION, "network": network}
    section["train"] = {**SECTION["train"], "strategy": strategy}
    params = ModelParams.model_validate({"family": preset, **section})
    classes = NUM_CLASSES if params.conditional else 0
    model = build_model(params, image_shape, seed=0, num_classes=classes)
    if updates:
        model.d_optimizer.iterations.assign(updates)
    images, labels = fixed_batch(image_shape)
    rows = BATCH * params.train.d_steps
    return model, (images[:rows], labels[:rows] if params.conditional else None)


def translation_model(preset: str, strategy: str):
    """A translation preset's model on small networks, and a batch of (input, target) pairs.

    srgan's content loss reads an evaluator: a stand-in with constant weights,
    so both backends hold the same one; context_encoder's L2 reads a hole.
    """
    parts = TRANSLATION_PARTS.get(preset, {})
    train = {**TRANSLATION_SECTION["train"], "strategy": strategy}
    section = {"family": preset, **TRANSLATION_SECTION, **parts, "train": train}
    params = PairedTranslationParams.model_validate(section)
    input_shape = (4, 4, 1) if preset == "srgan" else PAIR_SHAPE
    hole = np.zeros(PAIR_SHAPE[:2], bool)
    hole[2:6, 2:6] = True
    context = TermContext(hole=hole, features=constant_extractor())
    model = build_model(params, input_shape, seed=0, target_shape=PAIR_SHAPE, context=context)
    rng = np.random.default_rng(11)
    inputs = rng.uniform(-1, 1, (BATCH, *input_shape)).astype("float32")
    targets = rng.uniform(-1, 1, (BATCH, *PAIR_SHAPE)).astype("float32")
    return model, (inputs, targets)


def constant_extractor() -> keras.Model:
    """An evaluator stand-in mapping 8x8 images to (features, logits), the same on every backend."""
    images = keras.Input(PAIR_SHAPE)
    flat = keras.layers.Flatten()(images)
    features = keras.layers.Dense(6, activation="tanh", kernel_initializer="ones")(flat)
    logits = keras.layers.Dense(3, kernel_initializer="ones")(features)
    return keras.Model(images, [features, logits])


def devices_holding(variable) -> int:
    """How many devices hold a copy of `variable` (a JAX array's sharding; 1 on TensorFlow)."""
    sharding = getattr(variable.value, "sharding", None)
    return len(sharding.device_set) if sharding is not None else 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--init")
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--presets", nargs="*", default=[*PRESETS, *PAIRED_PRESETS])
    parser.add_argument("--strategy", default="auto", help="train.strategy")
    args = parser.parse_args()
    draws = FixedDraws()
    keras.random.normal = draws.normal
    keras.random.uniform = draws.uniform
    keras.random.randint = draws.randint
    init = dict(np.load(args.init)) if args.init else None
    saved = {}
    for preset in args.presets:
        saved.update(take_steps(preset, init, args.steps, draws, args.strategy))
    np.savez(args.out, **saved)
    print("tensorflow loaded:", "tensorflow" in sys.modules)


if __name__ == "__main__":
    main()
