"""Every bad input a stage can meet: one line on stderr, exit 2, nothing written, no MLflow run.

Each case runs the real stage script in a fresh copy of a small workspace
(prepared data, an evaluator, a trained `gan` with its MLflow run), breaks
one thing, and checks the stage refuses it before doing any work: the
workspace's files, the MLflow store included, are byte for byte what they
were.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from workspace import (
    TINY_PARAMS,
    assert_refused,
    run_stage,
    snapshot,
    trained_workspace,
    write_params,
)

Mutation = Callable[[Path], None]


# --- params: refused before TensorFlow loads ------------------------------------


def edit_params(**changes) -> Mutation:
    """Set dotted keys in params.yaml (a value of `...` deletes the key)."""

    def mutate(workspace: Path) -> None:
        params = yaml.safe_load((workspace / "params.yaml").read_text())
        for dotted, value in changes.items():
            *parents, leaf = dotted.split("__")
            target = params
            for key in parents:
                target = target.setdefault(key, {})
            target[leaf] = value
        write_params(workspace, params)

    return mutate


def params_text(text: str | bytes) -> Mutation:
    def mutate(workspace: Path) -> None:
        path = workspace / "params.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return mutate


def params_is_a_directory(workspace: Path) -> None:
    (workspace / "params.yaml").unlink()
    (workspace / "params.yaml").mkdir()


def alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
        previous = name
    return "\n".join(lines) + f"\nseed: *{previous}\nmodels: [gan]\ngan: {{}}\n"


PARAMS_CASES = {
    "family is a list": (edit_params(gan__family=["gan"]), "gan.family"),
    "family is a mapping": (edit_params(gan__family={"x": 1}), "gan.family"),
    "unknown key in a model": (edit_params(gan__foo=1), "gan.foo"),
    "unknown top-level key": (edit_params(foo=1), "foo"),
    "latin-1 params.yaml": (params_text(b"seed: 42\n# caf\xe9\n"), "UTF-8"),
    "utf-16 params.yaml": (params_text("seed: 42\n".encode("utf-16")), "UTF-16"),
    "params.yaml is a directory": (params_is_a_directory, "params.yaml"),
    "alias bomb": (params_text(alias_bomb()), "seed"),
    "duplicate section": (
        params_text("models: [gan]\ngan: {}\ngan: {family: wgan}\n"),
        "gan",
    ),
    "duplicate model": (edit_params(models=["gan", "gan"]), "models"),
    "300-character model name": (
        edit_params(models=["m" * 300], **{"m" * 300: {}}),
        "models",
    ),
    "a trillion epochs": (edit_params(gan__train__epochs=10**12), "gan.train.epochs"),
    "huge latent": (edit_params(gan__network__latent_dim=10**9), "gan.network.latent_dim"),
    "huge layer": (
        edit_params(gan__network__generator_units=[10**9]),
        "gan.network.generator_units",
    ),
    "infinite learning rate": (
        edit_params(gan__train__d_optimizer={"name": "sgd", "learning_rate": float("inf")}),
        "gan.train.d_optimizer.learning_rate",
    ),
    "infinite clip value": (
        edit_params(gan__family="wgan", gan__clip_value=float("inf")),
        "gan.clip_value",
    ),
    "k-NN k above the sample": (
        edit_params(evaluate__precision_recall_k=200),
        "precision_recall_k",
    ),
    "a split per image": (
        edit_params(evaluate__classifier_score_splits=200),
        "classifier_score_splits",
    ),
    "a key of another source kind": (
        edit_params(prepare__source={"kind": "mnist5k", "path": "data/raw/mnist"}),
        "prepare.source.path: does not apply when prepare.source.kind is 'mnist5k'",
    ),
    "an unknown source kind": (
        edit_params(prepare__source={"kind": "imagenet"}),
        "prepare.source.kind = 'imagenet': unknown (allowed: mnist5k, tfds, idx, "
        "folder, unaligned_folders, aligned_folder, ring)",
    ),
    "experiment is a relative path": (
        edit_params(mlflow__experiment="../../../x"),
        "mlflow.experiment",
    ),
    "experiment is an absolute path": (
        edit_params(mlflow__experiment="/tmp/x"),
        "mlflow.experiment",
    ),
}


@pytest.fixture
def params_only(tmp_path) -> Path:
    """A workspace holding only the tiny params.yaml: params errors need nothing else."""
    write_params(tmp_path, TINY_PARAMS)
    return tmp_path


# Every case against the params stage; the stages that read params.yaml themselves
# (train, evaluate) go through the same loader, so three cases of different kinds (a
# YAML error, a schema error, a cross-key one) show that they refuse before any work.
EVERY_STAGE_CASES = ("latin-1 params.yaml", "unknown key in a model", "k-NN k above the sample")
STAGE_CASES = [(case, ("params",)) for case in sorted(PARAMS_CASES)] + [
    (case, stage) for case in EVERY_STAGE_CASES for stage in (("train", "gan"), ("evaluate", "gan"))
]


@pytest.mark.parametrize(("case", "stage"), STAGE_CASES)
def test_bad_params_are_refused_in_one_line(params_only, case, stage):
    mutate, fragment = PARAMS_CASES[case]
    mutate(params_only)
    before = snapshot(params_only)
    done = run_stage(params_only, *stage)
    assert_refused(done, fragment)
    assert snapshot(params_only) == before


# --- data and saved models: refused before any work or MLflow run -----------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return trained_workspace(tmp_path_factory.mktemp("trained"))


def shard(split: str) -> Callable[[Path], Path]:
    def first_shard(workspace: Path) -> Path:
        info = json.loads((workspace / "data/prepared/info.json").read_text())
        return workspace / "data/prepared" / info["splits"][split]["shards"][0]

    return first_shard


def truncate(locate: Callable[[Path], Path], keep: float = 0.5) -> Mutation:
    def mutate(workspace: Path) -> None:
        path = locate(workspace)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return mutate


def garbage(locate: Callable[[Path], Path]) -> Mutation:
    def mutate(workspace: Path) -> None:
        locate(workspace).write_bytes(b"not a model " * 100)

    return mutate


def edit_info(**changes) -> Mutation:
    def mutate(workspace: Path) -> None:
        path = workspace / "data/prepared/info.json"
        info = json.loads(path.read_text())
        for key, value in changes.items():
            if key == "train_count":
                info["splits"]["train"]["count"] = value
            else:
                info[key] = value
        path.write_text(json.dumps(info))

    return mutate


def file_at(relative: str) -> Callable[[Path], Path]:
    return lambda workspace: workspace / relative


def remove(relative: str) -> Mutation:
    return lambda workspace: (workspace / relative).unlink()


def edit_run(**fields: str) -> Mutation:
    def mutate(workspace: Path) -> None:
        path = workspace / "trained/gan/run.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))

    return mutate


def nan_generator(workspace: Path) -> None:
    # Imported here: only this case needs Keras in the test process.
    import keras

    path = workspace / "trained/gan/generator.keras"
    generator = keras.saving.load_model(path)
    generator.set_weights([np.full_like(w, np.nan) for w in generator.get_weights()])
    generator.save(path)


GENERATOR = file_at("trained/gan/generator.keras")
CLASSIFIER = file_at("trained/evaluator/classifier.keras")

FILE_CASES = {
    "truncated train shard, train": (("train", "gan"), truncate(shard("train")), "bytes"),
    "truncated train shard, evaluator": (("evaluator",), truncate(shard("train")), "bytes"),
    "truncated test shard, evaluate": (("evaluate", "gan"), truncate(shard("test")), "bytes"),
    "wrong count in info.json": (("evaluate", "gan"), edit_info(train_count=3999), "count"),
    "wrong image shape in info.json": (
        ("evaluate", "gan"),
        edit_info(image_shape=[32, 32, 3]),
        "info.json",
    ),
    "garbage generator, evaluate": (("evaluate", "gan"), garbage(GENERATOR), "generator.keras"),
    "garbage generator, export": (("export", "gan"), garbage(GENERATOR), "generator.keras"),
    "truncated generator": (("evaluate", "gan"), truncate(GENERATOR), "generator.keras"),
    "garbage evaluator, evaluate": (("evaluate", "gan"), garbage(CLASSIFIER), "classifier.keras"),
    "garbage evaluator, train": (("train", "gan"), garbage(CLASSIFIER), "classifier.keras"),
    "missing run.json, evaluate": (("evaluate", "gan"), remove("trained/gan/run.json"), "run.json"),
    "missing run.json, export": (("export", "gan"), remove("trained/gan/run.json"), "run.json"),
    "run.json names an unknown run": (("evaluate", "gan"), edit_run(run_id="0" * 32), "0000"),
    "run.json names an unknown backend": (("export", "gan"), edit_run(backend="torch"), "torch"),
    "NaN generator, evaluate": (("evaluate", "gan"), nan_generator, "NaN"),
    "NaN generator, export": (("export", "gan"), nan_generator, "NaN"),
    "batch larger than the data": (
        ("train", "gan"),
        edit_params(gan__train__batch_size=10_000),
        "4000 training images",
    ),
    "batch x d_steps larger than the data": (
        ("train", "gan"),
        edit_params(gan__train__batch_size=1000, gan__train__d_steps=5),
        "4000 training images",
    ),
    "steps_per_execution beyond a pass over the data": (
        ("train", "gan"),
        edit_params(gan__train__steps_per_execution=9),  # 4000 images / 500: 8 steps
        "train.steps_per_execution = 9",
    ),
    "multi_worker without TF_CONFIG": (
        ("train", "gan"),
        edit_params(gan__train__strategy="multi_worker"),
        "needs TF_CONFIG",
    ),
    "a TFDS version that does not exist": (
        ("prepare",),
        edit_params(prepare__source={"kind": "tfds", "name": "mnist:99.0.0"}),
        "mnist:99.0.0",
    ),
    "splits with fewer images than classes": (
        ("evaluate", "gan"),
        edit_params(evaluate__classifier_score_splits=50),
        "classifier_score_splits",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_files_are_refused_before_any_work(trained, tmp_path, case):
    stage, mutate, fragment = FILE_CASES[case]
    workspace = tmp_path / "workspace"
    shutil.copytree(trained, workspace)
    mutate(workspace)
    before = snapshot(workspace, locks=False)
    done = run_stage(workspace, *stage)
    assert_refused(done, fragment)
    assert snapshot(workspace, locks=False) == before, "a refused stage wrote or deleted files"
