"""The truncation trick: truncated latents (`pipeline.sampling`) and export's truncation.png.

The command's `--truncation` runs as a subprocess in tests/test_generate.py,
beside its other runs; here the library is called in this process, on tiny
real generators and the offline dataset.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image
from scipy import stats
from workspace import TINY_PARAMS, run_stage, trained_workspace, write_params

from pipeline.errors import PipelineError
from pipeline.export import export_coupled, export_samples, truncation_inputs
from pipeline.generate import main
from pipeline.images import make_grid, to_uint8
from pipeline.params import ExportParams
from pipeline.sampling import (
    EVALUATION_STREAM,
    GENERATE_STREAM,
    TRUNCATION_STREAM,
    generate,
    latent_vectors,
    truncated_normal,
)
from pipeline.schema import MAX_TRUNCATION, MIN_TRUNCATION

SEED = 11
DIM = 8
SIZE = 28  # the offline dataset's images: 28x28x1, 10 classes
CLASSES = 10


# --- the truncated latents ------------------------------------------------------------


def test_without_truncation_the_latents_are_the_standard_normal_draws_of_the_stream():
    # What latent_vectors drew before truncation existed: the bit-identical promise.
    before = np.random.default_rng([SEED, GENERATE_STREAM]).standard_normal(
        (50, DIM), dtype=np.float32
    )
    np.testing.assert_array_equal(latent_vectors(SEED, 50, DIM, GENERATE_STREAM), before)
    np.testing.assert_array_equal(latent_vectors(SEED, 50, DIM, GENERATE_STREAM, None), before)


@pytest.mark.parametrize("psi", [MIN_TRUNCATION, 0.5, 1.0, MAX_TRUNCATION])
def test_every_truncated_component_lies_within_the_threshold(psi):
    latents = latent_vectors(SEED, 2000, DIM, GENERATE_STREAM, psi)
    assert latents.dtype == np.float32 and latents.shape == (2000, DIM)
    assert np.abs(latents.astype(np.float64)).max() <= psi  # exactly, not within float32 rounding


def test_the_same_seed_and_threshold_give_the_same_latents_and_others_differ():
    once = latent_vectors(SEED, 100, DIM, GENERATE_STREAM, 0.5)
    np.testing.assert_array_equal(once, latent_vectors(SEED, 100, DIM, GENERATE_STREAM, 0.5))
    for other in (
        latent_vectors(SEED + 1, 100, DIM, GENERATE_STREAM, 0.5),
        latent_vectors(SEED, 100, DIM, EVALUATION_STREAM, 0.5),
        latent_vectors(SEED, 100, DIM, GENERATE_STREAM, 0.6),
    ):
        assert not np.array_equal(once, other)


def test_only_the_components_outside_are_redrawn():
    drawn = latent_vectors(SEED, 500, DIM, GENERATE_STREAM)
    truncated = latent_vectors(SEED, 500, DIM, GENERATE_STREAM, 0.7)
    outside = np.abs(drawn) > 0.7
    assert 0.3 < outside.mean() < 0.6  # P(|z| > 0.7) = 0.48: both kinds are there
    np.testing.assert_array_equal(truncated[~outside], drawn[~outside])
    assert not np.any(truncated[outside] == drawn[outside])


def test_a_vector_does_not_depend_on_how_many_are_drawn():
    # -n 10 gives the first ten images of -n 1000, truncated too.
    many = latent_vectors(SEED, 1000, DIM, GENERATE_STREAM, 0.3)
    np.testing.assert_array_equal(latent_vectors(SEED, 10, DIM, GENERATE_STREAM, 0.3), many[:10])


@pytest.mark.parametrize("psi", [0.5, 2.0])
def test_truncated_components_follow_the_truncated_normal(psi):
    # Redrawing until inside gives N(0, 1) restricted to [-psi, psi]; clipping, or
    # rescaling, would not (clipping piles mass on the bounds: the KS test sees it).
    values = latent_vectors(SEED, 5000, DIM, GENERATE_STREAM, psi).ravel().astype(np.float64)
    assert stats.kstest(values, stats.truncnorm(-psi, psi).cdf).pvalue > 1e-3
    density = math.exp(-(psi**2) / 2) / math.sqrt(2 * math.pi)
    variance = 1 - 2 * psi * density / math.erf(psi / math.sqrt(2))
    assert values.std() == pytest.approx(math.sqrt(variance), rel=0.02)


@pytest.mark.parametrize("psi", [0.0, -0.5, float("nan"), float("inf")])
def test_truncated_normal_refuses_a_threshold_that_never_ends(psi):
    with pytest.raises(ValueError, match="allowed: a finite number > 0"):
        truncated_normal(np.ones((2, 2), np.float32), psi, np.random.default_rng(0))


# --- the command, with an image-to-image generator --------------------------------------


def test_truncation_for_an_image_to_image_generator_is_refused_before_writing(tmp_path):
    image = keras.Input((8, 8, 1))
    translator = keras.Model(image, keras.layers.Conv2D(1, 3, padding="same")(image))
    translator.save(tmp_path / "translator.keras")
    out = tmp_path / "out"
    with pytest.raises(PipelineError) as raised:
        main([str(tmp_path / "translator.keras"), "--truncation", "0.5", "--out", str(out)])
    message = str(raised.value)
    assert message.startswith("--truncation: ") and "draws no latent" in message
    assert "\n" not in message and raised.value.exit_code == 2
    assert not out.exists()


# --- export's truncation.png -----------------------------------------------------------


def _dense_generator(classes: int = 0) -> keras.Model:
    """z (and a label) -> 28x28x1 in [-1, 1]: stock layers, loadable alone."""
    z = keras.Input((DIM,), name="z")
    inputs, hidden = z, z
    if classes:
        label = keras.Input((), dtype="int32", name="label")
        one_hot = keras.layers.CategoryEncoding(classes, output_mode="one_hot")(label)
        inputs, hidden = [z, label], keras.layers.Concatenate()([z, one_hot])
    pixels = keras.layers.Dense(SIZE * SIZE, activation="tanh")(hidden)
    return keras.Model(inputs, keras.layers.Reshape((SIZE, SIZE, 1))(pixels))


@pytest.fixture(scope="module")
def generators(tmp_path_factory) -> dict[str, Path]:
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("generators")
    (folder / "networks").mkdir()
    built = {
        "unconditional": (_dense_generator(), folder / "unconditional.keras"),
        "conditional": (_dense_generator(CLASSES), folder / "conditional.keras"),
        "second": (_dense_generator(), folder / "networks" / "second_generator.keras"),
    }
    for model, path in built.values():
        model.save(path)
    return {name: path for name, (_, path) in built.items()}


PARAMS = {"grid_size": 4, "interpolation_rows": 1, "interpolation_steps": 2, "num_samples": 3}
THRESHOLDS = [2.0, 0.5, 0.04]


def _cells(grid: np.ndarray, rows: int, cols: int, pad: int = 2) -> np.ndarray:
    """make_grid's cells back, row by row (pixels, H, W)."""
    step = SIZE + pad
    return np.stack(
        [
            grid[pad + r * step : pad + r * step + SIZE, pad + c * step : pad + c * step + SIZE]
            for r in range(rows)
            for c in range(cols)
        ]
    )


