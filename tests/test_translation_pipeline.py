"""End to end: a tiny `dvc repro` of the course's other systems, then translating a folder.

One model of each paired kind (pix2pix, srgan, context_encoder), the unpaired
CycleGAN and a coupled GAN (cogan), on the derived domains of the offline
digits: each trains, evaluates against its baseline, exports, and the report
shows them. (The default noise models' stages are tests/test_pipeline.py's;
the roadmap's noise presets run on a colour folder in
tests/test_folder_pipeline.py.)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from repo_copy import TINY_PARAMS, clean_env, copy_repo, run

pytestmark = pytest.mark.slow

TRANSLATORS = ("pix2pix", "srgan", "context_encoder")
TINY_TRAIN = {"epochs": 1, "batch_size": 500, "grid_size": 3, "eval_samples": 50}
TINY_TRANSLATION = {
    "prepare": {"domains": ["edges", "low_res", "masked", "negative"]},
    "models": [*TRANSLATORS, "cyclegan", "cogan"],
    "pix2pix": {
        "family": "pix2pix",
        "generator": {"kind": "unet", "filters": 4},
        "discriminator": {"kind": "patchgan", "filters": 4},
        "train": TINY_TRAIN,
    },
    "srgan": {
        "family": "srgan",
        "generator": {"kind": "srresnet", "filters": 4, "blocks": 1},
        "discriminator": {"kind": "srgan", "filters": 4, "dense_units": 8},
        "train": TINY_TRAIN,
    },
    "context_encoder": {
        "family": "context_encoder",
        "generator": {"kind": "unet", "filters": 4},
        "discriminator": {"kind": "patchgan", "filters": 4},
        "train": TINY_TRAIN,
    },
    "cyclegan": {
        "family": "cyclegan",
        "generator": {"kind": "resnet", "filters": 4, "blocks": 1},
        "discriminator": {"kind": "patchgan", "filters": 4, "norm": "instance"},
        # Without the identity term: two generator passes of six fewer per step, the
        # costliest train stage here; tests/test_cyclegan.py's steps check that term.
        "identity_weight": 0.0,
        "train": TINY_TRAIN,
    },
    # Digits and their edge maps (the preset's domains), each from its own half.
    "cogan": {"family": "cogan", "network": {"filters": 4, "latent_dim": 8}, "train": TINY_TRAIN},
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    # The noise models' tiny settings (evaluator, evaluate, export), these models; no
    # serving formats (tests/test_formats.py converts a translator).
    export = {**TINY_PARAMS["export"], "formats": []}
    params = {**TINY_PARAMS, **TINY_TRANSLATION, "export": export}
    root = copy_repo(tmp_path_factory.mktemp("translation"), params)
    run(root, "dvc", "repro")
    return root


def test_each_translation_model_is_scored_beside_its_baseline(repo):
    baselines = {"pix2pix": "mean_target", "srgan": "bicubic", "context_encoder": "mean_fill"}
    for name in TRANSLATORS:
        task = json.loads((repo / f"trained/{name}/task.json").read_text())
        assert task["kind"] == "paired_translation" and task["baseline"] == baselines[name]
        metrics = json.loads((repo / f"metrics/{name}.json").read_text())
        for key in ("l1", "psnr", "ssim", "output_fid"):
            assert np.isfinite(metrics[key]) and np.isfinite(metrics[f"{key}_baseline"]), name
        assert (repo / f"trained/{name}/networks/discriminator.keras").is_file()
        for name_export in ("grid.png", "interpolation.png", "samples.npz"):
            assert (repo / f"exports/{name}/{name_export}").is_file()
    # Bicubic upsampling of the 2x2 means is a strong baseline: about 20 dB on digits.
    srgan = json.loads((repo / "metrics/srgan.json").read_text())
    assert 15 < srgan["psnr_baseline"] < 25
    summary = (repo / "reports/summary.md").read_text()
    assert "## Image-to-image models" in summary
    assert "| metric | better | pix2pix | srgan | context_encoder | cyclegan | cogan |" in summary
    comparison = json.loads((repo / "reports/headline.json").read_text())
    assert (
        set(comparison["psnr"]) == {*TRANSLATORS, "cyclegan"} == set(comparison["baseline"]["psnr"])
    )


def test_cyclegan_is_scored_on_its_cycle_and_the_digits_it_keeps(repo):
    task = json.loads((repo / "trained/cyclegan/task.json").read_text())
    assert task == {
        "kind": "unpaired_translation",
        "family": "cyclegan",
        "input": "A",
        "target": "negative",
    }
    for stem in ("discriminator", "inverse_generator", "inverse_discriminator"):
        assert (repo / f"trained/cyclegan/networks/{stem}.keras").is_file(), stem
    metrics = json.loads((repo / "metrics/cyclegan.json").read_text())
    # The negatives pair up with the digits, so the pixel metrics come too; not output_fid.
    for key in ("digit_preservation", "cycle_l1", "target_fid", "l1", "psnr", "ssim"):
        assert np.isfinite(metrics[key]) and np.isfinite(metrics[f"{key}_baseline"]), key
    assert "output_fid" not in metrics
    assert 0.5 < metrics["target_classifier_accuracy"] <= 1.0
    quality = (repo / "trained/cyclegan/quality.csv").read_text().splitlines()
    assert quality[0].split(",") == ["epoch", "l1", "psnr", "cycle_l1"]
    summary = (repo / "reports/summary.md").read_text()
    assert "| Digit preserved |" in summary and "| Cycle L1 |" in summary
    grid = np.asarray(Image.open(repo / "exports/cyclegan/grid.png"))
    assert grid.shape[0] == 3 * (28 + 2) + 2


def test_cogan_is_scored_by_its_pixel_agreement_and_exports_both_domains(repo):
    task = json.loads((repo / "trained/cogan/task.json").read_text())
    assert task == {
        "kind": "coupled_generation",
        "family": "cogan",
        "first": "A",
        "second": "edges",
    }
    metrics = json.loads((repo / "metrics/cogan.json").read_text())
    for key in ("pixel_agreement", "foreground_agreement", "output_fid"):
        assert np.isfinite(metrics[key]) and np.isfinite(metrics[f"{key}_baseline"])
    assert "psnr" not in metrics
    for network in ("discriminator", "second_generator", "second_discriminator"):
        assert (repo / f"trained/cogan/networks/{network}.keras").is_file()
    quality = (repo / "trained/cogan/quality.csv").read_text().splitlines()[0].split(",")
    assert {"domain_fid", "pixel_agreement", "foreground_agreement"} <= set(quality)
    data = np.load(repo / "exports/cogan/samples.npz")
    assert data["first"].shape == data["second"].shape == (len(data["z"]), 28, 28, 1)
    grid = np.asarray(Image.open(repo / "exports/cogan/grid.png"))
    # grid_size 3 (the tiny export's): one pair of rows, G1(z) above G2(z), 3 columns.
    assert grid.shape[:2] == (2 * (28 + 2) + 2, 3 * (28 + 2) + 2)
    summary = (repo / "reports/summary.md").read_text()
    # Its own column of the image-to-image table: the score beside its baseline's.
    row = re.search(r"^\| Pixel agreement \| ↑ \|.* ([0-9.]+) \(([0-9.]+)\) \|$", summary, re.M)
    assert row and float(row[1]) == pytest.approx(metrics["pixel_agreement"], rel=1e-3)
    comparison = json.loads((repo / "reports/headline.json").read_text())
    assert list(comparison["pixel_agreement"]) == ["cogan"]


def test_the_export_grid_shows_inputs_outputs_and_targets(repo):
    grid = np.asarray(Image.open(repo / "exports/srgan/grid.png"))
    # Three rows (input, output, target) of 28x28 cells, padded by 2.
    assert grid.shape[0] == 3 * (28 + 2) + 2
    data = np.load(repo / "exports/srgan/samples.npz")
    assert data["inputs"].shape[1:] == (14, 14, 1)
    assert data["outputs"].shape[1:] == data["targets"].shape[1:] == (28, 28, 1)


def test_dvc_reruns_nothing_and_the_logged_model_takes_an_image(repo):
    status = run(repo, "dvc", "status")
    assert "up to date" in status.stdout, status.stdout
    import mlflow

    from pipeline.tracking.store import serve_artifacts_locally

    serve_artifacts_locally()  # the store's mlflow-artifacts:/ URIs, read from its folder
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow' / 'mlflow.db'}")
    reference = json.loads((repo / "trained/pix2pix/run.json").read_text())
    finished = mlflow.MlflowClient().get_run(reference["run_id"])
    assert finished.info.status == "FINISHED"
    assert finished.data.tags["task"] == "edges -> A"
    info = mlflow.models.get_model_info(f"models:/{reference['model_id']}")
    assert info.signature.inputs.input_names() == ["image"]


def test_generate_translates_a_folder_with_the_trained_pix2pix(repo, tmp_path):
    folder = tmp_path / "edges"
    folder.mkdir()
    edges = np.load(repo / "exports/pix2pix/samples.npz")["inputs"][:3]
    for index, image in enumerate(edges):
        pixels = np.round((image[..., 0] + 1) * 127.5).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"digit{index}.png")
    out = tmp_path / "translated"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.generate", "pix2pix", "--input", str(folder)]
        + ["--out", str(out)],
        cwd=repo,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = sorted(path.name for path in out.iterdir())
    assert written == ["digit0.png", "digit1.png", "digit2.png"]
    assert np.asarray(Image.open(out / "digit0.png")).shape == (28, 28)
