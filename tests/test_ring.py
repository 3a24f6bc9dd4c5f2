"""The `ring` source (8 Gaussians on a circle) end to end in-process: its points stored as
float32 records, the mixture's exact evaluator, training with the ring's metrics and scatter
plots, evaluation and export."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import REPO_ROOT
from PIL import Image
from test_training import paths_in

from pipeline.callbacks import fingerprint_of
from pipeline.data import load_arrays, verify_prepared
from pipeline.data.prepare import prepare_dataset
from pipeline.errors import PipelineError
from pipeline.evaluation.evaluate import evaluate_generator
from pipeline.evaluation.evaluator import fit_evaluator
from pipeline.evaluation.mixture import Mixture
from pipeline.export import export_samples
from pipeline.images import SCATTER_COLOURS, SCATTER_PIXELS, scatter_plot
from pipeline.params import (
    EvaluateParams,
    EvaluatorParams,
    ExportParams,
    ParamsError,
    PrepareParams,
    parse_params,
)
from pipeline.training.session import fit_model

RING = {"kind": "ring", "count": 1000}


@pytest.fixture(scope="module")
def ring_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ring") / "prepared"
    prepare_dataset(PrepareParams.model_validate({"source": RING}), seed=0, out_dir=out)
    return out


@pytest.fixture(scope="module")
def ring_evaluator(ring_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ring_evaluator")
    metrics = fit_evaluator(
        EvaluatorParams(), 0, ring_dir, folder / "classifier.keras", folder / "evaluator.json"
    )
    return folder / "classifier.keras", metrics


def test_points_are_stored_as_float32_records_exactly_and_bit_stably(ring_dir, tmp_path):
    info = verify_prepared(ring_dir)
    assert (info.image_shape, info.storage, info.record_bytes) == ((1, 1, 2), "float32", 16)
    assert info.num_classes == 8
    assert info.splits["train"].count + info.splits["test"].count == 1000
    mixture = Mixture.from_extra(info.extra)
    assert mixture is not None and mixture.std == 0.008
    np.testing.assert_allclose(np.linalg.norm(mixture.centres, axis=1), 0.8)
    points, labels = load_arrays(ring_dir, "train")
    assert points.dtype == np.float32 and points.shape[1:] == (1, 1, 2)
    # Read as stored, unscaled: each point within 5 std of its own mode's centre.
    offsets = points.reshape(-1, 2) - mixture.centres[labels]
    assert np.abs(offsets).max() < 5 * mixture.std
    again = tmp_path / "again"
    prepare_dataset(PrepareParams.model_validate({"source": RING}), seed=0, out_dir=again)
    assert json.loads((again / "info.json").read_text()) == json.loads(
        (ring_dir / "info.json").read_text()
    )


def test_a_changed_coordinate_is_caught_by_the_content_hash(ring_dir, tmp_path):
    import shutil

    copy = tmp_path / "prepared"
    shutil.copytree(ring_dir, copy)
    shard = next(copy.glob("train-*.bin"))
    data = bytearray(shard.read_bytes())
    data[0] ^= 1  # the lowest bit of the first point's x
    shard.write_bytes(bytes(data))
    with pytest.raises(PipelineError, match="its shards hash to"):
        verify_prepared(copy)


def test_points_have_no_image_domains():
    with pytest.raises(ParamsError, match="gives points, from which no image domain"):
        parse_params({"prepare": {"source": RING, "domains": ["negative"]}})


def test_the_evaluator_is_the_mixture_s_bayes_classifier(ring_evaluator):
    # (Its reload with Keras alone: tests/test_classifier.py.)
    path, metrics = ring_evaluator
    assert metrics["test_accuracy"] == 1.0  # modes 0.8 * sin(pi / 8) / 0.008 = 38 std apart
    points = np.array([[[[0.8, 0.0]]], [[[0.0, -0.75]]], [[[-0.5, 0.52]]]], np.float32)
    logits = keras.saving.load_model(path).predict_on_batch(points)
    assert np.argmax(logits, axis=1).tolist() == [0, 6, 3]


def test_a_scatter_plot_puts_each_point_where_it_is_in_its_group_s_colour():
    picture = scatter_plot(np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, -1.0]]), np.array([0, 1, 2]))
    assert picture.shape == (SCATTER_PIXELS, SCATTER_PIXELS, 3)
    middle = round(0.5 * (SCATTER_PIXELS - 1))
    np.testing.assert_array_equal(picture[middle, middle], SCATTER_COLOURS[0])
    np.testing.assert_array_equal(picture[0, -1], SCATTER_COLOURS[1])  # y up: top right
    np.testing.assert_array_equal(picture[-1, 0], SCATTER_COLOURS[2])
    assert (picture[SCATTER_PIXELS // 4, SCATTER_PIXELS // 4] == 255).all(), "empty is white"


SECTION = {
    "family": "gan",
    "network": {
        "kind": "mlp",
        "latent_dim": 4,
        "generator_units": [16],
        "discriminator_units": [16],
    },
    "train": {"epochs": 2, "batch_size": 100, "grid_size": 6, "eval_every": 1, "eval_samples": 200},
}


def test_a_model_trains_is_scored_by_modes_and_exports_scatter_plots(
    ring_dir, ring_evaluator, tmp_path
):
    classifier, _ = ring_evaluator
    params = parse_params({"models": ["m"], "m": SECTION, "prepare": {"source": RING}}).model("m")
    paths = paths_in(tmp_path / "m", ring_dir, classifier)
    fit_model(params, 0, paths, fingerprint_of(params.model_dump(), 0), verbose=0)
    header = paths.outputs.quality.read_text().splitlines()[0].split(",")
    assert {"high_quality", "modes_covered", "classes_covered"} <= set(header)
    epoch = np.asarray(Image.open(paths.outputs.samples / "epoch_002.png"))
    assert epoch.shape == (SCATTER_PIXELS, SCATTER_PIXELS, 3)

    evaluate = EvaluateParams(
        num_samples=200, kid_subsets=2, kid_subset_size=100, classifier_score_splits=2
    )
    metrics = evaluate_generator(evaluate, 0, ring_dir, paths.outputs.generator, classifier)
    assert metrics["modes_covered_floor"] == 8 and metrics["high_quality_floor"] > 0.95
    assert 0 <= metrics["modes_covered"] <= 8 and 0 <= metrics["high_quality"] <= 1

    out = tmp_path / "export"
    export_samples(
        ExportParams(num_samples=50, grid_size=3, truncation=[1.0, 0.5]),
        0,
        paths.outputs.generator,
        out,
        ring_dir,
    )
    for name in ("grid.png", "interpolation.png", "truncation.png"):
        picture = np.asarray(Image.open(out / name))
        assert picture.shape == (SCATTER_PIXELS, SCATTER_PIXELS, 3), name
    with np.load(out / "samples.npz") as samples:
        assert samples["images"].shape == (50, 1, 1, 2)

    # A user's samples of it: coordinates in an .npz (a PNG folder is refused).
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.generate", str(paths.outputs.generator)]
        + ["-n", "7", "--out", str(tmp_path / "points.npz")],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr[-800:]
    assert "float32 coordinates" in done.stdout
    with np.load(tmp_path / "points.npz") as drawn:
        assert drawn["points"].shape == (7, 2) and drawn["points"].dtype == np.float32
