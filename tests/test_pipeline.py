"""End to end: the real `dvc` CLI on a copy of the repo, and the real sqlite MLflow store."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO_ROOT
from dvcyaml import PATHS, stage_argv
from repo_copy import TINY_PARAMS, clean_env, copy_repo, git, run

from pipeline.tracking.store import DB_FILE, STORE_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A copy of the repo after one `dvc repro` with tiny params."""
    root = copy_repo(tmp_path_factory.mktemp("repo"))
    run(root, "dvc", "repro")
    return root


@pytest.fixture(scope="module")
def mlflow_client(repo):
    from mlflow import MlflowClient

    from pipeline.tracking.store import serve_artifacts_locally

    serve_artifacts_locally()  # the store's mlflow-artifacts:/ URIs, read from its folder

    return MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow' / 'mlflow.db'}")


@pytest.fixture(scope="module")
def gan_run(repo, mlflow_client):
    reference = json.loads((repo / "trained/gan/run.json").read_text())
    return mlflow_client.get_run(reference["run_id"])


def test_repro_writes_every_declared_output(repo):
    for name in (
        "data/prepared/info.json",
        "trained/evaluator/classifier.keras",
        "metrics/evaluator.json",
        "trained/gan/generator.keras",
        "trained/gan/history.csv",
        "trained/gan/quality.csv",
        "trained/gan/samples/epoch_000.png",
        "trained/gan/samples/epoch_002.png",
        "metrics/gan.json",
        "metrics/headline/gan.json",
        "reports/headline.json",
        "exports/gan/grid.png",
        "exports/gan/interpolation.png",
        "exports/gan/samples.npz",
        "exports/gan/formats/generator.onnx",
        "exports/gan/formats/saved_model/saved_model.pb",
        "reports/summary.md",
    ):
        assert (repo / name).is_file(), name
    # No extra seeds: the seeds stage wrote the one seed's scores, and the report no spread.
    one_seed = json.loads((repo / "metrics/seeds/gan.json").read_text())
    assert one_seed["seeds"] == [42] and one_seed["n"] == 1 and "std" not in one_seed
    assert "## Over seeds" not in (repo / "reports/summary.md").read_text()
    for model in ("gan", "cgan", "wgan_gp"):  # each format loaded back and checked
        checks = json.loads((repo / f"exports/{model}/formats/checks.json").read_text())
        for name in ("saved_model", "onnx"):
            assert checks[name]["max_abs_difference"] <= checks["tolerance"] == 1e-4, model
    assert (repo / "trained/wgan_gp/quality.csv").read_text() == "epoch\n"
    assert not (repo / "checkpoints/gan").exists()
    assert not (repo / "mlruns").exists(), "MLflow wrote outside the repo's store"


def test_second_repro_has_nothing_to_do(repo):
    done = run(repo, "dvc", "repro")
    assert "Data and pipelines are up to date" in done.stdout
    assert "Running stage" not in done.stdout


def workspace_files(root: Path) -> dict[str, tuple[str, int]]:
    """Every file of a checkout but git's and DVC's own folders: its sha256 and mtime (ns)."""
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] not in (".git", ".dvc"):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            files[relative.as_posix()] = (digest, path.stat().st_mtime_ns)
    return files


def contents(files: dict[str, tuple[str, int]]) -> dict[str, str]:
    return {name: digest for name, (digest, _mtime) in files.items()}


