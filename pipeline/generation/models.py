"""Which generator the command's MODEL names, loading it, and what it takes and makes.

MODEL is a model name listed in params.yaml (its `generator.keras` in the
folder dvc.yaml publishes to), a `.keras` file, an MLflow model folder, or an
MLflow URI. Naming is checked without TensorFlow (a mistake costs a fraction
of a second); loading imports it, and the caller passes the command line's
`quiet_tensorflow_import` as `quiet`, since a library module does not import
the CLI module.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml

from pipeline.errors import PipelineError, first_line, typed_first_line
from pipeline.params import DEFAULT_PARAMS_PATH, Params, load_params

if TYPE_CHECKING:
    import keras

URI_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/")
MLFLOW_SCHEMES = ("models", "runs")
MLMODEL_FILE = "MLmodel"
DVC_YAML = Path("dvc.yaml")  # names the folder a model name resolves in
ALLOWED_MODELS = (
    "a model name listed in params.yaml `models`, a .keras file, an MLflow model folder, "
    "models:/<model_id>, models:/<name>/<version or latest> or runs:/<run_id>/<name>"
)

Quiet = Callable[[], AbstractContextManager]


@dataclass(frozen=True)
class ModelSource:
    """Where the generator comes from, as the user named it."""

    kind: Literal["file", "mlflow"]
    text: str  # what the user wrote, for messages
    location: str  # the .keras file, or what MLflow loads (a URI or a local model folder)

    @property
    def needs_store(self) -> bool:
        return URI_SCHEME.match(self.location) is not None


@dataclass(frozen=True)
class GeneratorSpec:
    """What the command needs to know about a loaded noise-to-image generator."""

    latent_dim: int
    image_shape: tuple[int, int, int]
    num_classes: int  # 0: unconditional


@dataclass(frozen=True)
class TranslatorSpec:
    """What the command needs to know about a loaded image-to-image generator."""

    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]


# --- naming ---------------------------------------------------------------------------


def model_source(text: str) -> ModelSource:
    """Tell a URI, a file, an MLflow model folder and a model name apart, and check each."""
    scheme = URI_SCHEME.match(text)
    if scheme:
        return _uri_source(text, scheme.group(1))
    path = Path(text)
    if path.suffix == ".keras":
        if not path.is_file():
            raise PipelineError(f"{text}: no such file (allowed: {ALLOWED_MODELS})")
        return ModelSource("file", text, text)
    if path.is_dir():
        if not (path / MLMODEL_FILE).is_file():
            raise PipelineError(
                f"{text}: a folder without an {MLMODEL_FILE} file (allowed: {ALLOWED_MODELS})"
            )
        return ModelSource("mlflow", text, str(path.resolve()))
    if not text.isidentifier():
        raise PipelineError(f"{text!r}: not a model (allowed: {ALLOWED_MODELS})")
    return _named_source(text)


def _uri_source(text: str, scheme: str) -> ModelSource:
    rest = text[len(scheme) + 2 :].strip("/")
    if scheme not in MLFLOW_SCHEMES:
        raise PipelineError(
            f"{text}: unsupported URI scheme {scheme!r} (allowed: models:/<model_id>, "
            "models:/<name>/<version or latest>, runs:/<run_id>/<name>)"
        )
    if not rest or any(char.isspace() for char in rest):
        raise PipelineError(
            f"{text}: names no model (allowed: models:/<model_id>, models:/<name>/latest)"
        )
    if scheme == "runs" and "/" not in rest:
        raise PipelineError(
            f"{text}: names a run but no model in it (allowed: runs:/<run_id>/<name>)"
        )
    from pipeline.tracking.store import store_exists, tracking_uri

    # Opening a missing sqlite store would create an empty one: refuse instead.
    if not store_exists():
        raise PipelineError(
            f"{text}: there is no MLflow store at {tracking_uri()} (allowed: run in the "
            "repository that logged the model, or set MLFLOW_TRACKING_URI to its store)"
        )
    return ModelSource("mlflow", text, text)


def registered_source(text: str) -> ModelSource:
    """A model name as the newest version of its registered model: `models:/<name>/latest`.

    Each training registers its generator under the model's name
    (`pipeline.tracking.register_generator`).
    """
    if not text.isidentifier():
        raise PipelineError(
            f"{text}: not an MLflow model (allowed: a model name, models:/<name>/<version or "
            "latest>, models:/<model_id>, runs:/<run_id>/<name>, an MLflow model folder)"
        )
    return _uri_source(f"models:/{text}/latest", "models")


def _named_source(name: str) -> ModelSource:
    if not DEFAULT_PARAMS_PATH.is_file():
        raise PipelineError(
            f"{name!r}: a model name needs {DEFAULT_PARAMS_PATH} in the current folder "
            f"(run from the repository root; allowed: {ALLOWED_MODELS})"
        )
    listed = _params().models
    if name not in listed:
        raise PipelineError(
            f"{name!r}: not a model listed in {DEFAULT_PARAMS_PATH} (listed: "
            f"{', '.join(listed)}); or give a .keras file or a models:/ or runs:/ URI"
        )
    path = _trained_folder() / name / "generator.keras"
    if not path.is_file():
        raise PipelineError(
            f"{path}: not found; train it with `dvc repro train@{name}` (or fetch it "
            "with `dvc pull`)"
        )
    return ModelSource("file", name, str(path))


def default_seed() -> int:
    """params.yaml's `seed`, so that the default matches the pipeline's; 0 without the file."""
    return _params().seed if DEFAULT_PARAMS_PATH.is_file() else 0


def _trained_folder() -> Path:
    """Where the train stages publish their models: dvc.yaml's `paths.models`, its one place."""
    try:
        [variables] = yaml.safe_load(DVC_YAML.read_text())["vars"]
        return Path(variables["paths"]["models"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise PipelineError(
            f"{DVC_YAML}: cannot read `vars: paths: models` from it ({typed_first_line(error)}); "
            "a model name needs the repository's dvc.yaml in the current folder "
            f"(run from the repository root; allowed: {ALLOWED_MODELS})"
        ) from None


def _params() -> Params:
    """params.yaml, validated whole (a mistake anywhere is one line, as in every stage)."""
    return load_params(DEFAULT_PARAMS_PATH)


# --- loading --------------------------------------------------------------------------


def load_generator(source: ModelSource, quiet: Quiet = nullcontext) -> keras.Model:
    """Load the generator a source names; one line naming what is wrong if it cannot.

    TensorFlow loads here, as late as possible: a bad URI is found by MLflow
    alone, in a few seconds rather than after TensorFlow's import.

    Args:
        source: what `model_source` made of MODEL.
        quiet: a context in which the imports that load TensorFlow run (the
            command's `quiet_tensorflow_import`, which keeps its notices off stderr).
    """
    if source.kind == "file":
        with quiet():
            from pipeline.saved_models import load_keras

        return load_keras(source.location, "generator")
    with tempfile.TemporaryDirectory(prefix="generate-model-") as tmp:
        folder = mlflow_model_folder(source, Path(tmp), quiet)
        with quiet():
            import mlflow.keras
        try:
            return mlflow.keras.load_model(str(folder))
        except Exception as err:  # whatever Keras raises for a damaged archive, as one line
            raise PipelineError(
                f"{source.text}: cannot be loaded as a Keras model ({first_line(err)})"
            ) from None


def mlflow_model_folder(source: ModelSource, downloads: Path, quiet: Quiet = nullcontext) -> Path:
    """The local folder of an MLflow Keras model, downloaded into `downloads` for a URI."""
    # A download progress bar on stderr would bury the one-line errors.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with quiet():  # MLflow itself does not load TensorFlow
        from mlflow.artifacts import download_artifacts
        from mlflow.models import Model

        from pipeline import tracking
    folder = Path(source.location)
    if source.needs_store:
        store = tracking.connect_store()
        try:
            folder = Path(download_artifacts(artifact_uri=source.location, dst_path=str(downloads)))
        except Exception as err:  # MLflow raises many types for a bad URI; one line each
            raise PipelineError(
                f"{source.text}: not found in the MLflow store at {store} ({first_line(err)})"
            ) from None
    mlmodel = folder / MLMODEL_FILE
    if not mlmodel.is_file():
        raise PipelineError(
            f"{source.text}: not an MLflow model (no {MLMODEL_FILE} file); a logged "
            "generator is models:/<model_id>, models:/<name>/<version> or runs:/<run_id>/<name>"
        )
    flavors = Model.load(str(mlmodel)).flavors
    if "keras" not in flavors or flavors["keras"].get("save_exported_model"):
        raise PipelineError(
            f"{source.text}: an MLflow model of flavor(s) {', '.join(sorted(flavors))} "
            "(allowed: a Keras model saved by mlflow.keras.log_model)"
        )
    return folder


# --- what it takes and makes ------------------------------------------------------------


def translates_images(generator: keras.Model) -> bool:
    """Whether the model maps one image batch to one image batch (rank 4 in and out).

    The model is the authority, as for its classes: a `.keras` file or an
    MLflow URI comes without the `task.json` the train stage writes beside it.
    """
    from pipeline.sampling import is_translator

    outputs = generator.outputs
    return is_translator(generator) and len(outputs) == 1 and len(outputs[0].shape) == 4


def describe_generator(generator: keras.Model, source: ModelSource) -> GeneratorSpec:
    """Check that a loaded model is a noise generator this command can run, and say what it makes.

    A generator maps z, shape (batch, latent_dim), and for a conditional one an
    integer label, shape (batch,), to images (batch, H, W, 1 or 3), or to 2-D
    points (batch, 1, 1, 2) (a model of the `ring` source).
    """
    from pipeline.sampling import is_conditional, latent_dim_of
    from pipeline.saved_models import check_generator

    allowed = (
        "allowed: a generator taking z of shape (batch, latent_dim) [and an integer label "
        "of shape (batch,)] and making images of shape (batch, H, W, 1 or 3) or points of "
        "shape (batch, 1, 1, 2)"
    )
    where = source.text
    if len(generator.inputs) not in (1, 2) or len(generator.outputs) != 1:
        raise PipelineError(
            f"{where}: not a generator: {len(generator.inputs)} inputs and "
            f"{len(generator.outputs)} outputs ({allowed})"
        )
    z_shape = tuple(generator.inputs[0].shape)
    if len(z_shape) != 2 or not z_shape[1]:
        raise PipelineError(f"{where}: not a generator: its input has shape {z_shape} ({allowed})")
    if is_conditional(generator):
        label = generator.inputs[1]
        if tuple(label.shape) != (None,) or "int" not in str(label.dtype):
            raise PipelineError(
                f"{where}: not a generator: its second input is {label.dtype} of shape "
                f"{tuple(label.shape)} ({allowed})"
            )
    output = tuple(generator.outputs[0].shape)
    from pipeline.images import POINT_SHAPE

    points = output[1:] == POINT_SHAPE
    if len(output) != 4 or None in output[1:] or (output[-1] not in (1, 3) and not points):
        raise PipelineError(f"{where}: not a generator: its output has shape {output} ({allowed})")
    image_shape = (int(output[1]), int(output[2]), int(output[3]))
    # The image shape is the generator's own: no prepared data is needed to
    # generate. This still checks the inputs and that every weight is finite.
    check_generator(generator, where, image_shape)
    classes = num_classes_of(generator, where) if is_conditional(generator) else 0
    return GeneratorSpec(latent_dim_of(generator), image_shape, classes)


def describe_translator(generator: keras.Model, source: ModelSource) -> TranslatorSpec:
    """Check that a loaded model is an image-to-image generator of fixed sizes; say its shapes.

    Its own input shape is checked against itself here: the user's images are
    compared with it afterwards, in a message that names the file.
    """
    from pipeline.saved_models import check_translator

    taken = tuple(generator.inputs[0].shape[1:])
    if None in taken:
        raise PipelineError(
            f"{source.text}: takes images of shape {taken}, of no fixed size "
            "(allowed: an image-to-image generator built for one size)"
        )
    made = check_translator(generator, source.text, taken)
    return TranslatorSpec(tuple(int(size) for size in taken), made)


def num_classes_of(generator: keras.Model, where: str) -> int:
    """How many classes a conditional generator's label input takes, read from its layers.

    The pipeline's networks one-hot the label with `CategoryEncoding`; an
    `Embedding` is the other stock way. The model itself is the authority on
    which labels it accepts, so no params or data are needed.
    """
    import keras

    sizes = set()
    for layer in _all_layers(generator):
        if isinstance(layer, keras.layers.CategoryEncoding):
            sizes.add(int(layer.num_tokens))
        elif isinstance(layer, keras.layers.Embedding):
            sizes.add(int(layer.input_dim))
    if len(sizes) != 1:
        found = "none" if not sizes else ", ".join(map(str, sorted(sizes)))
        raise PipelineError(
            f"{where}: cannot tell how many classes its label takes (class counts found in its "
            f"CategoryEncoding/Embedding layers: {found}; allowed: exactly one)"
        )
    return sizes.pop()


def _all_layers(model: keras.Model) -> list:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if hasattr(layer, "layers"):  # a nested model
            layers.extend(_all_layers(layer))
    return layers
