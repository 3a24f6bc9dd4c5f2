"""A run's logged model: the generator logged once, and half-logged ones cleaned up.

A failure or a kill while a model is logged leaves it PENDING with part of
its files; MLflow's delete keeps the files, so they are removed here too.
"""

from __future__ import annotations

import contextlib
import shutil
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.tracking import record
from pipeline.tracking.store import ARTIFACT_SCHEME, is_server, local_artifact_dir, tracking_uri

if TYPE_CHECKING:
    import keras


def discard_unfinished_models(experiment_id: str) -> list[str]:
    """Delete, with their files, the logged models that runs no longer open left unfinished.

    A failure or a kill while a model is logged (a full disk, a SIGKILL)
    leaves it PENDING, with part of its files; a resumed run replaces it,
    but a run that is never resumed would keep it for good.

    Returns:
        The ids of the models it deleted.
    """
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    deleted = []
    for model in mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list"):
        if str(model.status) == "READY" or not model.source_run_id:
            continue
        if client.get_run(model.source_run_id).info.status == "RUNNING":
            continue  # being logged now, or by a run a later process will mark
        discard_logged_model(client, model)
        deleted.append(model.model_id)
    return deleted


def discard_logged_model(client: Any, model: Any) -> None:
    """Delete a logged model and, in a local store, its files (MLflow's delete keeps them)."""
    client.delete_logged_model(model.model_id)
    location = str(model.artifact_location or "")
    if location.startswith(f"{ARTIFACT_SCHEME}:") and not is_server(tracking_uri()):
        files = local_artifact_dir(location)  # .../models/<model id>/artifacts
        shutil.rmtree(files, ignore_errors=True)
        with contextlib.suppress(OSError):
            files.parent.rmdir()  # the model's own folder, now empty


def log_generator(generator: keras.Model, name: str, step: int) -> str:
    """Log the generator as the active run's model `name`, once; returns its model id.

    A model a killed attempt left half-logged is deleted first, and one an
    attempt finished logging is kept: a resumed run ends with one model.

    Args:
        generator: the trained generator.
        name: the model's name in `models` (what `mlflow ui` lists it by).
        step: the epoch it was trained to; links the run's metrics of that
            epoch to the model.
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    run = mlflow.active_run()
    client = MlflowClient()
    for model in mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    ):
        if model.name == name and str(model.status) == "READY":
            return model.model_id
        discard_logged_model(client, model)

    def spec(tensor, label: str) -> TensorSpec:
        return TensorSpec(np.dtype(tensor.dtype), (-1, *tensor.shape[1:]), label)

    # A translation's generator takes an image; the others z (and a label).
    takes_image = len(generator.inputs[0].shape) == 4
    labels = ["image"] if takes_image else ["z", "label"][: len(generator.inputs)]
    signature = ModelSignature(
        inputs=Schema([spec(t, n) for t, n in zip(generator.inputs, labels, strict=True)]),
        outputs=Schema([spec(generator.outputs[0], "images")]),
    )
    info = mlflow.keras.log_model(
        generator,
        name=name,
        signature=signature,
        step=step,
        tags=record.source_tags(),
        pip_requirements=generator_requirements(),
    )
    return info.model_id


def register_generator(model_id: str, name: str) -> str:
    """Register a logged generator as a new version of the registered model `name`, once.

    Each training adds a version (`models:/<name>/latest` is the newest); a
    resumed attempt that registered this logged model already gets its
    version back instead of a second one.

    Returns:
        The version, as MLflow numbers it ("1", "2", ...).
    """
    import mlflow
    from mlflow import MlflowClient

    uri = f"models:/{model_id}"
    for version in MlflowClient().search_model_versions(f"name = '{name}'"):
        if version.source == uri:  # MLflow 3.17 leaves the version's model_id empty
            return str(version.version)
    registered = mlflow.register_model(uri, name, tags=record.source_tags())
    return str(registered.version)


def tag_model_version(reference: dict[str, str], metrics: dict[str, float]) -> None:
    """Put a model's final headline scores on its registered version, as `metric.<key>` tags.

    A run.json from before models were registered names no version: nothing to tag.
    """
    from mlflow import MlflowClient

    name, version = reference.get("registered_model"), reference.get("model_version")
    if not name or not version:
        return
    client = MlflowClient()
    for key, value in metrics.items():
        client.set_model_version_tag(name, version, f"metric.{key}", f"{float(value):.6g}")


# The distributions each Keras backend is published as; the installed one is
# pinned. TensorFlow's GPU build is `tensorflow`, its CPU-only one `tensorflow-cpu`.
BACKEND_DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "jax": ("jax",),
    "torch": ("torch",),
}


def generator_requirements() -> list[str]:
    """A logged generator's pip requirements: Keras, the installed build of its backend, NumPy.

    Named here because MLflow would otherwise infer them by loading the model
    in a subprocess (about 10 s per training on 2 cores) to find these same
    packages. MLflow adds its own pin.
    """
    import keras

    backend = BACKEND_DISTRIBUTIONS.get(keras.backend.backend(), ())
    pins = []
    for name in ("keras", *backend, "numpy"):
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue  # the backend's other build
    return pins
