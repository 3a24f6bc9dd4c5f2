"""Every bad params file: `load_params` refuses it in one short line naming the key.

The line names what is allowed too. The file's bytes, its YAML and its
values, each broken one way (pipeline/params_file.py reads the file,
pipeline/params_messages.py words the line, pipeline/params.py holds the
schema); tests/test_params.py checks the schema's rules one by one.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import committed_params_text

from pipeline import schema
from pipeline.params import MAX_NAME_CHARS, ParamsError, load_params

# The committed params.yaml (conftest.committed_params_text), never the workspace's.
SHIPPED = committed_params_text()

# A params.yaml error must fit on one terminal line or two: the DVC log shows it.
MAX_MESSAGE_CHARS = 300

Mutation = Callable[[Path], None]


def text(content: str | bytes) -> Mutation:
    """Write `content` as params.yaml, bytes as they are, text as UTF-8."""

    def write(path: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)

    return write


def edit(**changes: Any) -> Mutation:
    """The shipped params.yaml with dotted keys (`gan__train__epochs`) set, dumped back."""

    def write(path: Path) -> None:
        raw = yaml.safe_load(SHIPPED)
        for dotted, value in changes.items():
            *parents, leaf = dotted.split("__")
            target = raw
            for parent in parents:
                target = target.setdefault(parent, {})
            target[leaf] = value
        path.write_text(yaml.safe_dump(raw))

    return write


def a_directory(path: Path) -> None:
    path.mkdir()


def list_alias_bomb(levels: str = "bcdefghi") -> str:
    """Nine-fold nested aliases: a few hundred bytes that expand to 10**9 strings."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    previous = "a"
    for name in levels:
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + f"\nseed: *{previous}\nmodels: [gan]\ngan: {{}}\n"


def merge_key_bomb(levels: int = 9) -> str:
    """`<<: [*a, *a, ...]` nested: PyYAML alone copies 9**levels pairs."""
    lines = ["models: [gan]", "gan:", "  a: &a {k0: 0, k1: 1, k2: 2, k3: 3}"]
    previous = "a"
    for level in range(levels):
        name = f"l{level}"
        merged = ", ".join([f"*{previous}"] * 9)
        lines.append(f"  {name}: &{name} {{<<: [{merged}], own: {level}}}")
        previous = name
    return "\n".join(lines) + "\n"


OVER = "less than or equal to"
EXPERIMENT_RULE = "must be a name, not a path"