def test_a_pushed_result_is_complete_in_a_fresh_clone_and_reproduces_nothing(repo, tmp_path):
    """The README's "Sharing results with a team": commit, `dvc push`; a colleague's
    `git clone` and `dvc pull` get every output, and `dvc repro` there trains nothing."""
    # Here, second in the file, the module's repo is still as `dvc repro` left it
    # (later tests edit it). Work on a copy, so that the commit and the remote
    # below leave the module's repo as the later tests expect it (HEAD, config).
    origin = tmp_path / "origin"
    shutil.copytree(repo, origin, symlinks=True)
    assert json.loads(run(origin, "dvc", "status", "--json").stdout) == {}, "not reproduced"
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "results")
    # Per user (.dvc/config.local, git-ignored): the committed .dvc/config names no
    # remote, since a path that exists on one machine would break `dvc push` elsewhere.
    storage = tmp_path / "storage"
    run(origin, "dvc", "remote", "add", "--local", "-d", "shared", str(storage))
    assert run(origin, "git", "status", "--porcelain").stdout == "", "left out of the commit"
    pushed = run(origin, "dvc", "push")
    assert re.search(r"\b\d+ files? pushed", pushed.stdout), pushed.stdout
    assert "in sync" in run(origin, "dvc", "status", "--cloud").stdout

    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(origin), str(clone))
    generator = Path(PATHS["models"]) / "gan" / "generator.keras"
    assert not (clone / generator).exists(), "a DVC output reached git"
    run(clone, "dvc", "remote", "add", "--local", "-d", "shared", str(storage))
    run(clone, "dvc", "pull")

    # Every file but the MLflow store and the checkpoints' lock files, byte for byte:
    # the outputs DVC caches from the remote, and from git what it keeps there
    # (dvc.lock, resolved/, the `cache: false` metrics, histories and summary).
    expected = contents(workspace_files(origin))
    pulled = workspace_files(clone)
    left_behind = set(expected) - set(pulled)
    unshared = {STORE_DIR, Path(PATHS["locks"]).parts[0]}  # git-ignored, and no DVC output
    assert {Path(name).parts[0] for name in left_behind} <= unshared, left_behind
    assert f"{STORE_DIR}/{DB_FILE}" in left_behind
    assert contents(pulled) == {name: expected[name] for name in pulled}
    assert "Data and pipelines are up to date." in run(clone, "dvc", "status").stdout

    reproduced = run(clone, "dvc", "repro")
    assert "Running stage" not in reproduced.stdout, reproduced.stdout
    stages = set(run(clone, "dvc", "stage", "list", "--name-only").stdout.split())
    skipped = set(re.findall(r"Stage '([^']+)' didn't change, skipping", reproduced.stdout))
    assert skipped == stages, reproduced.stdout
    assert workspace_files(clone) == pulled, "dvc repro rewrote or touched a file"
    assert not (clone / STORE_DIR / DB_FILE).exists(), "a stage ran and opened a store"

    # What works there without the store: generating from the pulled generator by
    # name. A logged model's URI needs the store (or a tracking server): one line.
    made = run(clone, sys.executable, "-m", "pipeline.generate", "gan", "-n", "4", "--out", "g.npz")
    with np.load(clone / "g.npz") as generated:
        assert generated["images"].shape == (4, 28, 28, 1), made.stderr
    model_id = json.loads((clone / generator.with_name("run.json")).read_text())["model_id"]
    refused = run(
        clone,
        sys.executable,
        "-m",
        "pipeline.generate",
        f"models:/{model_id}",
        "--out",
        "m.npz",
        check=False,
    )
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: models:/{model_id}: there is no MLflow store at "), line


def test_exp_apply_head_brings_back_the_committed_params_and_outputs(repo, tmp_path):
    """The README's way back after `dvc exp run`: `dvc exp apply HEAD`."""
    workspace = tmp_path / "workspace"
    shutil.copytree(repo, workspace, symlinks=True)
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "results")
    committed = workspace_files(workspace)
    # An experiment that re-runs one export (a target: the other exports and the
    # report are left stale in it): seconds.
    run(workspace, "dvc", "exp", "run", "-S", "export.interpolation_steps=3", "export@gan")
    changed = contents(workspace_files(workspace))
    assert changed["params.yaml"] != committed["params.yaml"][0]
    assert changed["exports/gan/interpolation.png"] != committed["exports/gan/interpolation.png"][0]
    run(workspace, "dvc", "exp", "apply", "HEAD")
    # Every file as committed, but the MLflow store, which keeps the experiment's runs.
    unshared = (STORE_DIR, Path(PATHS["locks"]).parts[0])
    restored = contents(workspace_files(workspace))
    assert {n: d for n, d in restored.items() if not n.startswith(unshared)} == {
        n: d for n, d in contents(committed).items() if not n.startswith(unshared)
    }
    assert run(workspace, "git", "status", "--porcelain").stdout == ""
    assert "Data and pipelines are up to date." in run(workspace, "dvc", "status").stdout


METRICS = (
    "domain_fid",
    "kid",
    "kid_std",
    "classifier_score",
    "classifier_score_std",
    "precision",
    "recall",
    "density",
    "coverage",
    "classes_covered",
    "class_kl",
)
SIZES = {
    "num_samples": 200,
    "num_classes": 10,
    "kid_subsets": 10,
    "kid_subset_size": 100,
    "classifier_score_splits": 10,
    "precision_recall_k": 3,
    "density_coverage_k": 5,
}


# The README's commands for a table that fits a 120-column terminal.
EXP_SHOW_ONE_METRIC = (
    *("dvc", "exp", "show", "--no-pager"),
    *("--drop", ".*", "--keep", r"Experiment|Created|domain_fid\."),
)
METRICS_SHOW_PER_MODEL = ("dvc", "metrics", "show", "metrics/headline")


