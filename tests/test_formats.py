"""The generator's serving formats: a SavedModel and ONNX, each loaded back and checked.

Small generators of each input kind (noise, noise and a label, an image)
are saved as `.keras` files, written in both formats, and the files are
run where a serving stack would run them: the SavedModel through its
`serving_default` signature, the ONNX file in a process with onnxruntime
and NumPy alone, at another batch size than the check's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from pipeline import formats
from pipeline.errors import RunFailed
from pipeline.formats import check_metrics, write_formats
from pipeline.params import ExportFormat

SIZE = 8


def _noise_generator(conditional: bool) -> keras.Model:
    z = keras.Input((4,), name="z")
    hidden = keras.layers.Dense(16, activation="relu")(z)
    inputs = [z]
    if conditional:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        embedded = keras.layers.Embedding(3, 16)(label)
        hidden = keras.layers.Multiply()([hidden, embedded])
    pixels = keras.layers.Dense(SIZE * SIZE * 3, activation="tanh")(hidden)
    images = keras.layers.Reshape((SIZE, SIZE, 3))(pixels)
    return keras.Model(inputs if conditional else z, images)


def _translator() -> keras.Model:
    image = keras.Input((SIZE, SIZE, 1), name="image")
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(image)
    hidden = keras.layers.BatchNormalization()(hidden)
    return keras.Model(image, keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(hidden))


def _inputs(kind: str, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    if kind == "translator":
        return [rng.uniform(-1, 1, (n, SIZE, SIZE, 1)).astype("float32")]
    z = rng.standard_normal((n, 4)).astype("float32")
    return [z, np.arange(n) % 3] if kind == "conditional" else [z]


@pytest.fixture(scope="module", params=["unconditional", "conditional", "translator"])
def exported(request, tmp_path_factory):
    kind = request.param
    folder = tmp_path_factory.mktemp(kind)
    model = _translator() if kind == "translator" else _noise_generator(kind == "conditional")
    model.save(folder / "generator.keras")
    report = write_formats(
        folder / "generator.keras", _inputs(kind, 8), folder / "formats", ["saved_model", "onnx"]
    )
    return kind, folder, model, report


def test_both_formats_are_written_and_agree_with_keras(exported):
    _, folder, _, report = exported
    assert json.loads((folder / "formats/checks.json").read_text()) == report
    assert (folder / "formats/saved_model/saved_model.pb").is_file()
    assert (folder / "formats/generator.onnx").stat().st_size > 0
    for name in ("saved_model", "onnx"):
        assert 0 <= report[name]["max_abs_difference"] <= formats.TOLERANCE
    assert set(check_metrics(folder / "formats")) == {
        "saved_model_max_abs_difference",
        "onnx_max_abs_difference",
    }


def test_the_onnx_file_runs_without_tensorflow_or_keras_at_any_batch_size(exported, tmp_path):
    kind, folder, model, _ = exported
    inputs = _inputs(kind, 3)  # not the 8 of the check: the batch axis is free
    np.savez(tmp_path / "inputs.npz", *inputs)
    script = """
import sys, numpy as np, onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
data = np.load(sys.argv[2])
types = {"tensor(float)": np.float32, "tensor(int32)": np.int32}
feeds = {s.name: data[f"arr_{i}"].astype(types[s.type]) for i, s in enumerate(session.get_inputs())}
np.save(sys.argv[3], session.run(None, feeds)[0])
assert "tensorflow" not in sys.modules and "keras" not in sys.modules
"""
    command = [sys.executable, "-c", script, str(folder / "formats/generator.onnx")]
    done = subprocess.run(
        [*command, str(tmp_path / "inputs.npz"), str(tmp_path / "out.npy")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = np.asarray(model(inputs if len(inputs) > 1 else inputs[0], training=False))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=formats.TOLERANCE)


def test_the_saved_model_serves_by_input_name(exported):
    import tensorflow as tf

    kind, folder, model, _ = exported
    serve = tf.saved_model.load(str(folder / "formats/saved_model")).signatures["serving_default"]
    names = {"translator": ["image"], "conditional": ["z", "label"]}.get(kind, ["z"])
    inputs = _inputs(kind, 5)
    feeds = {
        name: tf.constant(array, dtype=spec.dtype)
        for name, array, spec in zip(names, inputs, model.inputs, strict=True)
    }
    outputs = serve(**feeds)["output_0"].numpy()
    expected = np.asarray(model(inputs if len(inputs) > 1 else inputs[0], training=False))
    np.testing.assert_allclose(outputs, expected, atol=formats.TOLERANCE)


def test_an_export_that_disagrees_with_keras_fails_the_run(tmp_path, monkeypatch):
    model = _noise_generator(conditional=False)
    model.save(tmp_path / "generator.keras")
    path = tmp_path / "generator.keras"
    for fake, message in (
        (np.full((8, SIZE, SIZE, 3), 9.0), "its onnx export differs from the Keras model by "),
        (np.zeros((8, 3)), r"its onnx export makes outputs of shape \(8, 3\), the Keras model "),
    ):
        monkeypatch.setitem(formats.WRITERS, "onnx", lambda model, inputs, path, out=fake: out)
        with pytest.raises(RunFailed, match=message):
            write_formats(path, _inputs("z", 8), tmp_path / "f", ["onnx"])


def test_no_formats_write_the_checks_alone(tmp_path):
    report = write_formats(Path("unused.keras"), [], tmp_path / "formats", [])
    assert report == {"tolerance": formats.TOLERANCE}
    assert sorted(p.name for p in (tmp_path / "formats").iterdir()) == ["checks.json"]
    assert check_metrics(tmp_path / "formats") == {}


def test_every_format_params_allow_has_a_writer():
    from typing import get_args

    assert set(get_args(ExportFormat)) == set(formats.WRITERS) == set(formats.FILES)


def test_a_mixed_precision_generator_is_exported_as_its_float32_copy(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _noise_generator(conditional=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.layers[2].dtype_policy.name == "mixed_bfloat16"
    model.save(tmp_path / "generator.keras")
    inputs = _inputs("conditional", 8)
    report = write_formats(
        tmp_path / "generator.keras", inputs, tmp_path / "formats", ["saved_model", "onnx"]
    )
    assert report["onnx"]["max_abs_difference"] <= formats.TOLERANCE
    copy = formats.in_float32(model)
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    # The same function without bfloat16's rounding: close to the mixed model's outputs.
    mixed, exact = (np.asarray(m(inputs, training=False), "float32") for m in (model, copy))
    assert np.abs(mixed - exact).max() < 0.05
