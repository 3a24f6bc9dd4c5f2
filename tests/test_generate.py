"""`python -m pipeline.generate`, run as a subprocess on tiny real generators.

A run that generates loads TensorFlow, several seconds of CPU, so the quick
tests read the files of five runs that one module fixture starts together;
the bad arguments (refused before TensorFlow loads) also run together. What
needs a run of its own (MLflow URIs, a model name, bad models, a kill) is
marked slow.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT
from PIL import Image
from workspace import TINY_PARAMS, assert_refused, write_params

from pipeline.sampling import EVALUATION_STREAM, GENERATE_STREAM, latent_vectors

LATENT_DIM = 8
CLASSES = 3
SEED = 7
OTHER_SEED = 8
Runs = dict[str, subprocess.CompletedProcess]


# --- running the command ----------------------------------------------------------


def command_env(**extra: str) -> dict[str, str]:
    """The test's environment without MLflow or DVC settings, with the project importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env.update(PYTHONPATH=str(REPO_ROOT), **extra)
    return env


def generate(*args: str | Path, cwd: Path, env: dict[str, str] | None = None):
    """Run `python -m pipeline.generate ARGS` in `cwd` to the end."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline.generate", *map(str, args)],
        cwd=cwd,
        env=env or command_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def generate_all(commands: dict[str, tuple], cwd: Path, env: dict[str, str] | None = None) -> Runs:
    """Run several commands at once: each spends most of its time importing TensorFlow."""
    workers = max(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        futures = {
            name: pool.submit(generate, *args, cwd=cwd, env=env) for name, args in commands.items()
        }
        return {name: future.result() for name, future in futures.items()}


def assert_succeeded(results: Runs) -> None:
    for name, done in results.items():
        assert done.returncode == 0 and done.stderr == "", f"{name}: {done.stderr[-3000:]}"


# --- tiny generators ----------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Saved models: two generators and one model that is not a generator.

    `unconditional` ends in a linear layer whose outputs reach well beyond
    [-1, 1] (a generator need not end in tanh), so the clipping shows.
    `conditional` is the pipeline's own conditional MLP generator.
    """
    import keras
    from keras import layers

    from pipeline.models.build import build_networks
    from pipeline.params import ModelParams

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("models")
    z = keras.Input((LATENT_DIM,), name="z")
    hidden = layers.Dense(16, activation="relu")(z)
    loud = layers.Dense(64, kernel_initializer=keras.initializers.RandomNormal(stddev=3.0))
    unconditional = keras.Model(z, layers.Reshape((8, 8, 1))(loud(hidden)), name="generator")
    image = keras.Input((8, 8, 1), name="image")
    classifier = keras.Model(image, layers.Dense(CLASSES)(layers.Flatten()(image)))
    # A foreign generator carrying code: safe mode refuses it, and no rebuild helps.
    doubled = layers.Lambda(lambda x: 2.0 * x)(layers.Reshape((8, 8, 1))(loud(hidden)))
    built = {
        "unconditional": unconditional,
        "conditional": build_networks(
            ModelParams.model_validate(
                {
                    "family": "cgan",
                    "network": {"kind": "mlp", "latent_dim": LATENT_DIM, "generator_units": [16]},
                }
            ),
            (6, 6, 3),
            CLASSES,
        )[0],
        "classifier": classifier,
        "lambda": keras.Model(z, doubled, name="generator"),
    }
    paths = {name: folder / f"{name}.keras" for name in built}
    for name, model in built.items():
        model.save(paths[name])
    return paths


def expected_images(path: Path, latents: np.ndarray, labels: np.ndarray | None = None):
    """The generator's raw float output, computed here."""
    import keras

    from pipeline.sampling import generate as run_generator

    return run_generator(keras.saving.load_model(path), latents, labels)


def seeded_latents(seed: int, count: int, truncation: float | None = None) -> np.ndarray:
    return latent_vectors(seed, count, LATENT_DIM, GENERATE_STREAM, truncation)


