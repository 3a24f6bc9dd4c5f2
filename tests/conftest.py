"""Shared fixtures. TensorFlow's C++ logging is quietened before anything imports it."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist5k_dir(tmp_path_factory) -> Path:
    """The offline default dataset, prepared once per session."""
    from pipeline.data.prepare import prepare_dataset
    from pipeline.params import PrepareParams

    out_dir = tmp_path_factory.mktemp("data") / "prepared"
    prepare_dataset(PrepareParams(), seed=0, out_dir=out_dir)
    return out_dir


@pytest.fixture(scope="session")
def untrained_classifier(tmp_path_factory, mnist5k_dir) -> Path:
    """An evaluator with random weights: cheap, and scores just as well for plumbing tests."""
    from pipeline.evaluation.classifier import build_classifier

    path = tmp_path_factory.mktemp("evaluator") / "classifier.keras"
    build_classifier((28, 28, 1), 10, feature_dim=16).save(path)
    return path
