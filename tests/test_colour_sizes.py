"""Every preset and network kind takes a training step on RGB images of 32x32 and 64x64.

Each model is built as training builds it (`build_model`), with its own
network kind at tiny widths, and takes one step, eagerly (tracing ~40
graphs would cost minutes): its losses must be finite and its generator
must make RGB images of the size. The data side of colour (the folder
source, RGB shards) is tests/test_folder_source.py's; the whole pipeline on
an RGB folder is tests/test_folder_pipeline.py's.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.models.presets import PRESETS
from pipeline.models.translation.reconstruction import TermContext
from pipeline.params import parse_params
from pipeline.training.model import build_model

SIZES = (32, 64)
BATCH = 4
NUM_CLASSES = 3
NETWORKS = {
    "mlp": {"kind": "mlp", "latent_dim": 4, "generator_units": [8], "discriminator_units": [8]},
    "dcgan": {"kind": "dcgan", "filters": 4, "latent_dim": 4},
    "resnet": {"kind": "resnet", "filters": 4, "latent_dim": 4},
    "progan": {"kind": "progan", "filters": 2, "latent_dim": 4, "phase_images": 8},
    "stylegan": {
        "kind": "stylegan",
        "filters": 2,
        "latent_dim": 4,
        "w_dim": 4,
        "mapping_layers": 1,
    },
}
TRANSLATION = {
    "pix2pix": {
        "generator": {"kind": "unet", "filters": 4},
        "discriminator": {"kind": "patchgan", "filters": 4},
    },
    "srgan": {
        "generator": {"kind": "srresnet", "filters": 4, "blocks": 1},
        "discriminator": {"kind": "srgan", "filters": 4, "dense_units": 8},
    },
    "context_encoder": {
        "generator": {"kind": "unet", "filters": 4},
        "discriminator": {"kind": "patchgan", "filters": 4},
    },
    "cyclegan": {
        "generator": {"kind": "resnet", "filters": 4, "blocks": 1},
        "discriminator": {"kind": "patchgan", "filters": 4, "norm": "instance"},
        "task": {"input": "A", "target": "masked"},
    },
    "cogan": {"network": {"filters": 4, "latent_dim": 4}, "domains": {"second": "edges"}},
}
# (input channels, input size divisor) of each image-to-image model on RGB data:
# edges are grey, super-resolution's inputs half the size.
INPUTS = {"pix2pix": (1, 1), "srgan": (3, 2), "context_encoder": (3, 1), "cyclegan": (3, 1)}


def _section(name: str) -> dict:
    """A model section of params.yaml: a preset with tiny networks of its own kind."""
    if name in TRANSLATION:
        return {"family": name, **TRANSLATION[name]}
    if name == "sngan_resnet":  # the one network kind no preset uses by default
        return {"family": "sngan", "network": NETWORKS["resnet"]}
    kind = parse_params({"models": ["m"], "m": {"family": name}}).model("m").network.kind
    return {"family": name, "network": NETWORKS[kind]}


def _model(name: str, size: int):
    """The built model and one batch for it, on RGB `size` x `size` images."""
    rng = np.random.default_rng(0)
    shape = (size, size, 3)
    section = {**_section(name), "train": {"batch_size": BATCH}}
    raw = {"models": ["m"], "m": section, "prepare": {"domains": ["edges", "low_res", "masked"]}}
    params = parse_params(raw).model("m")
    if name == "cogan":
        model = build_model(params, shape, seed=0, target_shape=(size, size, 1))
        second = rng.uniform(-1, 1, (BATCH, size, size, 1)).astype("float32")
        return model, (rng.uniform(-1, 1, (BATCH, *shape)).astype("float32"), second)
    if name in INPUTS:
        channels, divisor = INPUTS[name]
        inputs = (size // divisor, size // divisor, channels)
        hole = np.zeros((size, size), bool)
        hole[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = True
        context = TermContext(hole=hole, features=_extractor(shape))
        model = build_model(params, inputs, seed=0, target_shape=shape, context=context)
        batch = rng.uniform(-1, 1, (BATCH, *inputs)).astype("float32")
        return model, (batch, rng.uniform(-1, 1, (BATCH, *shape)).astype("float32"))
    classes = NUM_CLASSES if params.conditional else 0
    model = build_model(params, shape, seed=0, num_classes=classes)
    rows = BATCH * params.train.d_steps
    images = rng.uniform(-1, 1, (rows, *shape)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, rows).astype("int32") if classes else None
    return model, (images, labels)


def _extractor(shape: tuple[int, int, int]):
    """An evaluator stand-in for srgan's content loss: images to (features, logits)."""
    import keras

    images = keras.Input(shape)
    features = keras.layers.Dense(6, activation="tanh")(keras.layers.Flatten()(images))
    return keras.Model(images, [features, keras.layers.Dense(NUM_CLASSES)(features)])


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", [*PRESETS, "sngan_resnet", *TRANSLATION])
def test_one_step_on_rgb(name, size):
    from keras import ops

    model, batch = _model(name, size)
    model.run_eagerly = True
    # As tensors: eagerly, Keras hands the arrays to the step as they are.
    batch = [None if part is None else ops.convert_to_tensor(part) for part in batch]
    logs = model.train_on_batch(*batch, return_dict=True)
    assert logs and all(np.isfinite(value) for value in logs.values()), logs
    assert model.generator.output_shape[1:] == (size, size, 3)