def as_uint8(raw: np.ndarray) -> np.ndarray:
    """[-1, 1] to [0, 255]: clipped, then rounded to the nearest integer."""
    return np.rint(np.clip((raw.astype(np.float64) + 1) * 127.5, 0, 255)).astype(np.uint8)


def assert_pixels_close(actual: np.ndarray, expected: np.ndarray) -> None:
    """uint8 images equal up to one step (float round-off can move a value across .5)."""
    assert actual.dtype == np.uint8 and actual.shape == expected.shape
    assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 1


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        array = np.asarray(image)
    return array[..., np.newaxis] if array.ndim == 2 else array


# --- the runs the quick tests read ------------------------------------------------------


@pytest.fixture(scope="module")
def runs(models, tmp_path_factory) -> tuple[Path, Runs]:
    """Seven runs, started together, whose files the quick tests read.

    The unconditional generator, 6 images: PNG and uint8 npz with one seed,
    float npz with another, and uint8 npz truncated. The conditional one:
    labels cycled (PNG), given (npz), and cycled and truncated (npz).
    """
    root = tmp_path_factory.mktemp("runs")
    # An earlier output that --overwrite replaces whole.
    (root / "png").mkdir()
    (root / "png" / "00099.png").write_bytes(b"old")
    plain = (models["unconditional"], "-n", 6, "--batch-size", 4)
    labelled = (models["conditional"], "-n", 5, "--label", 2, "--label", "0,1")  # 2, 0, 1, ...
    seed = ("--seed", SEED)
    results = generate_all(
        {
            "png": (*plain, *seed, "--out", root / "png", "--overwrite"),
            "uint8": (*plain, *seed, "--out", root / "uint8.npz"),
            "unit": (*plain, "--seed", OTHER_SEED, "--out", root / "unit.npz", "--scale", "1"),
            "cycled": (models["conditional"], "-n", 7, *seed, "--out", root / "cycled"),
            "given": (*labelled, *seed, "--out", root / "given.npz"),
            "truncated": (*plain, *seed, "--truncation", 0.5, "--out", root / "truncated.npz"),
            "truncated labels": (
                *(models["conditional"], "-n", 7, *seed),
                *("--truncation", "1e-1", "--out", root / "truncated_labels.npz"),
            ),
        },
        cwd=root,
    )
    assert_succeeded(results)
    return root, results


# --- an unconditional generator: PNG, npz in both scales, seeds ---------------------------


def test_png_folder_holds_one_8_bit_png_per_image_and_replaces_the_old_one(runs):
    root, results = runs
    names = sorted(path.name for path in (root / "png").iterdir())
    assert names == [f"{i:05d}.png" for i in range(6)]  # 00099.png went with the old folder
    with Image.open(root / "png" / "00000.png") as image:
        assert (image.mode, image.size) == ("L", (8, 8))
    assert "wrote 6 images" in results["png"].stdout


def test_npz_uint8_holds_the_clipped_rounded_images_and_their_latents(runs, models):
    root, _ = runs
    archive = np.load(root / "uint8.npz")
    assert sorted(archive.files) == ["images", "z"]
    latents, images = archive["z"], archive["images"]
    assert latents.dtype == np.float32 and latents.shape == (6, LATENT_DIM)
    np.testing.assert_array_equal(latents, seeded_latents(SEED, 6))
    raw = expected_images(models["unconditional"], latents)
    assert raw.min() < -1 and raw.max() > 1  # this generator leaves [-1, 1] ...
    assert images.min() == 0 and images.max() == 255  # ... and is clipped
    assert_pixels_close(images, as_uint8(raw))


def test_npz_scale_1_holds_float32_in_0_1(runs, models):
    root, _ = runs
    archive = np.load(root / "unit.npz")
    images = archive["images"]
    assert images.dtype == np.float32 and images.shape == (6, 8, 8, 1)
    assert images.min() == 0.0 and images.max() == 1.0
    raw = expected_images(models["unconditional"], archive["z"])
    np.testing.assert_allclose(images, np.clip((raw + 1) / 2, 0, 1), atol=1e-6)


