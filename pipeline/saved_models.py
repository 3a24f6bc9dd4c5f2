"""Reading the `.keras` files stages hand each other, with one-line errors for bad ones.

A stage that reads a saved model checks it fully before doing any work: the
file is a Keras archive that loads (in Keras' safe mode), and a generator
fits the prepared data (a noise generator makes its images, an image-to-image
one takes its inputs) and has finite weights. A generator whose weights or
outputs are NaN comes from a diverged run, and its samples would score
deceptively well, so it is refused rather than evaluated.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np

from pipeline.errors import PipelineError, first_line

# Which stage writes each kind of model, for the message that says how to get it back.
MADE_BY = {"generator": "train@<model>", "evaluator": "evaluator"}


def load_keras(path: str | Path, kind: str) -> keras.Model:
    """Load a `.keras` model, or raise one line saying what is wrong and how to rebuild it.

    Args:
        path: the file.
        kind: `generator` or `evaluator`, to name the stage that writes it.
    """
    path = Path(path)
    rebuild = f"rebuild it with `dvc repro {MADE_BY[kind]}`"
    if not path.is_file():
        raise PipelineError(f"{path}: not found; {rebuild}")
    if not zipfile.is_zipfile(path):
        raise PipelineError(
            f"{path}: not a Keras model archive (empty, truncated or another format); {rebuild}"
        )
    try:
        return keras.saving.load_model(path)
    except Exception as err:  # whatever Keras raises for a damaged archive, as one line
        if "safe_mode" in str(err):
            # Not damage: the file carries code (a Lambda layer), which nothing
            # here runs; no model a stage writes has any, so no rebuild helps.
            raise PipelineError(
                f"{path}: holds Python code (a Lambda layer or other lambda), which Keras' "
                "safe mode does not load and neither does this project; save the model "
                "without it (stock or registered layers only)"
            ) from None
        raise PipelineError(
            f"{path}: cannot be loaded as a Keras model ({first_line(err)}); {rebuild}"
        ) from None


def check_generator(generator: keras.Model, path: str | Path, image_shape: tuple[int, ...]) -> None:
    """Check that a loaded generator fits the prepared data and has finite weights.

    Args:
        generator: the loaded model.
        path: its file, for the message.
        image_shape: (H, W, C) of the prepared data.
    """
    produced = tuple(generator.outputs[0].shape[1:])
    if produced != tuple(image_shape):
        raise PipelineError(
            f"{path}: makes images of shape {produced}, but the prepared data has "
            f"{tuple(image_shape)}; retrain it on this data (`dvc repro`)"
        )
    if len(generator.inputs) > 2:
        raise PipelineError(f"{path}: takes {len(generator.inputs)} inputs; expected z [, label]")
    require_finite_weights(generator, path)


def check_translator(
    generator: keras.Model, path: str | Path, input_shape: tuple[int, ...]
) -> tuple[int, int, int]:
    """Check that a loaded image-to-image generator takes `input_shape` images; say what it makes.

    A translation generator takes one image batch, (batch, H, W, C), and
    makes one, (batch, H2, W2, C2): the size may grow (super-resolution) and
    the channels change (edges to colour), so only the input must match.

    Args:
        generator: the loaded model.
        path: its file, for the message.
        input_shape: (H, W, C) of the images it will be given.

    Returns:
        (H2, W2, C2), the shape of one output image.
    """
    allowed = "allowed: one image input (batch, H, W, C) and one image output, C 1 or 3"
    if len(generator.inputs) != 1 or len(generator.outputs) != 1:
        raise PipelineError(
            f"{path}: not an image-to-image generator: {len(generator.inputs)} inputs and "
            f"{len(generator.outputs)} outputs ({allowed})"
        )
    taken, made = tuple(generator.inputs[0].shape), tuple(generator.outputs[0].shape)
    if len(taken) != 4:
        raise PipelineError(
            f"{path}: not an image-to-image generator: its input has shape {taken} ({allowed})"
        )
    if len(made) != 4 or None in made[1:] or made[-1] not in (1, 3):
        raise PipelineError(
            f"{path}: not an image-to-image generator: its output has shape {made} ({allowed})"
        )
    if taken[1:] != tuple(input_shape):
        raise PipelineError(
            f"{path}: takes images of shape {taken[1:]}, but is given {tuple(input_shape)}"
        )
    require_finite_weights(generator, path)
    return int(made[1]), int(made[2]), int(made[3])


def takes_code(generator: keras.Model) -> bool:
    """Whether G's second input is an unsupervised code (InfoGAN's), not a class to show.

    The networks name that input `code` rather than `label`
    (`pipeline.models.networks.base`), so a saved generator says it itself.
    """
    return len(generator.inputs) > 1 and generator.inputs[1].name == "code"


def code_values(generator: keras.Model) -> int:
    """How many values a code-taking generator's code has: the size of its one-hot layer."""
    return int(generator.get_layer("label_one_hot").num_tokens)


def require_finite_weights(generator: keras.Model, path: str | Path) -> None:
    """Refuse a generator with NaN or infinite weights: its training diverged."""
    if not all(np.isfinite(w).all() for w in generator.get_weights()):
        raise PipelineError(
            f"{path}: holds NaN or infinite weights (its training diverged); "
            "retrain it with other settings"
        )


def require_finite(images: np.ndarray, path: str | Path) -> np.ndarray:
    """Return `images`, or raise one line if the generator at `path` produced NaN or inf."""
    bad = int(np.size(images) - np.count_nonzero(np.isfinite(images)))
    if bad:
        raise PipelineError(
            f"{path}: produced {bad} NaN or infinite pixel values (a diverged generator); "
            "retrain it with other settings"
        )
    return images


# A coupled model's second generator (CoGAN's G2), in its `networks/` folder.
SECOND_GENERATOR = "second_generator.keras"


def load_coupled_pair(
    generator_path: str | Path,
    networks_dir: str | Path,
    shapes: tuple[tuple[int, ...], tuple[int, ...]],
) -> tuple[keras.Model, keras.Model]:
    """A coupled model's G1 and G2, each checked against its domain's shape, and of one z.

    Raises:
        PipelineError: a missing or bad file, or two generators that are not one pair.
    """
    second_path = Path(networks_dir) / SECOND_GENERATOR
    first = load_keras(generator_path, "generator")
    second = load_keras(second_path, "generator")
    check_generator(first, generator_path, shapes[0])
    check_generator(second, second_path, shapes[1])
    dims = [int(model.inputs[0].shape[-1]) for model in (first, second)]
    if dims[0] != dims[1] or len(first.inputs) != 1 or len(second.inputs) != 1:
        raise PipelineError(
            f"{second_path}: takes z of {dims[1]}, {generator_path} z of {dims[0]}; "
            "they are not one coupled pair, retrain it (`dvc repro`)"
        )
    return first, second