@pytest.mark.parametrize("kind", ["unconditional", "conditional"])
def test_truncation_png_has_a_row_per_threshold_of_the_same_latents(
    generators, negatives_dir, tmp_path, kind
):
    params = ExportParams(**PARAMS, truncation=THRESHOLDS)
    staged = []  # what before_publish (the MLflow logging) is given
    paths = export_samples(
        params,
        SEED,
        generators[kind],
        tmp_path / "out",
        negatives_dir,
        before_publish=lambda files: staged.extend(path.name for path in files.written()),
    )
    names = ["grid.png", "interpolation.png", "samples.npz", "formats", "truncation.png"]
    assert staged == names and sorted(p.name for p in paths.out_dir.iterdir()) == sorted(names)
    rows, cols = len(THRESHOLDS), PARAMS["grid_size"]
    with Image.open(paths.truncation) as image:
        assert (image.mode, image.size) == ("L", (cols * (SIZE + 2) + 2, rows * (SIZE + 2) + 2))
        grid = np.asarray(image)

    classes = CLASSES if kind == "conditional" else 0
    latents, labels = truncation_inputs(SEED, DIM, params, classes)
    for row, psi in enumerate(THRESHOLDS):  # each row: the stream's first latents, truncated
        expected = latent_vectors(SEED, cols, DIM, TRUNCATION_STREAM, psi)
        np.testing.assert_array_equal(latents[row * cols : (row + 1) * cols], expected)
    if classes:  # a column keeps its class in every row
        np.testing.assert_array_equal(labels, np.tile(np.arange(cols), rows))
    else:
        assert labels is None
    images = generate(keras.saving.load_model(generators[kind]), latents, labels)
    np.testing.assert_array_equal(grid, make_grid(images, rows, cols)[..., 0])
    cells = _cells(grid, rows, cols).astype(int)
    assert np.abs(cells - to_uint8(images)[..., 0].astype(int)).max() == 0
    # The rows differ: truncation moved the latents, and the images with them.
    assert not np.array_equal(cells[:cols], cells[-cols:])