# (description, what params.yaml holds, fragments the one-line message must contain)
BAD_FILES: list[tuple[str, Mutation, tuple[str, ...]]] = [
    # 1. unreadable files
    ("a directory", a_directory, ("params.yaml: is a directory", "a YAML file")),
    # Refused before parsing: 9 MB of model names took 33 s and 800 MB to refuse.
    (
        "a huge models list",
        text("models: [" + ", ".join(["gan"] * 1_500_000) + "]\n"),
        ("is 7,500,009 bytes", "up to 1,000,000"),
    ),
    (
        "latin-1",
        text(b"seed: 42\n# caf\xe9\n"),
        ("not UTF-8", "0xe9 on line 2", "save it as UTF-8"),
    ),
    ("utf-16 with a BOM", text(SHIPPED.encode("utf-16")), ("UTF-16", "save it as UTF-8")),
    ("utf-16-le, no BOM", text(SHIPPED.encode("utf-16-le")), ("UTF-16", "save it as UTF-8")),
    ("utf-16-be, no BOM", text(SHIPPED.encode("utf-16-be")), ("UTF-16", "save it as UTF-8")),
    ("utf-32", text(SHIPPED.encode("utf-32")), ("UTF-32", "save it as UTF-8")),
    ("a control character", text("seed: 4\x012\n"), ("line 1", "#x0001")),
    ("an integer of 5,000 digits", text("seed: " + "1" * 5000 + "\n"), ("4300 digits",)),
    ("a date that is no date", text("seed: 2024-13-01\n"), ("month must be in 1..12",)),
    ("nested 5,000 deep", text("seed: " + "[" * 5000 + "]" * 5000), ("nested too deeply",)),
    ("undefined alias", text("seed: *" + "q" * 500 + "\n"), ("line 1", "undefined alias")),
    # 2. duplicate keys, at any depth
    (
        "a duplicate section",
        text("models: [gan]\ngan: {}\ngan: {family: wgan}\n"),
        ("key 'gan' appears twice, at lines 2 and 3", "once per mapping"),
    ),
    (
        "a duplicate nested key",
        text("models: [gan]\ngan:\n  train:\n    epochs: 5\n    epochs: 6\n"),
        ("key 'epochs' appears twice, at lines 4 and 5",),
    ),
    (
        "a duplicate key in the shipped file",
        text(SHIPPED.replace("mlflow:\n", "mlflow:\n  experiment: a\n")),
        ("key 'experiment' appears twice",),
    ),
    # 3. alias bombs: the quoted value is cut short
    ("a list alias bomb", text(list_alias_bomb()), ("seed = [[[", "valid integer")),
    ("a merge-key alias bomb", text(merge_key_bomb()), ("gan.a: unknown key", "family")),
    # 4. a family that cannot key the family defaults
    ("family is a list", edit(gan__family=["gan"]), ("gan.family = ['gan']", "'wgan_gp'")),
    ("family is a mapping", edit(gan__family={"x": 1}), ("gan.family = {'x': 1}", "'cgan'")),
    # 5. inf and nan, wherever a float is allowed
    (
        "infinite learning rate",
        edit(gan__train__d_optimizer={"name": "sgd", "learning_rate": float("inf")}),
        ("gan.train.d_optimizer.learning_rate = inf", "finite number"),
    ),
    (
        "nan learning rate",
        edit(evaluator__learning_rate=float("nan")),
        ("evaluator.learning_rate = nan", "finite number"),
    ),
    (
        "inf written as a string",
        edit(evaluator__learning_rate="inf"),
        ("evaluator.learning_rate = 'inf'", "finite number"),
    ),
    (
        "infinite clip value",
        edit(wgan__regularisers={"weight_clipping": {"clip_value": float("inf")}}),
        ("wgan.regularisers.weight_clipping.clip_value = inf",),
    ),
    (
        "negative infinite penalty",
        edit(wgan_gp__regularisers__gradient_penalty__weight=float("-inf")),
        ("wgan_gp.regularisers.gradient_penalty.weight = -inf", "finite number"),
    ),
    (
        "infinite l2",
        edit(gan__regularisers={"l2": {"weight": float("inf")}}),
        ("gan.regularisers.l2.weight = inf",),
    ),
    ("nan fraction", edit(prepare__test_fraction=float("nan")), ("prepare.test_fraction = nan",)),
    # 6. sizes that can only be typos
    (
        "train epochs",
        edit(gan__train__epochs=10**12),
        ("gan.train.epochs", f"{OVER} {schema.MAX_EPOCHS}"),
    ),
    (
        "evaluator epochs",
        edit(evaluator__epochs=10**6),
        ("evaluator.epochs", str(schema.MAX_EPOCHS)),
    ),
    (
        "latent_dim",
        edit(gan__network__latent_dim=10**9),
        ("gan.network.latent_dim = 1000000000", f"{OVER} {schema.MAX_LATENT_DIM}"),
    ),
    (
        "a layer's width",
        edit(gan__network__generator_units=[256, 10**9]),
        ("gan.network.generator_units.1 = 1000000000", f"{OVER} {schema.MAX_UNITS}"),
    ),
    (
        "the number of layers",
        edit(gan__network__discriminator_units=[8] * (schema.MAX_LAYERS + 1)),
        (
            "gan.network.discriminator_units = [8, 8, 8, 8, ...]",
            f"at most {schema.MAX_LAYERS} items",
        ),
    ),
    (
        "filters",
        edit(gan__network={"kind": "dcgan", "filters": 10**6}),
        ("gan.network.filters", str(schema.MAX_FILTERS)),
    ),
    (
        "train batch size",
        edit(cgan__train__batch_size=10**9),
        ("cgan.train.batch_size", f"{OVER} {schema.MAX_BATCH_SIZE}"),
    ),
    ("evaluator batch size", edit(evaluator__batch_size=10**9), ("evaluator.batch_size", OVER)),
    ("evaluate batch size", edit(evaluate__batch_size=10**9), ("evaluate.batch_size", OVER)),
    (
        "d_steps",
        edit(wgan__train__d_steps=10**6),
        ("wgan.train.d_steps", f"{OVER} {schema.MAX_D_STEPS}"),
    ),
    (
        "eval_samples",
        edit(gan__train__eval_samples=10**9),
        ("gan.train.eval_samples", f"{OVER} {schema.MAX_SAMPLES}"),
    ),
    ("evaluate num_samples", edit(evaluate__num_samples=10**9), ("evaluate.num_samples", OVER)),
    (
        "kid_subsets",
        edit(evaluate__kid_subsets=10**9),
        ("evaluate.kid_subsets", f"{OVER} {schema.MAX_KID_SUBSETS}"),
    ),
    ("export num_samples", edit(export__num_samples=10**9), ("export.num_samples", OVER)),
    ("export truncation 0", edit(export__truncation=[1.0, 0]), ("export.truncation.1", "0.04")),
    ("export truncation 70", edit(export__truncation=[70]), ("export.truncation.0", OVER)),
    ("export truncation a number", edit(export__truncation=0.5), ("export.truncation", "list")),
    (
        "export truncation twice",
        edit(export__truncation=[0.5, 0.5]),
        ("export.truncation", "0.5 is listed twice"),
    ),
    (
        "shard_size",
        edit(prepare__shard_size=10**12),
        ("prepare.shard_size", f"{OVER} {schema.MAX_SHARD_SIZE}"),
    ),
    (
        "feature_dim",
        edit(evaluator__feature_dim=10**9),
        ("evaluator.feature_dim", f"{OVER} {schema.MAX_FEATURE_DIM}"),
    ),
    # 7. sizes that depend on evaluate.num_samples
    (
        "KID subset above the sample",
        edit(evaluate__kid_subset_size=1001),
        ("evaluate.kid_subset_size = 1001", "at most num_samples = 1000"),
    ),
    (
        "fewer samples than the default KID subset",
        edit(evaluate__num_samples=100),
        ("evaluate.kid_subset_size = 500", "at most num_samples = 100"),
    ),
    (
        "precision/recall k without k other points",
        edit(evaluate__precision_recall_k=1000),
        ("evaluate.precision_recall_k = 1000", "at most num_samples - 1 = 999"),
    ),
    (
        "density/coverage k without k other points",
        edit(evaluate__density_coverage_k=1000),
        ("evaluate.density_coverage_k = 1000", "at most num_samples - 1 = 999"),
    ),
    (
        "a split of one image",
        edit(evaluate__classifier_score_splits=501),
        ("evaluate.classifier_score_splits = 501", "at most num_samples // 2 = 500"),
    ),
    # 8. model names
    (
        "a model listed twice",
        edit(models=["gan", "gan"]),
        ("models: 'gan' is listed twice", "each name once"),
    ),
    (
        "a 300-character model name",
        edit(models=["m" * 300], **{"m" * 300: {}}),
        ("models: 'mmm", "not a valid model name", f"at most {MAX_NAME_CHARS} characters"),
    ),
    ("a model name with a dash", edit(models=["my-gan"]), ("'my-gan'", "identifiers")),
    # 9. the experiment is a name, never a path
    (
        "a relative experiment path",
        edit(mlflow__experiment="../../../x"),
        ("mlflow.experiment = '../../../x'", EXPERIMENT_RULE),
    ),
    ("an absolute experiment path", edit(mlflow__experiment="/tmp/x"), ("'/tmp/x'",)),
    ("a Windows experiment path", edit(mlflow__experiment="a\\b"), (EXPERIMENT_RULE,)),
    ("'..' inside an experiment", edit(mlflow__experiment="a..b"), ("'a..b'", "no '..'")),
    ("'.' as an experiment", edit(mlflow__experiment="."), ("starting with a letter or digit",)),
    ("an empty experiment", edit(mlflow__experiment=""), (EXPERIMENT_RULE,)),
    (
        "a 65-character experiment",
        edit(mlflow__experiment="e" * (MAX_NAME_CHARS + 1)),
        (f"at most {MAX_NAME_CHARS} characters",),
    ),
    # what the jax backend cannot run
    (
        "float16 on jax",
        edit(gan__train__backend="jax", gan__train__precision="mixed_float16"),
        ("gan.train.precision: mixed_float16 runs on the tensorflow backend only",),
    ),
    (
        "multi_worker on jax",
        edit(gan__train__backend="jax", gan__train__strategy="multi_worker"),
        ("gan.train.strategy: multi_worker runs on the tensorflow backend only",),
    ),
    ("an unknown backend", edit(gan__train__backend="torch"), ("gan.train.backend",)),
    # keys that would break the line
    ("a key with a newline", edit(**{"a\nb": 1}), ("'a\\nb': unknown key",)),
    ("a page-long key", edit(**{"k" * 5000: 1}), ("'kkk", "...", "unknown key")),
]


@pytest.mark.parametrize(
    ("description", "mutate", "fragments"), BAD_FILES, ids=[case[0] for case in BAD_FILES]
)
def test_a_bad_params_file_is_refused_in_one_short_line(
    tmp_path, monkeypatch, description, mutate, fragments
):
    monkeypatch.chdir(tmp_path)  # the stages read ./params.yaml: name it as they do
    mutate(Path("params.yaml"))
    with pytest.raises(ParamsError) as caught:
        load_params("params.yaml")
    message = str(caught.value)
    assert "\n" not in message and len(message) < MAX_MESSAGE_CHARS, message[:1000]
    assert message.startswith("params.yaml: "), message
    for fragment in fragments:
        assert fragment in message, f"{description}: {fragment!r} not in {message!r}"


def test_an_unreadable_file_is_one_line(tmp_path, monkeypatch):
    def fail(self: Path) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    path = tmp_path / "params.yaml"
    path.write_text(SHIPPED)
    monkeypatch.setattr(Path, "read_bytes", fail)
    with pytest.raises(ParamsError, match=r"params.yaml: cannot be read \(Input/output error\)$"):
        load_params(path)
