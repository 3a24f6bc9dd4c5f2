"""The Markdown summary: a column per model, the floor beside, and a clear error for a gap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import PipelineError
from pipeline.report import write_summary

SIZES = {
    "num_samples": 100,
    "num_classes": 10,
    "kid_subsets": 10,
    "kid_subset_size": 50,
    "classifier_score_splits": 10,
    "precision_recall_k": 3,
    "density_coverage_k": 5,
}


def metrics_of(fid: float, conditional: bool = False) -> dict:
    metrics = {
        "domain_fid": fid,
        "domain_fid_floor": 1.5,
        "kid": 0.25,
        "kid_floor": -0.01,
        "kid_std": 0.0123,
        "kid_std_floor": 0.01,
        "classes_covered": 9,
        "classes_covered_floor": 10,
        **SIZES,
    }
    if conditional:
        metrics.update(conditional_accuracy=0.9, conditional_accuracy_floor=0.97)
    return metrics


@pytest.fixture
def outputs(tmp_path) -> Path:
    for name, metrics in (("gan", metrics_of(20.0)), ("cgan", metrics_of(9.5, True))):
        (tmp_path / "metrics").mkdir(exist_ok=True)
        (tmp_path / "metrics" / f"{name}.json").write_text(json.dumps(metrics))
        (tmp_path / "exports" / name).mkdir(parents=True)
        (tmp_path / "exports" / name / "grid.png").write_bytes(b"png")
    return tmp_path


def summarise(root: Path, models: list[str]) -> Path:
    out = root / "reports" / "summary.md"
    write_summary(models, root / "metrics", root / "exports", root / "evaluator.json", out)
    return out


def test_a_column_per_model_and_the_floor_beside(outputs):
    lines = summarise(outputs, ["gan", "cgan"]).read_text().splitlines()
    assert "| metric | better | real floor | gan | cgan |" in lines
    assert "| Domain FID | ↓ | 1.5 | 20 | 9.5 |" in lines
    assert "| KID | ↓ | -0.01 | 0.25 ± 0.012 | 0.25 ± 0.012 |" in lines
    assert "| Classes covered | ↑ | 10 | 9 | 9 |" in lines
    # Only the conditional model has a conditional accuracy.
    assert "| Conditional accuracy | ↑ | 0.97 | – | 0.9 |" in lines
    assert not any(line.startswith("| Precision") for line in lines), "absent metrics get no row"
    assert "![gan: final samples](../exports/gan/grid.png)" in lines


def test_a_missing_metrics_file_names_the_stage_and_writes_nothing(outputs):
    (outputs / "metrics" / "cgan.json").unlink()
    expected = r"cgan\.json: not found; run `dvc repro evaluate@cgan`"
    with pytest.raises(PipelineError, match=expected):
        summarise(outputs, ["gan", "cgan"])
    assert not (outputs / "reports" / "summary.md").exists()


def test_a_missing_grid_names_the_export_stage(outputs):
    (outputs / "exports" / "gan" / "grid.png").unlink()
    with pytest.raises(PipelineError, match=r"run `dvc repro export@gan` first"):
        summarise(outputs, ["gan"])
