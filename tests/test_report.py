"""The report: the Markdown summary (a column per model, the floor beside, a clear error for
a gap) and the plot data (the histories of exactly the listed models, in plot-friendly CSVs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from workspace import run_stage, write_params

from pipeline.errors import PipelineError
from pipeline.evaluation.across_seeds import summarise as summarise_seeds
from pipeline.report import (
    headline_table,
    load_model_metrics,
    plot_tables,
    summary_markdown,
    write_plot_tables,
    write_summary,
)

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
    (tmp_path / "metrics" / "seeds").mkdir(parents=True)
    for name, metrics in (("gan", metrics_of(20.0)), ("cgan", metrics_of(9.5, True))):
        (tmp_path / "metrics" / f"{name}.json").write_text(json.dumps(metrics))
        seeds = SEED_SUMMARIES[name]
        (tmp_path / "metrics" / "seeds" / f"{name}.json").write_text(json.dumps(seeds))
        (tmp_path / "exports" / name).mkdir(parents=True)
        (tmp_path / "exports" / name / "grid.png").write_bytes(b"png")
    return tmp_path


# gan over three seeds (its own 20 among them), cgan over its own seed alone.
SEED_SUMMARIES = {
    "gan": summarise_seeds(
        {42: {"domain_fid": 20.0, "kid": 0.25}, 43: {"domain_fid": 23.0}, 44: {"domain_fid": 17.0}}
    ),
    "cgan": summarise_seeds({42: {"domain_fid": 9.5}}),
}


def test_a_metric_s_mean_and_sample_spread_over_seeds():
    gan = SEED_SUMMARIES["gan"]
    assert gan["seeds"] == [42, 43, 44] and gan["n"] == 3
    assert gan["mean"] == {"domain_fid": 20.0}  # kid: not every seed has it
    assert gan["std"]["domain_fid"] == pytest.approx(3.0)  # n - 1 in the denominator
    assert SEED_SUMMARIES["cgan"] == {"seeds": [42], "n": 1, "mean": {"domain_fid": 9.5}}


def test_the_summary_and_the_comparison_give_mean_and_spread_over_seeds(outputs):
    metrics = load_model_metrics(["gan", "cgan"], outputs / "metrics")
    grids = {"gan": "g.png", "cgan": "c.png"}
    lines = summary_markdown(metrics, grids, {}, SEED_SUMMARIES).splitlines()
    assert "## Over seeds" in lines
    assert "| metric | better | gan (n=3) | cgan (n=1) |" in lines
    assert "| Domain FID | ↓ | 20 ± 3 | 9.5 |" in lines
    comparison = headline_table(metrics, SEED_SUMMARIES)
    assert comparison["domain_fid_mean"] == {"gan": 20.0}
    assert comparison["domain_fid_std"] == {"gan": pytest.approx(3.0)}
    one_seed = {"gan": SEED_SUMMARIES["cgan"], "cgan": SEED_SUMMARIES["cgan"]}
    assert "## Over seeds" not in summary_markdown(metrics, grids, {}, one_seed)
    assert "domain_fid_std" not in headline_table(metrics, one_seed)


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


def test_noise_and_image_to_image_models_get_a_table_each(outputs):
    # A translation model's metrics sit beside its own baseline, not the real floor.
    pix2pix = {"psnr": 21.8, "psnr_baseline": 11.8, "l1": 0.052, "l1_baseline": 0.301}
    pix2pix["num_samples"] = 100
    (outputs / "metrics" / "pix2pix.json").write_text(json.dumps(pix2pix))
    (outputs / "exports" / "pix2pix").mkdir()
    (outputs / "exports" / "pix2pix" / "grid.png").write_bytes(b"png")
    lines = summarise(outputs, ["gan", "pix2pix"]).read_text().splitlines()
    split = lines.index("## Image-to-image models")
    noise_models, translators = lines[:split], lines[split:]
    assert "| metric | better | real floor | gan |" in noise_models
    assert "| metric | better | pix2pix |" in translators
    assert "| PSNR (dB) | ↑ | 21.8 (11.8) |" in translators, translators
    metrics = {
        name: json.loads((outputs / "metrics" / f"{name}.json").read_text())
        for name in ("gan", "pix2pix")
    }
    headline = headline_table(metrics)
    assert list(headline["domain_fid"]) == ["gan"]
    assert headline["psnr"] == {"pix2pix": 21.8}
    assert headline["baseline"]["psnr"] == {"pix2pix": 11.8}


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


GAN_HISTORY = (
    "epoch,d_loss,g_loss,d_acc_real,d_acc_fake\n"
    "1,0.84915,1.0055,0.98,0.43\n2,1.2461,0.9541,0.86,0.29\n"
)
WGAN_HISTORY = "epoch,d_loss,g_loss,wasserstein\n1,-2.527,-0.656,2.527\n2,-6.667,-12.81,6.667\n"
GAN_QUALITY = (
    "epoch,domain_fid,classifier_score,classes_covered,class_kl\n"
    "0,239.5,1.07,3,1.58\n2,185.6,1.43,5,1.44\n"
)
CGAN_QUALITY = "epoch,domain_fid,conditional_accuracy\n0,230.1,0.1\n"
# Scoring off (`eval_every: 0`): the header only.
WGAN_QUALITY = "epoch,domain_fid,classifier_score,classes_covered,class_kl\n"


def write_histories(root: Path) -> Path:
    """`trained/<name>/history.csv` and `quality.csv` as training writes them."""
    for name, history, quality in (
        ("gan", GAN_HISTORY, GAN_QUALITY),
        ("cgan", GAN_HISTORY, CGAN_QUALITY),
        ("wgan", WGAN_HISTORY, WGAN_QUALITY),
    ):
        (root / "trained" / name).mkdir(parents=True, exist_ok=True)
        (root / "trained" / name / "history.csv").write_text(history)
        (root / "trained" / name / "quality.csv").write_text(quality)
    return root / "trained"


def rows(text: str) -> list[str]:
    return text.splitlines()


def test_plot_data_a_panel_per_model_and_a_column_per_quality_metric(tmp_path):
    tables = plot_tables(["wgan", "gan"], write_histories(tmp_path))
    write_plot_tables(tables, tmp_path / "plots")
    losses = rows((tmp_path / "plots" / "losses.csv").read_text())
    # Long format, in the models' order, values exactly as training wrote them.
    assert losses == [
        "epoch,model,series,value",
        "1,wgan,d_loss,-2.527",
        "1,wgan,g_loss,-0.656",
        "2,wgan,d_loss,-6.667",
        "2,wgan,g_loss,-12.81",
        "1,gan,d_loss,0.84915",
        "1,gan,g_loss,1.0055",
        "2,gan,d_loss,1.2461",
        "2,gan,g_loss,0.9541",
    ]
    accuracy = rows((tmp_path / "plots" / "discriminator_accuracy.csv").read_text())
    assert accuracy[1:3] == ["1,gan,d_acc_real,0.98", "1,gan,d_acc_fake,0.43"]
    assert len(accuracy) == 5, "the Wasserstein critic has no accuracy"
    quality = rows((tmp_path / "plots" / "quality.csv").read_text())
    # wgan was never scored: its header still names the columns, it adds no rows.
    assert quality == [
        "epoch,model,domain_fid,classifier_score,classes_covered,class_kl",
        "0,gan,239.5,1.07,3,1.58",
        "2,gan,185.6,1.43,5,1.44",
    ]


def test_plot_data_quality_columns_are_the_union_and_blank_where_a_model_has_none(tmp_path):
    tables = plot_tables(["cgan", "gan"], write_histories(tmp_path))
    assert tables["quality.csv"] == [
        ["epoch", "model", "domain_fid", "conditional_accuracy", "classifier_score"]
        + ["classes_covered", "class_kl"],
        ["0", "cgan", "230.1", "0.1", "", "", ""],
        ["0", "gan", "239.5", "", "1.07", "3", "1.58"],
        ["2", "gan", "185.6", "", "1.43", "5", "1.44"],
    ]


def test_plot_data_holds_only_the_listed_models(tmp_path):
    # `dvc exp run -S 'models=[gan]'` leaves the other models' files in place.
    tables = plot_tables(["gan"], write_histories(tmp_path))
    for name, table in tables.items():
        assert {row[1] for row in table[1:]} == {"gan"}, name


def test_plot_data_replaces_the_folder(tmp_path):
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "stale.csv").write_text("from a model no longer listed")
    write_plot_tables(plot_tables(["gan"], write_histories(tmp_path)), tmp_path / "plots")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "discriminator_accuracy.csv",
        "losses.csv",
        "quality.csv",
    ]


def test_plot_data_a_missing_history_names_the_train_stage(tmp_path):
    models = write_histories(tmp_path)
    (models / "wgan" / "quality.csv").unlink()
    with pytest.raises(
        PipelineError, match=r"wgan/quality\.csv: not found; run `dvc repro train@wgan`"
    ):
        plot_tables(["gan", "wgan"], models)
    (models / "gan" / "history.csv").write_text("epoch,d_loss\n1,0.5\n")
    with pytest.raises(PipelineError, match=r"gan/history\.csv: no g_loss column"):
        plot_tables(["gan"], models)


def test_the_stage_writes_the_summary_and_the_plot_data_of_the_listed_models(outputs):
    write_params(outputs, {"models": ["gan"], "gan": {}})
    write_histories(outputs)
    done = run_stage(outputs, "report")
    assert done.returncode == 0, done.stderr
    assert "| metric | better | real floor | gan |" in (outputs / "reports/summary.md").read_text()
    losses = (outputs / "reports/plots/losses.csv").read_text()
    assert "1,gan,d_loss,0.84915" in losses and "wgan" not in losses
    comparison = json.loads((outputs / "reports/headline.json").read_text())
    gan = json.loads((outputs / "metrics/gan.json").read_text())
    assert comparison["domain_fid"] == {"gan": gan["domain_fid"]}
    assert comparison["floor"]["domain_fid"] == gan["domain_fid_floor"]


def test_the_stage_checks_every_input_before_writing(outputs):
    write_params(outputs, {"models": ["gan", "cgan"], "gan": {}, "cgan": {"family": "cgan"}})
    write_histories(outputs)
    (outputs / "trained" / "cgan" / "history.csv").unlink()
    done = run_stage(outputs, "report")
    assert done.returncode == 2, done.stderr
    assert "run `dvc repro train@cgan` first" in done.stderr
    assert not (outputs / "reports").exists(), "neither the summary nor the plots are written"
