"""A model over several seeds, end to end: the `seeds` stage, killed and resumed, then reported.

The session's trained tiny `gan` (tests/workspace.py) with `seeds: [43, 44]`,
its stages run as dvc.yaml gives them: evaluate and export, then the seeds
stage, SIGKILLed after the first extra seed (tests/killer.py), then run
again, keeping that seed, then the report. Checked: the replicates, the
mean and sample standard deviation in `metrics/seeds/gan.json`, the
report's table and comparison, and MLflow's record (each seed a FINISHED
run tagged with the model's run, an evaluate child each, the summary on the
model's run, one registered version). That `dvc repro` runs the stage in
its place is tests/test_pipeline.py's (with no extra seed) and
tests/test_dependencies.py's.
"""

from __future__ import annotations

import json
import subprocess
from statistics import mean, stdev

import pytest
from conftest import REPO_ROOT
from workspace import TINY_PARAMS, run_stage, stage_command, trained_workspace, write_params

pytestmark = pytest.mark.slow

SEEDS = [43, 44]


def _run(root, *stage: str) -> str:
    done = run_stage(root, *stage)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = trained_workspace(tmp_path_factory.mktemp("seeds") / "ws")
    write_params(root, {**TINY_PARAMS, "seeds": SEEDS})
    for stage in ("evaluate", "export"):
        _run(root, stage, "gan")
    command, env = stage_command("seeds", "gan")
    killer = [command[0], str(REPO_ROOT / "tests" / "killer.py"), "before_the_second_seed"]
    killed = subprocess.run(
        [*killer, "seeds", *command[3:]], cwd=root, env=env, capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert not (root / "replicates/gan").exists() and not (root / "metrics/seeds").exists()
    stdout = _run(root, "seeds", "gan")
    _run(root, "report")
    return root, stdout


def test_a_rerun_keeps_the_seed_the_killed_attempt_finished(repo):
    _, stdout = repo
    assert "(seed 43): kept from the interrupted attempt" in stdout
    assert "(seed 44): domain_fid" in stdout
    assert not (repo[0] / "checkpoints/gan.seeds").exists()


def test_each_seed_s_scores_and_their_mean_and_spread(repo):
    root, _ = repo
    for seed in SEEDS:
        assert (root / f"replicates/gan/seed_{seed}/generator.keras").is_file()
    per_seed = json.loads((root / "replicates/gan/metrics.json").read_text())
    assert list(per_seed) == ["42", "43", "44"]
    primary = json.loads((root / "metrics/gan.json").read_text())
    assert per_seed["42"]["domain_fid"] == primary["domain_fid"]
    fids = [per_seed[seed]["domain_fid"] for seed in per_seed]
    assert len(set(fids)) == 3  # each seed trained its own model
    summary = json.loads((root / "metrics/seeds/gan.json").read_text())
    assert summary["seeds"] == [42, *SEEDS] and summary["n"] == 3
    assert summary["mean"]["domain_fid"] == pytest.approx(mean(fids))
    assert summary["std"]["domain_fid"] == pytest.approx(stdev(fids))


def test_the_report_shows_mean_and_spread(repo):
    root, _ = repo
    report = (root / "reports/summary.md").read_text()
    assert "## Over seeds" in report and "| gan (n=3) |" in report
    summary = json.loads((root / "metrics/seeds/gan.json").read_text())
    fid = f"{summary['mean']['domain_fid']:.4g} ± {summary['std']['domain_fid']:.2g}"
    assert f"| Domain FID | ↓ | {fid} |" in report
    comparison = json.loads((root / "reports/headline.json").read_text())
    assert comparison["domain_fid_std"]["gan"] == pytest.approx(summary["std"]["domain_fid"])
    assert comparison["domain_fid_mean"]["gan"] == pytest.approx(summary["mean"]["domain_fid"])


def test_mlflow_groups_the_seeds_under_the_model_s_run(repo):
    from mlflow import MlflowClient

    root, _ = repo
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    primary_id = json.loads((root / "trained/gan/run.json").read_text())["run_id"]
    experiment = client.get_experiment_by_name("gan-pipeline").experiment_id
    seeds = client.search_runs([experiment], f"tags.`seeds.primary_run` = '{primary_id}'")
    assert sorted(seed.data.tags["seeds.seed"] for seed in seeds) == ["43", "44"]
    assert {seed.info.status for seed in seeds} == {"FINISHED"}
    for seed in seeds:
        children = client.search_runs(
            [experiment], f"tags.mlflow.parentRunId = '{seed.info.run_id}'"
        )
        assert [child.data.tags["stage"] for child in children] == ["evaluate"]
    primary = client.get_run(primary_id)
    assert primary.data.tags["seeds"] == "42, 43, 44"
    summary = json.loads((root / "metrics/seeds/gan.json").read_text())
    logged = primary.data.metrics["seeds.domain_fid.std"]
    assert logged == pytest.approx(summary["std"]["domain_fid"])
    # Only the train stage's training is a registered version.
    assert [str(v.version) for v in client.search_model_versions("name = 'gan'")] == ["1"]
