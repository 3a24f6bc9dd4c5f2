"""A generator in formats a serving stack loads: a TensorFlow SavedModel and ONNX, each checked.

`write_formats` writes what `export.formats` lists into a folder (the
export's `formats/`, which it always writes, with `checks.json` alone when
the list is empty):

- `saved_model/`: Keras' `model.export(format="tf_saved_model")`; its
  `serving_default` signature takes the Keras model's inputs by name (`z`,
  `label`, or `image`) and returns `output_0`. TensorFlow Serving and
  `tf.saved_model.load` read it without Keras.
- `generator.onnx`: Keras' `format="onnx"` (tf2onnx, opset `ONNX_OPSET`),
  inputs named as in Keras with a free batch axis. onnxruntime reads it.

A mixed-precision generator is exported as its float32 copy (`in_float32`).
Each file is loaded back (with TensorFlow, with onnxruntime) and run on the
same inputs as the Keras model; the largest absolute difference of the
outputs is recorded in `checks.json` and must be at most `TOLERANCE`, or
the export fails. The conversion goes through TensorFlow, so a model
trained on JAX is converted in a TensorFlow-backend child process
(`python -m pipeline.formats`) from its backend-free `.keras` file.

tf2onnx names some nodes with a counter that runs on across conversions, so
`generator.onnx`'s bytes differ between runs; what it computes does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from pipeline.errors import RunFailed

# Keyed by the names `export.formats` takes (pipeline.params.ExportFormat).
FILES = {"saved_model": "saved_model", "onnx": "generator.onnx"}
REPORT = "checks.json"
# tf2onnx 1.17 converts up to opset 18; 17 is supported by every onnxruntime since 1.15.
ONNX_OPSET = 17
# On tanh outputs in [-1, 1]: float32 round-off of a reordered graph is ~1e-6.
TOLERANCE = 1e-4
# Inputs are checked on this many examples.
CHECK_EXAMPLES = 8


def write_formats(
    generator_path: Path, inputs: list[np.ndarray], out_dir: Path, formats: list[str]
) -> dict:
    """Write `formats` of the generator into `out_dir`, check each, and write `checks.json`.

    Args:
        generator_path: the generator's `.keras` file.
        inputs: its inputs in order (`z`[, `label`], or `image`), a few examples each.
        out_dir: the folder to write into (created if missing).
        formats: names from `FILES`; none writes `checks.json` alone.

    Returns:
        `checks.json`'s content: the tolerance, and per format its file and
        the largest absolute difference from the Keras model's outputs.

    Raises:
        RunFailed: a format's outputs differ by more than `TOLERANCE`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {"tolerance": TOLERANCE}
    if not formats:
        return _write_report(out_dir, report)
    import keras

    if keras.backend.backend() != "tensorflow":
        return _in_tensorflow_process(generator_path, inputs, out_dir, formats)
    model = in_float32(keras.saving.load_model(generator_path, compile=False))
    inputs = [array[:CHECK_EXAMPLES] for array in inputs]
    expected = np.asarray(model(inputs if len(inputs) > 1 else inputs[0], training=False))
    for name in formats:
        path = out_dir / FILES[name]
        outputs = WRITERS[name](model, inputs, path)
        if outputs.shape != expected.shape:
            raise RunFailed(
                f"{generator_path}: its {name} export makes outputs of shape {outputs.shape}, "
                f"the Keras model {expected.shape}"
            )
        difference = float(np.max(np.abs(outputs - expected)))
        if not difference <= TOLERANCE:  # NaN fails too
            raise RunFailed(
                f"{generator_path}: its {name} export differs from the Keras model by "
                f"{difference:.3g} (allowed: at most {TOLERANCE})"
            )
        report[name] = {"file": FILES[name], "max_abs_difference": difference}
    return _write_report(out_dir, report)