def test_exp_show_lists_one_short_column_per_model_and_metric(repo):
    shown = json.loads(run(repo, "dvc", "metrics", "show", "--json").stdout)
    files = {path: entry["data"] for path, entry in shown[""]["data"].items()}
    assert set(files) == {"reports/headline.json", "metrics/evaluator.json"}
    comparison = files["reports/headline.json"]
    full = {m: json.loads((repo / f"metrics/{m}.json").read_text()) for m in TINY_PARAMS["models"]}
    assert list(comparison["domain_fid"]) == TINY_PARAMS["models"], "params.yaml's order"
    assert comparison["domain_fid"] == {m: full[m]["domain_fid"] for m in full}
    assert comparison["conditional_accuracy"] == {"cgan": full["cgan"]["conditional_accuracy"]}
    assert comparison["floor"]["domain_fid"] == full["gan"]["domain_fid_floor"]
    header = run(repo, "dvc", "exp", "show", "--csv", "--no-pager").stdout.splitlines()[0]
    columns = header.split(",")
    # DVC keys its table by column name: a name twice (a param and a folder both
    # called `models`, once) misaligns the rows and makes `--drop` crash.
    assert len(columns) == len(set(columns)), sorted(c for c in columns if columns.count(c) > 1)
    assert columns[5:7] == ["domain_fid.gan", "domain_fid.cgan"], columns[:12]