def test_without_thresholds_export_writes_its_four_outputs_alone(
    generators, negatives_dir, tmp_path
):
    paths = export_samples(
        ExportParams(**PARAMS), SEED, generators["unconditional"], tmp_path / "out", negatives_dir
    )
    names = ["grid.png", "interpolation.png", "samples.npz", "formats"]
    assert sorted(p.name for p in paths.out_dir.iterdir()) == sorted(names)
    assert [path.name for path in paths.written()] == names


def test_a_coupled_pair_gets_a_pair_of_rows_per_threshold(generators, negatives_dir, tmp_path):
    params = ExportParams(**PARAMS, truncation=THRESHOLDS[:2])
    paths = export_coupled(
        params,
        SEED,
        {"first": "A", "second": "negative"},
        generators["unconditional"],
        generators["second"].parent,
        tmp_path / "out",
        negatives_dir,
    )
    rows, cols = 2 * len(params.truncation), PARAMS["grid_size"]  # G1 above G2, per threshold
    with Image.open(paths.truncation) as image:
        assert image.size == (cols * (SIZE + 2) + 2, rows * (SIZE + 2) + 2)
        cells = _cells(np.asarray(image.convert("L")), rows, cols)
    latents, _ = truncation_inputs(SEED, DIM, params)
    second = generate(keras.saving.load_model(generators["second"]), latents[cols:])
    np.testing.assert_array_equal(cells[3 * cols :], to_uint8(second)[..., 0])


# --- the export stage, with its MLflow run ------------------------------------------------


@pytest.mark.slow
def test_the_export_stage_writes_and_logs_truncation_png(tmp_path):
    """The real stage script on a one-epoch `gan` (about a minute: it trains one first)."""
    from mlflow import MlflowClient

    from pipeline.tracking.store import serve_artifacts_locally

    workspace = trained_workspace(tmp_path / "workspace")
    params = {**TINY_PARAMS, "export": {**TINY_PARAMS["export"], "truncation": [1.0, 0.3]}}
    write_params(workspace, params)
    for stage in (("params",), ("export", "gan")):
        done = run_stage(workspace, *stage)
        assert done.returncode == 0, done.stderr[-3000:]
    assert "truncation.png" in done.stdout
    cols = TINY_PARAMS["export"]["grid_size"]
    with Image.open(workspace / "exports/gan/truncation.png") as image:
        assert image.size == (cols * (SIZE + 2) + 2, 2 * (SIZE + 2) + 2)

    serve_artifacts_locally()
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow' / 'mlflow.db'}")
    [export] = client.search_runs(
        [client.get_experiment_by_name("gan-pipeline").experiment_id], "tags.stage = 'export'"
    )
    logged = {Path(f.path).name for f in client.list_artifacts(export.info.run_id)}
    assert logged == {"grid.png", "interpolation.png", "samples.npz", "formats", "truncation.png"}
    assert export.data.params["export.truncation"] == "[1.0, 0.3]"
