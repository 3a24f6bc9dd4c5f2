"""Shared fixtures. TensorFlow's C++ logging is quietened before anything imports it."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shutil  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
# The folder of workspaces built once per session for every xdist worker (tests/workspace.py).
SHARED_DIR_ENV = "GAN_TESTS_SHARED_DIR"


def pytest_configure(config: pytest.Config) -> None:
    # In the controller (or the one process of `-n 0`), before any worker
    # starts: the workers inherit the environment, so they share the folder.
    if not hasattr(config, "workerinput"):
        os.environ[SHARED_DIR_ENV] = tempfile.mkdtemp(prefix="gan-tests-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shared = None if hasattr(config, "workerinput") else os.environ.pop(SHARED_DIR_ENV, None)
    if shared:
        shutil.rmtree(shared, ignore_errors=True)


# The end-to-end files take minutes each (a tiny `dvc repro` of several
# models). `--dist loadfile --no-loadscope-reorder` hands files to the workers
# in this order, each to the first worker free, so the longest go first and the
# short ones even out the end: a long file started last keeps one worker busy
# while the other idles. The files measured over 100 s (`pytest --durations 0`,
# summed per file) go first, longest first; then the other files with `slow`
# tests, then the rest.
LONGEST_FILES = (
    "test_pipeline.py",
    "test_folder_pipeline.py",
    "test_translation_pipeline.py",
    "test_bad_inputs.py",
    "test_generate.py",
    "test_jax.py",
    "test_jax_stages.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0].rsplit("/", 1)[-1]

    has_slow = {file_of(item) for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> int:
        name = file_of(item)
        if name in LONGEST_FILES:
            return LONGEST_FILES.index(name)
        return len(LONGEST_FILES) + (name not in has_slow)

    # A stable sort: each file's tests keep their order.
    items.sort(key=rank)


def committed_params_text() -> str:
    """params.yaml as committed: the shipped params the tests check and copy.

    Never the workspace's: `dvc exp run` applies an experiment's params there
    (the README's variations leave `models: [sngan_proj]`, say), and the
    tests must pass whatever a user tried last. Outside git (an unpacked
    archive) the file is all there is.
    """
    import subprocess

    shown = subprocess.run(
        ["git", "show", "HEAD:params.yaml"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    return shown.stdout if shown.returncode == 0 else (REPO_ROOT / "params.yaml").read_text()


@pytest.fixture(scope="session")
def mnist5k_dir(tmp_path_factory) -> Path:
    """The offline default dataset, prepared once per session."""
    from pipeline.data.prepare import prepare_dataset
    from pipeline.params import PrepareParams

    out_dir = tmp_path_factory.mktemp("data") / "prepared"
    prepare_dataset(PrepareParams(), seed=0, out_dir=out_dir)
    return out_dir


@pytest.fixture(scope="session")
def negatives_dir(tmp_path_factory) -> Path:
    """The offline dataset with its negatives beside it (`prepare.domains: [negative]`)."""
    from pipeline.data.prepare import prepare_dataset
    from pipeline.params import PrepareParams

    out_dir = tmp_path_factory.mktemp("data") / "prepared"
    prepare_dataset(PrepareParams(domains=["negative"]), seed=0, out_dir=out_dir)
    return out_dir


@pytest.fixture(scope="session")
def untrained_classifier(tmp_path_factory, mnist5k_dir) -> Path:
    """An evaluator with random weights: cheap, and scores just as well for plumbing tests."""
    from pipeline.evaluation.classifier import build_classifier

    path = tmp_path_factory.mktemp("evaluator") / "classifier.keras"
    build_classifier((28, 28, 1), 10, feature_dim=16).save(path)
    return path