def test_the_same_seed_gives_the_same_images_and_another_seed_others(runs):
    root, _ = runs
    uint8, unit = np.load(root / "uint8.npz"), np.load(root / "unit.npz")
    pngs = np.stack([read_png(root / "png" / f"{i:05d}.png") for i in range(6)])
    np.testing.assert_array_equal(pngs, uint8["images"])  # two processes, two formats
    np.testing.assert_array_equal(unit["z"], seeded_latents(OTHER_SEED, 6))
    assert not np.array_equal(unit["z"], uint8["z"])
    assert not np.array_equal(np.rint(unit["images"] * 255), uint8["images"])


def test_latents_are_a_stream_of_their_own_not_the_evaluation_ones(runs):
    root, _ = runs
    evaluation = latent_vectors(SEED, 6, LATENT_DIM, EVALUATION_STREAM)
    assert not np.array_equal(np.load(root / "uint8.npz")["z"], evaluation)


# --- a conditional generator: labels cycled or given ----------------------------------


def test_labels_cycle_through_the_classes_by_default(runs, models):
    folder = runs[0] / "cycled"
    labels = [i % CLASSES for i in range(7)]
    names = [f"{i:05d}_label{label}.png" for i, label in enumerate(labels)]
    assert sorted(path.name for path in folder.iterdir()) == sorted([*names, "labels.csv"])
    with open(folder / "labels.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    pairs = zip(names, labels, strict=True)
    assert rows == [["file", "label"], *([name, str(label)] for name, label in pairs)]
    pngs = np.stack([read_png(folder / name) for name in names])
    assert pngs.shape == (7, 6, 6, 3)
    raw = expected_images(models["conditional"], seeded_latents(SEED, 7), np.array(labels))
    assert_pixels_close(pngs, as_uint8(raw))


def test_given_labels_are_cycled_over_the_images_with_the_same_latents(runs, models):
    archive = np.load(runs[0] / "given.npz")
    assert sorted(archive.files) == ["images", "labels", "z"]
    np.testing.assert_array_equal(archive["labels"], [2, 0, 1, 2, 0])
    assert archive["labels"].dtype == np.int32
    np.testing.assert_array_equal(archive["z"], seeded_latents(SEED, 5))
    raw = expected_images(models["conditional"], archive["z"], archive["labels"])
    assert_pixels_close(archive["images"], as_uint8(raw))


# --- --truncation -------------------------------------------------------------------------


def test_truncation_gives_the_same_latents_truncated_and_their_images(runs, models):
    root, results = runs
    assert "seed 7, truncation 0.5, to" in results["truncated"].stdout
    archive, plain = np.load(root / "truncated.npz"), np.load(root / "uint8.npz")
    latents = archive["z"]
    # What the library gives for this seed and threshold: another process, the same arrays.
    np.testing.assert_array_equal(latents, seeded_latents(SEED, 6, truncation=0.5))
    assert np.abs(latents.astype(np.float64)).max() <= 0.5
    inside = np.abs(plain["z"]) <= 0.5
    np.testing.assert_array_equal(latents[inside], plain["z"][inside])  # only outliers redrawn
    assert not inside.all()
    assert_pixels_close(
        archive["images"], as_uint8(expected_images(models["unconditional"], latents))
    )
    assert not np.array_equal(archive["images"], plain["images"])


def test_truncation_leaves_a_conditional_generators_labels_alone(runs, models):
    root, results = runs
    assert "truncation 0.1," in results["truncated labels"].stdout
    archive = np.load(root / "truncated_labels.npz")
    labels = [i % CLASSES for i in range(7)]
    np.testing.assert_array_equal(archive["labels"], labels)
    np.testing.assert_array_equal(archive["z"], seeded_latents(SEED, 7, truncation=0.1))
    raw = expected_images(models["conditional"], archive["z"], archive["labels"])
    assert_pixels_close(archive["images"], as_uint8(raw))


# --- a model logged to MLflow --------------------------------------------------------


@pytest.fixture(scope="module")
def logged_model(models, tmp_path_factory) -> tuple[dict[str, str], dict[str, str]]:
    """The conditional generator logged as `log_generator` does, into a temp sqlite store.

    Returns:
        The environment that points the command at the store, and the ids.
    """
    import keras
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    from pipeline.tracking import connect_store

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    generator = keras.saving.load_model(models["conditional"])
    signature = ModelSignature(
        inputs=Schema(
            [
                TensorSpec(np.dtype(np.float32), (-1, LATENT_DIM), "z"),
                TensorSpec(np.dtype(np.int32), (-1,), "label"),
            ]
        ),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 6, 6, 3), "images")]),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        connect_store()
        with mlflow.start_run() as run:
            # Requirements given, so MLflow does not spend seconds inferring them.
            info = mlflow.keras.log_model(
                generator, name="cgan", signature=signature, pip_requirements=["keras"]
            )
        mlflow.set_tracking_uri("")  # forget the temp store
    ids = {"run_id": run.info.run_id, "model_id": info.model_id}
    return command_env(MLFLOW_TRACKING_URI=uri), ids