def test_the_readmes_tables_fit_120_columns(repo):
    env = {**clean_env(), "COLUMNS": "120"}
    table = subprocess.run(
        EXP_SHOW_ONE_METRIC, cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout
    lines = table.splitlines()
    assert max(map(len, lines)) <= 120, table
    assert "…" not in table, table
    header = next(line for line in lines if "Experiment" in line)
    for model in TINY_PARAMS["models"]:
        assert f"domain_fid.{model}" in header.split(), header
    per_model = subprocess.run(
        METRICS_SHOW_PER_MODEL, cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert max(map(len, per_model.splitlines())) <= 120, per_model
    rows = [line.split()[0] for line in per_model.splitlines()[1:]]
    # A row per file: the tiny models', and the committed ones of the models it leaves out.
    files = (repo / "metrics/headline").glob("*.json")
    assert sorted(rows) == sorted(path.relative_to(repo).as_posix() for path in files)
    assert {f"metrics/headline/{m}.json" for m in TINY_PARAMS["models"]} <= set(rows)
    for model in TINY_PARAMS["models"]:
        headline = json.loads((repo / f"metrics/headline/{model}.json").read_text())
        full = json.loads((repo / f"metrics/{model}.json").read_text())
        assert headline and headline == {key: full[key] for key in headline}
        assert not any(key.endswith("_floor") for key in headline), headline
    # A parameter's name as a --drop pattern (the clash crashed DVC once).
    dropped = run(repo, "dvc", "exp", "show", "--csv", "--drop", "models|trained")
    assert "domain_fid.gan" in dropped.stdout.splitlines()[0]


def test_full_metrics_hold_every_metric_beside_its_floor(repo):
    accuracy = json.loads((repo / "metrics/evaluator.json").read_text())["test_accuracy"]
    assert 0.0 <= accuracy <= 1.0
    models = {
        name: json.loads((repo / f"metrics/{name}.json").read_text())
        for name in TINY_PARAMS["models"]
    }
    for name, metrics in models.items():
        for key in METRICS:
            assert np.isfinite(metrics[key]), (name, key)
            assert f"{key}_floor" in metrics, (name, key)
        assert metrics["domain_fid"] > metrics["domain_fid_floor"] >= 0
        assert 1.0 <= metrics["classifier_score"] <= 10.0
        assert 0 <= metrics["classes_covered"] <= 10
        assert {key: metrics[key] for key in SIZES} == SIZES
    # Every model is scored against the same real samples.
    assert len({m["domain_fid_floor"] for m in models.values()}) == 1
    cgan = models["cgan"]
    assert set(models["gan"]) < set(cgan), "a conditional model reports the shared keys and more"
    assert 0.0 <= cgan["conditional_accuracy"] <= 1.0
    assert cgan["conditional_cross_entropy"] > 0
    # The floor is the evaluator's accuracy on the first 200 real test images.
    assert cgan["conditional_accuracy_floor"] == pytest.approx(accuracy, abs=0.1)


def test_metrics_diff_compares_two_revisions(repo):
    # `dvc metrics diff` against the committed copy of the tiny repo (no metrics yet).
    diff = json.loads(run(repo, "dvc", "metrics", "diff", "--all", "--json").stdout)
    assert "domain_fid.wgan_gp" in diff["reports/headline.json"]


# A one-epoch evaluator has dead ReLU features, so the covariances are singular
# and sqrtm says so; its result still holds to the tolerance below.
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_domain_fid_recomputed_independently_from_the_exported_samples(repo):
    import keras
    import scipy.linalg

    classifier = keras.saving.load_model(repo / "trained/evaluator/classifier.keras")
    features = keras.Model(classifier.inputs, classifier.get_layer("features").output)
    with np.load(repo / "exports/gan/samples.npz") as saved:
        generated = features.predict(saved["images"], verbose=0).astype(np.float64)
    train = []
    for record in raw_records(repo / "data/prepared", "train", limit=200):
        train.append(record)
    real = features.predict(np.stack(train), verbose=0).astype(np.float64)
    mu1, mu2 = generated.mean(0), real.mean(0)
    s1, s2 = np.cov(generated, rowvar=False), np.cov(real, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    fid = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root))
    reported = json.loads((repo / "metrics/gan.json").read_text())["domain_fid"]
    assert fid == pytest.approx(reported, rel=1e-3)


def raw_records(data_dir: Path, split: str, limit: int):
    """The first `limit` images of a split, read with numpy alone, not the project's loader.

    A record is the image's uint8 pixels (HWC) followed by its int64 label.
    """
    info = json.loads((data_dir / "info.json").read_text())
    height, width, channels = info["image_shape"]
    pixels = height * width * channels
    raw = b"".join((data_dir / name).read_bytes() for name in info["splits"][split]["shards"])
    records = np.frombuffer(raw, np.uint8).reshape(-1, pixels + 8)[:limit]
    for record in records:
        image = record[:pixels].reshape(height, width, channels)
        yield image.astype(np.float32) / 127.5 - 1.0


def test_quality_is_tracked_during_training(repo, gan_run, mlflow_client):
    header, *rows = (repo / "trained/gan/quality.csv").read_text().splitlines()
    assert header.startswith("epoch,domain_fid,classifier_score,classes_covered")
    assert [row.split(",")[0] for row in rows] == ["0", "1", "2"]
    curve = mlflow_client.get_metric_history(gan_run.info.run_id, "during_training/domain_fid")
    assert sorted(m.step for m in curve) == [0, 1, 2]
    assert [m.value for m in sorted(curve, key=lambda m: m.step)] == pytest.approx(
        [float(row.split(",")[1]) for row in rows]
    )


def test_summary_report_lists_every_model_beside_the_floor(repo):
    summary = (repo / "reports/summary.md").read_text()
    header = next(line for line in summary.splitlines() if line.startswith("| metric"))
    assert header.split("|")[3:-1] == [" real floor ", " gan ", " cgan ", " wgan_gp "]
    fid_row = next(line for line in summary.splitlines() if line.startswith("| Domain FID"))
    gan = json.loads((repo / "metrics/gan.json").read_text())
    assert f"{gan['domain_fid']:.4g}" in fid_row and f"{gan['domain_fid_floor']:.4g}" in fid_row
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", summary)
    assert len(links) == len(TINY_PARAMS["models"])
    for link in links:
        assert (repo / "reports" / link).resolve().is_file(), link


def test_plots_show_renders_curves_and_grids(repo, tmp_path):
    run(repo, "dvc", "plots", "show", "-o", str(tmp_path / "plots"))
    page = (tmp_path / "plots" / "index.html").read_text()
    for title in ("Losses", "Domain FID during training", "Classifier score during training"):
        assert title in page, title
    images = {p.name for p in (tmp_path / "plots" / "static").rglob("*.png")}
    assert any("grid" in name for name in images), images
    assert any("epoch_002" in name for name in images), images


def test_conditional_export_draws_one_row_per_class(repo):
    from PIL import Image

    grid = np.asarray(Image.open(repo / "exports/cgan/grid.png"))
    assert grid.shape[0] == 10 * (28 + 2) + 2
    with np.load(repo / "exports/cgan/samples.npz") as saved:
        np.testing.assert_array_equal(saved["labels"][:12], np.arange(12) % 10)


def edit_params(repo: Path, dotted: str, value) -> None:
    """Set a dotted key of the repo's params.yaml (a top-level key needs no dot)."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    *parents, leaf = dotted.split(".")
    target = params
    for parent in parents:
        target = target[parent]
    target[leaf] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params))


@contextmanager
def edited(repo: Path, relative: str, change: Callable[[Path], None]):
    """Apply `change` to a file of the repo, and put the file back afterwards."""
    path = repo / relative
    original = path.read_bytes()
    change(repo)
    try:
        yield
    finally:
        path.write_bytes(original)


def stages_changed_by(repo: Path, relative: str, change: Callable[[Path], None]) -> set[str]:
    """The stages `dvc status` lists once `params` has re-resolved after `change`.

    `dvc repro params` is cheap (no TensorFlow); the stages it leaves changed
    are exactly those a `dvc repro` would run first. Everything is put back.
    """
    with edited(repo, relative, change):
        run(repo, "dvc", "repro", "params")
        changed = set(json.loads(run(repo, "dvc", "status", "--json").stdout))
    run(repo, "dvc", "repro", "params")
    assert json.loads(run(repo, "dvc", "status", "--json").stdout) == {}, "not put back"
    return changed


def test_changing_one_models_params_reruns_only_its_stages(repo):
    def smaller_batches(root: Path) -> None:
        edit_params(root, "cgan.train.batch_size", 200)

    # Its training, and the seeds stage that trains it again (with no extra seed here).
    assert stages_changed_by(repo, "params.yaml", smaller_batches) == {"train@cgan", "seeds@cgan"}


def test_python_bytecode_in_the_code_folders_reruns_nothing(repo):
    # A test run or an editor writes __pycache__/ into the folders the stages
    # depend on; .dvcignore keeps it out of their hashes.
    cache = repo / "pipeline" / "models" / "losses" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "stray.cpython-311.pyc").write_bytes(b"not code")
    try:
        assert json.loads(run(repo, "dvc", "status", "--json").stdout) == {}
    finally:
        shutil.rmtree(cache)


def test_writing_out_a_default_reruns_nothing(repo):
    def explicit_default(root: Path) -> None:
        edit_params(root, "wgan_gp.loss", {"name": "wasserstein"})  # its family's default

    assert stages_changed_by(repo, "params.yaml", explicit_default) == set()


def test_a_changed_family_default_reruns_only_the_models_of_that_family(repo):
    def lighter_penalty(root: Path) -> None:
        path = root / "pipeline/models/presets.py"
        source = path.read_text()
        old = '"gradient_penalty": {"weight": 10.0}'
        assert old in source, "the WGAN-GP preset moved; update this test"
        path.write_text(source.replace(old, old.replace("10.0", "5.0")))

    # Only the model whose resolved values changed (the params stage, which
    # reads presets.py, has re-run inside `stages_changed_by`).
    changed = stages_changed_by(repo, "pipeline/models/presets.py", lighter_penalty)
    assert changed == {"train@wgan_gp", "seeds@wgan_gp"}


def stages_importing(module: str) -> set[str]:
    """The expanded stage names whose script imports `module` (see test_dependencies)."""
    from test_dependencies import (
        COVERED_BY_RESOLVED_PARAMS,
        DVC_YAML,
        import_closure,
        script_of,
        stages_of,
    )

    names = set()
    for name, stage in stages_of(DVC_YAML).items():
        covered = frozenset() if name == "params" else frozenset(COVERED_BY_RESOLVED_PARAMS)
        if module not in import_closure(script_of(stage), covered):
            continue
        if "foreach" in DVC_YAML["stages"][name]:
            names.update(f"{name}@{model}" for model in TINY_PARAMS["models"])
        else:
            names.add(name)
    return names


def append_comment(module: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        (root / module).write_text((root / module).read_text() + "\n# edited\n")

    return change


@pytest.mark.parametrize(
    "module",
    [
        "pipeline/models/networks/mlp.py",
        "pipeline/data/verify.py",
        "pipeline/report.py",
        "pipeline/fileio.py",
    ],
)
def test_editing_a_module_makes_every_stage_that_runs_it_stale(repo, module):
    with edited(repo, module, append_comment(module)):
        changed = set(json.loads(run(repo, "dvc", "status", "--json").stdout))
    assert changed == stages_importing(module)
    assert json.loads(run(repo, "dvc", "status", "--json").stdout) == {}


def test_editing_the_schema_makes_the_params_stage_stale(repo):
    # Its effect on the other stages flows through resolved/ (see above).
    module = "pipeline/params.py"
    with edited(repo, module, append_comment(module)):
        changed = set(json.loads(run(repo, "dvc", "status", "--json").stdout))
    assert changed == {"params"}


@pytest.mark.parametrize("key", ["gan.foo", "foo"])
def test_bad_params_stop_dvc_repro_before_any_output_is_touched(repo, key):
    kept = ["trained/gan/history.csv", "trained/gan/quality.csv", "trained/gan/generator.keras"]
    before = {name: (repo / name).read_bytes() for name in kept}
    with edited(repo, "params.yaml", lambda root: edit_params(root, key, 1)):
        done = run(repo, "dvc", "repro", check=False)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert errors[0].startswith(f"error: params.yaml: {key}: unknown key"), errors
    assert {name: (repo / name).read_bytes() for name in kept} == before
    assert json.loads(run(repo, "dvc", "status", "--json").stdout) == {}


def test_a_diverging_model_fails_its_run_and_keeps_the_last_outputs(repo, mlflow_client):
    kept = ["trained/gan/history.csv", "trained/gan/generator.keras", "trained/gan/run.json"]
    before = {name: (repo / name).read_bytes() for name in kept}
    sgd = {"name": "sgd", "learning_rate": 1e6}

    def diverge(root: Path) -> None:
        edit_params(root, "gan.train.d_optimizer", sgd)
        edit_params(root, "gan.train.g_optimizer", sgd)

    with edited(repo, "params.yaml", diverge):
        done = run(repo, "dvc", "repro", "train@gan", check=False)
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(ours) == 1 and ours[0].startswith("error: gan: training diverged in epoch 1 (")
    assert {name: (repo / name).read_bytes() for name in kept} == before
    assert not (repo / "checkpoints/gan/state").exists()

    experiment = mlflow_client.get_experiment_by_name("gan-pipeline")
    [failed] = mlflow_client.search_runs(
        [experiment.experiment_id],
        "tags.model = 'gan'",
        order_by=["start_time DESC"],
        max_results=1,
    )
    assert failed.info.status == "FAILED"
    assert failed.data.tags["error"] == ours[0].removeprefix("error: ")
    assert not mlflow_client.list_artifacts(failed.info.run_id, "generator")
    # Params put back: only `params` re-runs, and the kept outputs are current again.
    again = run(repo, "dvc", "repro")
    assert set(re.findall(r"Running stage '([^']+)'", again.stdout)) == {"params"}


def test_samples_npz_holds_the_exported_images(repo):
    with np.load(repo / "exports/gan/samples.npz") as saved:
        assert saved["images"].shape == (200, 28, 28, 1)
        assert saved["images"].min() >= -1 and saved["images"].max() <= 1
        assert saved["z"].shape == (200, 100)


def test_mlflow_run_holds_params_tags_and_metric_curves(gan_run, mlflow_client, repo):
    assert gan_run.info.status == "FINISHED"
    params = gan_run.data.params
    assert params["model.train.epochs"] == "2"
    assert params["seed"] == "42"
    # Only what applies to a non-saturating MLP GAN trained with Adam.
    for unused in ("model.clip_value", "model.gradient_penalty", "model.network.filters"):
        assert unused not in params, unused
    assert not [key for key in params if key.startswith("prepare.") or "momentum" in key]
    experiment = mlflow_client.get_experiment(gan_run.info.experiment_id)
    # The kind MLflow's UI shows as model training (runs and charts), not GenAI.
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    tags = gan_run.data.tags
    commit = tags["mlflow.source.git.commit"]
    assert len(commit) == 40 and "git_commit" not in tags
    assert tags["mlflow.source.name"] == "stages/train.py"
    assert tags["git_dirty"] == "false", "DVC's own writes (dvc.lock, outputs) are not code"
    info = json.loads((repo / "data/prepared/info.json").read_text())
    assert tags["data_hash"] == info["content_hash"]
    assert tags["dvc_stage"] == "train@gan"
    assert (tags["family"], tags["network"], tags["conditional"]) == ("gan", "mlp", "false")
    assert gan_run.info.run_name == f"gan @ {commit[:7]}"
    [dataset] = gan_run.inputs.dataset_inputs
    assert dataset.dataset.digest == info["content_hash"][:16]
    assert dataset.dataset.name == "mnist5k"
    assert {t.key: t.value for t in dataset.tags}["train_count"] == "4000"
    curve = mlflow_client.get_metric_history(gan_run.info.run_id, "d_loss")
    assert sorted(m.step for m in curve) == [1, 2]
    # The final scores are on the training run; the settings are not metrics.
    for key in METRICS:
        assert key in gan_run.data.metrics
        assert f"{key}_floor" in gan_run.data.metrics
    assert not set(SIZES) & set(gan_run.data.metrics)


def child_runs(mlflow_client, parent) -> dict[str, object]:
    found = mlflow_client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    return {run.data.tags["stage"]: run for run in found}


def test_evaluation_and_export_are_child_runs_that_leave_the_training_time_alone(
    gan_run, mlflow_client
):
    children = child_runs(mlflow_client, gan_run)
    assert set(children) == {"evaluate", "export"}
    evaluate, export = children["evaluate"], children["export"]
    assert evaluate.data.params["evaluate.num_samples"] == "200"
    assert evaluate.data.metrics["domain_fid"] == gan_run.data.metrics["domain_fid"]
    assert export.data.params["export.grid_size"] == "3"
    # Training ended before its evaluation began.
    assert gan_run.info.end_time <= evaluate.info.start_time
    for child in (evaluate, export):
        assert child.info.status == "FINISHED"
        assert child.info.run_name.endswith(f"· {child.data.tags['stage']}")


def test_mlflow_run_holds_sample_images_and_exports(gan_run, mlflow_client, repo):
    run_id = gan_run.info.run_id
    images = [f.path for f in mlflow_client.list_artifacts(run_id, "images")]
    # MLflow names logged images `<key>+step+<step>+timestamp+...`.
    steps = [int(p.split("+step+")[1].split("+")[0]) for p in images if p.endswith(".png")]
    assert sorted(steps) == [0, 1, 2], images
    # The grids of samples/ (every eval_every epochs), by name, among the artifacts.
    named = [Path(f.path).name for f in mlflow_client.list_artifacts(run_id, "samples")]
    assert named == ["epoch_000.png", "epoch_001.png", "epoch_002.png"], named
    export = child_runs(mlflow_client, gan_run)["export"]
    exported = {Path(f.path).name for f in mlflow_client.list_artifacts(export.info.run_id)}
    assert exported == {"grid.png", "interpolation.png", "samples.npz", "formats"}
    checks = mlflow_client.get_run(export.info.run_id).data.metrics
    assert checks["onnx_max_abs_difference"] <= 1e-4
    assert gan_run.info.artifact_uri.startswith("mlflow-artifacts:/gan-pipeline/")


def test_mlflow_logged_model_is_named_after_its_model_and_carries_final_scores(
    repo, gan_run, mlflow_client
):
    import mlflow

    from pipeline.tracking import connect_store

    models = mlflow_client.search_logged_models(
        experiment_ids=[gan_run.info.experiment_id],
        filter_string=f"source_run_id = '{gan_run.info.run_id}'",
    )
    [model] = models
    assert model.name == "gan"
    linked = {metric.key: metric.value for metric in model.metrics}
    assert linked["domain_fid"] == gan_run.data.metrics["domain_fid"]
    # Loading through the URI needs the store's artifact mapping in this process.
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_client.tracking_uri
    try:
        connect_store()
        generator = mlflow.keras.load_model(model.model_uri)
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    images = np.asarray(generator(np.zeros((2, 100), dtype="float32")))
    assert images.shape == (2, 28, 28, 1)
    # Its requirements pin the TensorFlow build this environment has (not a
    # fixed `tensorflow-cpu`), beside Keras, NumPy and MLflow.
    stored = repo / "mlflow" / "artifacts" / "gan-pipeline" / "models" / model.model_id
    pins = dict(line.split("==") for line in (stored / "artifacts" / "requirements.txt").open())
    pins = {name: version.strip() for name, version in pins.items()}
    assert {"mlflow", "keras", "numpy"} <= set(pins), pins
    [tensorflow] = [name for name in pins if name.startswith("tensorflow")]
    assert pins[tensorflow] == metadata.version(tensorflow)


def test_each_training_is_a_registered_version_that_generate_can_name(
    repo, mlflow_client, tmp_path
):
    reference = json.loads((repo / "trained/cgan/run.json").read_text())
    version = mlflow_client.get_model_version("cgan", reference["model_version"])
    assert version.source == f"models:/{reference['model_id']}"
    assert reference["registered_model"] == "cgan"
    headline = json.loads((repo / "metrics/headline/cgan.json").read_text())
    assert {f"metric.{key}" for key in headline} <= set(version.tags)
    fid = float(version.tags["metric.domain_fid"])
    assert fid == pytest.approx(headline["domain_fid"], rel=1e-5)
    out = tmp_path / "x.npz"
    command = [sys.executable, "-m", "pipeline.generate", "models:/cgan/latest", "-n", "16"]
    done = subprocess.run(
        [*command, "--out", str(out)], cwd=repo, env=clean_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert np.load(out)["images"].shape == (16, 28, 28, 1)


def test_serve_answers_with_the_images_generate_draws(repo, tmp_path):
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    requested = tmp_path / "request.npz"
    draw = [sys.executable, "-m", "pipeline.generate", "cgan", "-n", "4", "--label", "3"]
    run(repo, *draw, "--out", str(requested))
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline.serve", "cgan", "-p", str(port)],
        cwd=repo,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        request = np.load(requested)
        body = {"inputs": {"z": request["z"].tolist(), "label": request["labels"].tolist()}}
        deadline = time.monotonic() + 120
        while True:
            try:
                posted = urllib.request.Request(
                    f"http://127.0.0.1:{port}/invocations",
                    data=json.dumps(body).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(posted, timeout=10) as answer:
                    predictions = json.load(answer)["predictions"]
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "the server did not answer in 120 s"
                time.sleep(1)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    images = np.asarray(predictions, dtype=np.float32)
    pixels = np.rint(np.clip((images + 1) * 127.5, 0, 255)).astype(np.uint8)
    np.testing.assert_array_equal(pixels, request["images"])


def test_the_store_names_no_absolute_path(repo):
    database = (repo / "mlflow" / "mlflow.db").read_bytes()
    assert str(repo).encode() not in database
    assert str(REPO_ROOT).encode() not in database


def test_changing_export_params_reruns_only_export(repo):
    def smaller_grid(root: Path) -> None:
        edit_params(root, "export.grid_size", 2)

    assert stages_changed_by(repo, "params.yaml", smaller_grid) == {
        f"export@{name}" for name in TINY_PARAMS["models"]
    }


def test_temp_experiment_logs_to_the_repos_store(repo, mlflow_client):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first repro")
    # Up to gan's evaluation, which scores the run: its export and the report add nothing.
    exp = ("dvc", "exp", "run", "--temp", "-n", "one-epoch", "-S", "gan.train.epochs=1")
    run(repo, *exp, "evaluate@gan")
    experiment = mlflow_client.get_experiment_by_name("gan-pipeline")
    query = "tags.dvc_exp_name = 'one-epoch' and tags.dvc_stage = 'train@gan'"
    runs = mlflow_client.search_runs([experiment.experiment_id], query)
    assert len(runs) == 1, "the --temp run, made in a copy under .dvc/tmp, must log here"
    assert runs[0].data.params["model.train.epochs"] == "1"
    assert runs[0].info.run_name == "gan @ one-epoch"
    assert runs[0].data.tags["git_dirty"] == "false", "-S edits params.yaml, not the code"
    assert "domain_fid" in runs[0].data.metrics
    assert not list((repo / ".dvc" / "tmp").glob("**/mlflow.db"))


def test_bad_params_fail_in_one_line_and_write_nothing(tmp_path):
    root = copy_repo(tmp_path)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["gan"]["train"]["batch_size"] = 0
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    before = sorted(p.relative_to(root) for p in root.rglob("*") if ".git" not in p.parts)
    for stage in (("prepare",), ("train", "gan"), ("evaluate", "gan")):
        _python, *args = stage_argv(*stage)
        done = run(root, sys.executable, *args, check=False)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines == [
            "error: params.yaml: gan.train.batch_size = 0: Input should be greater than 0"
        ]
    after = sorted(p.relative_to(root) for p in root.rglob("*") if ".git" not in p.parts)
    assert after == before, "a rejected run must not write files or an MLflow store"


def killed_at(repo: Path, point: str, stage: str, model: str) -> None:
    """Run a stage as dvc.yaml gives it and SIGKILL it at `point` (tests/killer.py)."""
    _python, _dash_m, _module, *args = stage_argv(stage, model)
    env = {**clean_env(), "PYTHONPATH": str(repo)}
    done = subprocess.run(
        [sys.executable, "tests/killer.py", point, stage, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == -9, done.stderr[-3000:]


def test_kills_in_evaluate_and_export_leave_no_running_run_and_nothing_stale(repo, mlflow_client):
    from pipeline.tracking.runs import STOPPED_STAGE_REASON

    killed_at(repo, "during_stage_logging", "evaluate", "gan")
    killed_at(repo, "before_the_swap", "export", "gan")
    assert list((repo / "exports").glob(".gan.new.*")), "the kill left no staging folder"

    experiments = [e.experiment_id for e in mlflow_client.search_experiments()]
    running = mlflow_client.search_runs(experiments, "attributes.status = 'RUNNING'")
    assert [run.info.run_name for run in running] == []
    newest_first = ["attributes.start_time DESC"]
    [latest] = mlflow_client.search_runs(
        experiments, "tags.stage = 'evaluate'", order_by=newest_first, max_results=1
    )
    assert latest.info.status == "KILLED"
    assert latest.data.tags["error"] == STOPPED_STAGE_REASON
    # The staging folder is no part of `exports`, which `report` reads.
    assert json.loads(run(repo, "dvc", "status", "--json").stdout) == {}


def test_re_evaluating_adds_no_second_score_and_other_settings_replace_them(
    repo, gan_run, mlflow_client
):
    """The same generator and settings score the same: nothing is added. Other settings'
    scores go to the next step, which MLflow shows as the run's value."""
    _python, *args = stage_argv("evaluate", "gan")
    run(repo, sys.executable, *args)
    history = mlflow_client.get_metric_history(gan_run.info.run_id, "domain_fid")
    first = gan_run.data.metrics["domain_fid"]
    assert [(entry.step, entry.value) for entry in history] == [(0, first)]

    def fewer_samples(root: Path) -> None:
        params = yaml.safe_load((root / "params.yaml").read_text())
        params["evaluate"]["num_samples"] = 150
        (root / "params.yaml").write_text(yaml.safe_dump(params))

    with edited(repo, "params.yaml", fewer_samples):
        run(repo, sys.executable, *args)
    rescored = json.loads((repo / "metrics/gan.json").read_text())["domain_fid"]
    history = mlflow_client.get_metric_history(gan_run.info.run_id, "domain_fid")
    assert [(entry.step, entry.value) for entry in history] == [(0, first), (1, rescored)]
    assert mlflow_client.get_run(gan_run.info.run_id).data.metrics["domain_fid"] == rescored


def test_the_tests_pass_whatever_experiment_the_workspace_holds(tmp_path):
    """`dvc exp run` leaves its params in the workspace (`models: [sngan_proj]`, a TFDS
    source); the tests that check the shipped params read the committed file (here, the
    copy's commit: the tiny params, with the shipped `models`)."""
    root = copy_repo(tmp_path, {k: v for k, v in TINY_PARAMS.items() if k != "models"})
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["models"] = ["sngan_proj"]
    params["sngan_proj"] = {"family": "sngan_proj"}
    params["prepare"]["source"] = {"kind": "tfds", "name": "cifar10"}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    checks = [
        "tests/test_params.py::test_repo_params_are_valid",
        "tests/test_dependencies.py::test_each_stage_depends_on_the_resolved_file_of_the_values_it_reads",
    ]
    done = run(
        root, sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *checks
    )
    assert "2 passed" in done.stdout, done.stdout[-3000:]
