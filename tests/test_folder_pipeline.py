"""End to end on a user's own colour images: a tiny `dvc repro` on a folder of RGB 64x64 shapes.

A generated folder (scripts/make_image_folder.py: 3 classes of coloured
shapes in class subfolders, PNG, JPEG and WebP of assorted sizes) under
data/raw/ is the source. On it a conditional model (`cgan`) and the
roadmap's noise presets, all unconditional or unsupervised (InfoGAN, the
unrolled GAN, ProGAN, StyleGAN), each train, evaluate, export (grids in
colour, the SavedModel and ONNX checked) and appear in the report. Then a
change to the folder makes `dvc status` call prepare stale.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from repo_copy import TINY_PARAMS, TINY_TRAIN, copy_repo, run

from scripts.make_image_folder import make_image_folder

pytestmark = pytest.mark.slow

SIZE = 64
CLASSES = 3
FOLDER = "data/raw/shapes"
TINY_MLP = {"kind": "mlp", "generator_units": [16], "discriminator_units": [16]}
# 240 training images: 4 steps an epoch.
TRAIN = {**TINY_TRAIN, "batch_size": 60}
MODELS = {
    # Conditional: D also classifies (ACGAN), on the folder's class labels.
    "cgan": {"network": {**TINY_MLP, "latent_dim": 8}, "train": TRAIN},
    "infogan": {
        "family": "infogan",
        "conditioning": {"categorical": CLASSES},
        "network": {**TINY_MLP, "latent_dim": 8},
        "train": TRAIN,
    },
    "unrolled": {
        "family": "unrolled",
        "unrolling": {"steps": 2},
        "network": {**TINY_MLP, "latent_dim": 8},
        "train": TRAIN,
    },
    # Its own networks (the point of the preset), tiny, growing 4 -> 64 within the epoch.
    "progan": {
        "family": "progan",
        "network": {"filters": 4, "latent_dim": 8, "phase_images": 40},
        "train": TRAIN,
    },
    # Its own networks, tiny: a one-layer mapping network, style mixing and noise on.
    "stylegan": {
        "family": "stylegan",
        "network": {"filters": 4, "latent_dim": 8, "w_dim": 8, "mapping_layers": 1},
        "train": TRAIN,
    },
}
PARAMS = {
    **TINY_PARAMS,
    "prepare": {"source": {"kind": "folder", "path": FOLDER, "image_size": SIZE, "channels": 3}},
    "models": list(MODELS),
    **MODELS,
    # 60 test images: the floor needs as many real images as the samples scored.
    "evaluate": {"num_samples": 50, "kid_subsets": 5, "kid_subset_size": 25},
    "export": {**TINY_PARAMS["export"], "num_samples": 50},
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = copy_repo(tmp_path_factory.mktemp("folder"), PARAMS)
    make_image_folder(root / FOLDER, classes=CLASSES, per_class=100, size=72, seed=1)
    run(root, "dvc", "repro")
    return root


def test_the_folder_is_prepared_in_colour_with_its_classes(repo):
    info = json.loads((repo / "data/prepared/info.json").read_text())
    assert info["source"] == f"folder:{FOLDER}"
    assert info["image_shape"] == [SIZE, SIZE, 3]
    assert info["class_names"] == ["disc", "square", "triangle"]
    assert info["splits"]["test"]["class_counts"] == [20, 20, 20]


def test_each_model_trains_evaluates_and_exports_colour_images(repo):
    for name in MODELS:
        metrics = json.loads((repo / f"metrics/{name}.json").read_text())
        assert np.isfinite(metrics["domain_fid"]) and metrics["domain_fid_floor"] >= 0, name
        with Image.open(repo / f"exports/{name}/grid.png") as grid:
            assert grid.mode == "RGB", name
        samples = np.load(repo / f"exports/{name}/samples.npz")["images"]
        assert samples.shape[1:] == (SIZE, SIZE, 3), name
        checks = json.loads((repo / f"exports/{name}/formats/checks.json").read_text())
        assert checks["onnx"]["max_abs_difference"] <= checks["tolerance"], name
        assert checks["saved_model"]["max_abs_difference"] <= checks["tolerance"], name
    cgan = json.loads((repo / "metrics/cgan.json").read_text())
    assert 0 <= cgan["conditional_accuracy"] <= 1
    # The conditional grid: a row per class.
    with Image.open(repo / "exports/cgan/grid.png") as grid:
        assert grid.size[1] == CLASSES * (SIZE + 2) + 2


def test_the_roadmap_s_noise_presets_train_evaluate_export_and_report(repo):
    infogan = json.loads((repo / "metrics/infogan.json").read_text())
    assert 0 < infogan["code_accuracy"] <= 1 and "conditional_accuracy" not in infogan
    task = json.loads((repo / "trained/infogan/task.json").read_text())
    assert task == {"kind": "generation", "continuous_codes": 2}
    # The code sweep: a row per code value (3) in a block per continuous code (2).
    sweep = np.asarray(Image.open(repo / "exports/infogan/interpolation.png"))
    assert sweep.shape[0] == CLASSES * 2 * (SIZE + 2) + 2
    history = (repo / "trained/unrolled/history.csv").read_text().splitlines()[0]
    assert history.startswith("epoch,d_loss,g_loss")
    summary = (repo / "reports/summary.md").read_text()
    assert "| Categorical-code accuracy |" in summary
    for name in MODELS:
        assert f"### {name}" in summary


def test_a_changed_file_in_the_folder_makes_prepare_stale(repo):
    assert "up to date" in run(repo, "dvc", "status").stdout
    extra = repo / FOLDER / "disc" / "extra.png"
    Image.new("RGB", (72, 72), (9, 9, 9)).save(extra)
    try:
        status = run(repo, "dvc", "status").stdout
        assert "prepare:" in status and "modified:           data/raw" in status, status
    finally:
        extra.unlink()
    assert "up to date" in run(repo, "dvc", "status").stdout