def in_float32(model):
    """`model` computing in float32: itself, or for a mixed-precision one a float32 copy.

    ONNX (through tf2onnx) takes float32 models only, and a serving stack
    runs what it is given. A mixed-precision model keeps its variables in
    float32 already, so the copy (its config with every layer's dtype policy
    float32, and its weights) computes what it computes, without the
    float16 or bfloat16 rounding; the checks compare the formats with that copy.
    """
    import keras

    config = model.get_config()
    if not _set_float32(config):
        return model
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def _set_float32(config) -> bool:
    """Set every mixed dtype policy in a model config to float32; whether there was one."""
    changed = False
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            name = config.get("config", {}).get("name", "")
            if name.startswith("mixed_"):
                config["config"]["name"] = "float32"
                return True
        for value in config.values():
            changed = _set_float32(value) or changed
    elif isinstance(config, list):
        for value in config:
            changed = _set_float32(value) or changed
    return changed


def check_metrics(out_dir: Path) -> dict[str, float]:
    """The checks in `out_dir/checks.json` as metrics: `<format>_max_abs_difference`."""
    report = json.loads((out_dir / REPORT).read_text())
    return {
        f"{name}_max_abs_difference": report[name]["max_abs_difference"]
        for name in FILES
        if name in report
    }


def _write_report(out_dir: Path, report: dict) -> dict:
    (out_dir / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    return report


def _saved_model(model, inputs: list[np.ndarray], path: Path) -> np.ndarray:
    """Export, load back with TensorFlow alone, and run its serving signature."""
    import tensorflow as tf

    model.export(str(path), format="tf_saved_model", verbose=False)
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    feeds = {
        _name(spec): tf.constant(array, dtype=spec.dtype)
        for spec, array in zip(model.inputs, inputs, strict=True)
    }
    return np.asarray(serve(**feeds)["output_0"])


def _onnx(model, inputs: list[np.ndarray], path: Path) -> np.ndarray:
    """Export (inputs named as in Keras, batch free), load back with onnxruntime, run it."""
    import keras
    import onnxruntime

    specs = [keras.InputSpec(shape=t.shape, dtype=t.dtype, name=_name(t)) for t in model.inputs]
    # A model loaded from .keras has never been called, so Keras cannot infer the signature.
    signature = [specs] if len(specs) > 1 else specs
    with warnings.catch_warnings():  # Keras' tf2onnx patch probes np.object
        warnings.simplefilter("ignore", FutureWarning)
        model.export(
            str(path),
            format="onnx",
            verbose=False,
            input_signature=signature,
            opset_version=ONNX_OPSET,
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {
        spec.name: array.astype(_ONNX_TYPES[spec.type])
        for spec, array in zip(session.get_inputs(), inputs, strict=True)
    }
    return np.asarray(session.run(None, feeds)[0])


WRITERS = {"saved_model": _saved_model, "onnx": _onnx}
_ONNX_TYPES = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64}


def _name(tensor) -> str:
    """A Keras input's name without the `:0` a TensorFlow tensor name may carry."""
    return tensor.name.split(":")[0]


def _in_tensorflow_process(
    generator_path: Path, inputs: list[np.ndarray], out_dir: Path, formats: list[str]
) -> dict:
    """`write_formats` in a child process whose Keras runs on TensorFlow."""
    arrays = out_dir / ".inputs.npz"
    np.savez(arrays, *inputs)
    command = [sys.executable, "-m", "pipeline.formats", str(generator_path), str(arrays)]
    command += [str(out_dir), *formats]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    arrays.unlink()
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no message"]
        raise RunFailed(f"{generator_path}: the export to {', '.join(formats)} failed: {lines[-1]}")
    return json.loads((out_dir / REPORT).read_text())


def main() -> None:
    """`python -m pipeline.formats GENERATOR INPUTS.npz OUT_DIR FORMAT...` (the child's side)."""
    generator, arrays, out_dir, *formats = sys.argv[1:]
    with np.load(arrays) as data:
        inputs = [data[f"arr_{i}"] for i in range(len(data.files))]
    try:
        write_formats(Path(generator), inputs, Path(out_dir), formats)
    except RunFailed as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