@pytest.mark.slow
@pytest.mark.parametrize("uri", ["models:/{model_id}", "runs:/{run_id}/cgan"])
def test_an_mlflow_uri_generates_what_the_keras_file_does(logged_model, runs, tmp_path, uri):
    env, ids = logged_model
    out = tmp_path / "logged.npz"
    args = ("-n", 5, "--seed", SEED, "--label", "2,0,1", "--out", out)
    assert_succeeded({uri: generate(uri.format(**ids), *args, cwd=tmp_path, env=env)})
    logged, local = np.load(out), np.load(runs[0] / "given.npz")
    for key in ("images", "z", "labels"):
        np.testing.assert_array_equal(logged[key], local[key])


# --- a model name and the default seed ---------------------------------------------------


def _project(folder: Path, seed: int | None = None) -> Path:
    """A project folder: params.yaml lists `gan`, dvc.yaml names the models' folder
    (`trained/`); trained/gan/generator.keras is not there."""
    _params_only(folder, seed)
    shutil.copy(REPO_ROOT / "dvc.yaml", folder / "dvc.yaml")
    return folder


def _params_only(folder: Path, seed: int | None = None) -> Path:
    """A folder with params.yaml listing `gan`, and no dvc.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    write_params(folder, TINY_PARAMS if seed is None else {**TINY_PARAMS, "seed": seed})
    return folder


def test_the_default_seed_is_the_one_in_params_yaml_or_0(tmp_path, monkeypatch):
    from pipeline.generate import default_seed

    monkeypatch.chdir(tmp_path)
    assert default_seed() == 0
    _project(tmp_path, seed=123)
    assert default_seed() == 123


@pytest.mark.slow
def test_a_model_name_generates_from_models_name_with_the_seed_of_params(models, runs, tmp_path):
    project = _project(tmp_path / "project", seed=SEED)
    (project / "trained" / "gan").mkdir(parents=True)
    shutil.copy(models["unconditional"], project / "trained" / "gan" / "generator.keras")
    done = generate("gan", "-n", 6, "--batch-size", 4, "--out", "named.npz", cwd=project)
    assert_succeeded({"gan": done})
    assert f"seed {SEED}" in done.stdout
    named, explicit = np.load(project / "named.npz"), np.load(runs[0] / "uint8.npz")
    np.testing.assert_array_equal(named["images"], explicit["images"])


# --- bad inputs: one line, exit 2, nothing written -------------------------------------


def _folder_with(*names: str):
    def make(folder: Path) -> None:
        (folder / "out").mkdir()
        for name in names:
            (folder / "out" / name).write_bytes(b"x")

    return make


def _file(name: str):
    def make(folder: Path) -> None:
        (folder / name).write_bytes(b"x")

    return make


# id: (model, arguments after `--out out`, set-up of the run's folder, part of the message).
# `{u}`, `{c}` stand for the unconditional and the conditional generator.
BEFORE_LOADING = {
    "n zero": ("{u}", ["-n", "0"], None, "1 to 100000"),
    "n negative": ("{u}", ["-n", "-3"], None, "1 to 100000"),
    "n absurd": ("{u}", ["-n", "10000000"], None, "1 to 100000"),
    "n not a number": ("{u}", ["-n", "ten"], None, "'ten' is not an integer"),
    "bad scale": ("{u}", ["--scale", "100", "--out", "x.npz"], None, "'255', '1'"),
    "scale 1 for PNG": ("{u}", ["--scale", "1"], None, "PNG files are always 8-bit"),
    "bad format": ("{u}", ["--format", "jpg"], None, "'png', 'npz'"),
    "npz format, folder name": ("{u}", ["--format", "npz"], None, "ending in .npz"),
    "png format, npz name": ("{u}", ["--format", "png", "--out", "x.npz"], None, "a folder"),
    "negative seed": ("{u}", ["--seed", "-1"], None, "0 to 2147483647"),
    "label not a number": ("{c}", ["--label", "three"], None, "not a class index"),
    "negative label": ("{c}", ["--label", "-1"], None, "not a class index"),
    "empty label": ("{c}", ["--label", "1,,2"], None, "not a class index"),
    "more labels than images": ("{c}", ["-n", "2", "--label", "0,1,2"], None, "3 labels for 2"),
    "batch size zero": ("{u}", ["--batch-size", "0"], None, "1 to 65536"),
    "truncation zero": ("{u}", ["--truncation", "0"], None, "--truncation: 0 is out of range"),
    "truncation negative": ("{u}", ["--truncation", "-0.5"], None, "allowed: 0.04 to 4"),
    "truncation below 0.04": ("{u}", ["--truncation", "0.01"], None, "allowed: 0.04 to 4"),
    "truncation above 4": ("{u}", ["--truncation", "70"], None, "drop --truncation for none"),
    "truncation nan": ("{u}", ["--truncation", "nan"], None, "nan is out of range"),
    "truncation not a number": ("{u}", ["--truncation", "half"], None, "'half' is not a number"),
    "truncation with --input": (
        "{u}",
        ["--input", "in", "--truncation", "0.5"],
        None,
        "--truncation: does not apply with --input",
    ),
    "unknown option": ("{u}", ["--count", "3"], None, "unrecognized arguments: --count"),
    "non-empty folder": ("{u}", [], _folder_with("00000.png"), "--overwrite"),
    "overwrite a foreign folder": ("{u}", ["--overwrite"], _folder_with("a.txt"), "'a.txt'"),
    "existing npz": ("{u}", ["--out", "x.npz"], _file("x.npz"), "exists"),
    "npz onto a folder": ("{u}", ["--out", "x.npz"], lambda f: (f / "x.npz").mkdir(), "folder"),
    "out is a file": ("{u}", [], _file("out"), "not a folder"),
    "out is the current folder": ("{u}", ["--out", ".", "--overwrite"], None, "current folder"),
    "out under a file": ("{u}", ["--out", "a.txt/out"], _file("a.txt"), "not a writable folder"),
    # Writable by its mode bits for root, but no file can be made there.
    "out in /proc": ("{u}", ["--out", "/proc/generated.npz"], None, "not a writable folder"),
    "missing .keras": ("missing.keras", [], None, "no such file"),
    "not a model": ("a.txt", [], _file("a.txt"), "not a model"),
    "name without params.yaml": ("gan", [], None, "needs params.yaml"),
    "unknown name": ("dcgan", [], _project, "not a model listed in params.yaml"),
    "listed name, no generator": ("gan", [], _project, "dvc repro train@gan"),
    "listed name, no dvc.yaml": ("gan", [], _params_only, "dvc.yaml: cannot read"),
    "unsupported URI": ("s3://bucket/g.keras", [], None, "unsupported URI scheme 's3'"),
    "empty models URI": ("models:/", [], None, "names no model"),
    "runs URI without a name": ("runs:/0123abcd", [], None, "runs:/<run_id>/<name>"),
    "URI without a store": ("models:/m-0123abcd", [], None, "there is no MLflow store"),
    "folder without MLmodel": ("folder", [], lambda f: (f / "folder").mkdir(), "MLmodel"),
}


def _snapshot(folder: Path) -> list[Path]:
    return sorted(path.relative_to(folder) for path in folder.rglob("*"))


@pytest.fixture(scope="module")
def refusals(models, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, bool]]:
    """Every case of BEFORE_LOADING, each in a folder of its own, run together.

    Returns:
        Each case's result, and whether its folder is as it was before.
    """
    folders, commands = {}, {}
    for case, (model, args, setup, _) in BEFORE_LOADING.items():
        folder = folders[case] = tmp_path_factory.mktemp("refused")
        if setup is not None:
            setup(folder)
        model = model.format(u=models["unconditional"], c=models["conditional"])
        commands[case] = (model, "--out", "out", *args)  # argparse keeps the last --out
    before = {case: _snapshot(folder) for case, folder in folders.items()}
    with ThreadPoolExecutor(max(2, os.cpu_count() or 1)) as pool:
        futures = {
            case: pool.submit(generate, *commands[case], cwd=folders[case]) for case in commands
        }
        return {
            case: (future.result(), _snapshot(folders[case]) == before[case])
            for case, future in futures.items()
        }


@pytest.mark.parametrize("case", list(BEFORE_LOADING))
def test_a_bad_argument_is_one_line_and_exit_2_before_tensorflow_loads(refusals, case):
    done, untouched = refusals[case]
    assert_refused(done, BEFORE_LOADING[case][-1])
    assert untouched, "it wrote something"


def test_out_is_required(models, tmp_path):
    assert_refused(generate(models["unconditional"], cwd=tmp_path), "required: --out")


# Found once the model is loaded (after TensorFlow or MLflow): seconds each.
AFTER_LOADING = {
    "not a generator": ("{k}", [], "not a generator"),
    "a Lambda layer": ("{l}", [], "holds Python code"),
    "label for an unconditional generator": ("{u}", ["--label", "1"], "unconditional"),
    "label out of range": ("{c}", ["--label", "0,3"], "0 to 2"),
    "unknown model id": ("models:/m-0123456789abcdef", [], "not found in the MLflow store"),
    "unknown run": ("runs:/0123456789abcdef/cgan", [], "not found in the MLflow store"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(AFTER_LOADING))
def test_a_bad_model_is_one_line_and_exit_2(models, logged_model, tmp_path, case):
    model, args, fragment = AFTER_LOADING[case]
    model = model.format(
        u=models["unconditional"],
        c=models["conditional"],
        k=models["classifier"],
        l=models["lambda"],
    )
    env, _ = logged_model
    done = generate(model, "--out", "out", *args, cwd=tmp_path, env=env)
    assert_refused(done, fragment)
    assert not any(tmp_path.iterdir()), "it wrote something"


# --- a kill leaves no half folder ----------------------------------------------------------


@pytest.mark.slow
def test_a_killed_run_leaves_no_output_and_the_next_run_cleans_up(models, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pipeline.generate", str(models["unconditional"])]
    process = subprocess.Popen(
        [*command, "-n", "100000", "--out", str(out)],
        cwd=tmp_path,
        env=command_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(tmp_path.glob(".out.new.*/00100.png")):  # well into writing
            assert process.poll() is None and time.monotonic() < deadline, "never started writing"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not out.exists()

    done = generate(models["unconditional"], "-n", 2, "--out", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the half folder is gone
    assert sorted(p.name for p in out.iterdir()) == ["00000.png", "00001.png"]
