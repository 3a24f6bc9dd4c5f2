"""The params schema: one test per kind of mistake, each a one-line error naming the key."""

from __future__ import annotations

import copy
import errno
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_ROOT, committed_params_text

from pipeline.data.sources import SOURCES
from pipeline.params import (
    MAX_NAME_CHARS,
    ParamsError,
    flatten,
    load_params,
    parse_params,
)
from pipeline.schema import (
    MAX_BATCH_SIZE,
    MAX_D_STEPS,
    MAX_EPOCHS,
    MAX_FEATURE_DIM,
    MAX_FILTERS,
    MAX_KID_SUBSETS,
    MAX_LATENT_DIM,
    MAX_LAYERS,
    MAX_SAMPLES,
    MAX_SHARD_SIZE,
    MAX_UNITS,
)
from pipeline.stage_values import write_resolved

# The committed params.yaml (conftest.committed_params_text), never the workspace's.
SHIPPED = committed_params_text()


@pytest.fixture(scope="module")
def shipped_file(tmp_path_factory) -> Path:
    """The committed params.yaml as a file of its own, for `load_params`."""
    path = tmp_path_factory.mktemp("shipped") / "params.yaml"
    path.write_text(SHIPPED)
    return path


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(SHIPPED)


def error_for(raw: dict) -> str:
    with pytest.raises(ParamsError) as caught:
        parse_params(raw)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_repo_params_are_valid(shipped_file):
    params = load_params(shipped_file)
    assert params.models == ["gan", "cgan", "wgan", "wgan_gp"]
    assert params.model("gan").network.latent_dim == 100
    families = [params.model(name).family for name in params.models]
    assert families == ["gan", "acgan", "wgan", "wgan_gp"]
    assert params.model("cgan").conditional
    # Family defaults fill in what a section leaves out; the section wins where it speaks.
    assert params.model("wgan_gp").train.d_optimizer.beta_2 == 0.9
    assert params.model("wgan").train.d_steps == 5
    assert params.model("wgan").train.d_optimizer.learning_rate == 2e-4


def test_the_ring_profile_compares_losses_critics_and_unrolling_on_the_ring():
    params = load_params(REPO_ROOT / "profiles" / "ring.yaml")
    assert params.prepare.source.kind == "ring"
    assert params.models == ["minimax", "gan", "wgan", "wgan_gp", "unrolled"]
    models = {name: params.model(name) for name in params.models}
    assert models["minimax"].loss.name == "minimax" and models["gan"].loss.name == "non_saturating"
    assert models["unrolled"].unrolling.steps == 5
    # The three GANs differ only in the loss or the unrolling: the same optimizers.
    optimizers = {
        (m.train.d_optimizer, m.train.g_optimizer) for n, m in models.items() if "wgan" not in n
    }
    assert len(optimizers) == 1
    assert all(m.network.kind == "mlp" for m in models.values())


def test_the_equal_time_profile_trains_each_preset_for_its_share_of_the_cpu():
    params = load_params(REPO_ROOT / "profiles" / "equal_time.yaml")
    assert params.models == ["dcgan", "progan", "stylegan"]
    models = {name: params.model(name) for name in params.models}
    assert [models[n].network.kind for n in params.models] == params.models
    assert [models[n].train.epochs for n in params.models] == [150, 17, 15]
    assert models["progan"].network.phase_images == 10_000


def test_unknown_key_names_the_path_and_the_allowed_keys(raw):
    raw["gan"]["train"]["epoch"] = 3
    message = error_for(raw)
    assert "gan.train.epoch: unknown key" in message
    assert "epochs" in message


def test_unknown_top_level_section(raw):
    raw["trian"] = {}
    message = error_for(raw)
    assert "trian: unknown key" in message and "prepare" in message


def test_wrong_type_names_the_value(raw):
    raw["gan"]["train"]["batch_size"] = "sixty-four"
    assert "gan.train.batch_size = 'sixty-four'" in error_for(raw)


def test_float_is_not_silently_truncated_to_int(raw):
    raw["evaluator"]["epochs"] = 2.5
    assert "evaluator.epochs = 2.5" in error_for(raw)


def test_out_of_range_value(raw):
    raw["prepare"]["test_fraction"] = 1.5
    message = error_for(raw)
    assert "prepare.test_fraction = 1.5" in message and "less than 1" in message


def test_value_outside_a_choice_lists_the_choices(raw):
    raw["gan"]["train"]["strategy"] = "tpu"
    message = error_for(raw)
    assert "gan.train.strategy = 'tpu'" in message
    assert "'auto'" in message and "'mirrored'" in message


def test_an_unknown_part_lists_the_registered_ones(raw):
    raw["gan"]["loss"] = {"name": "wasserstain"}
    message = error_for(raw)
    assert "gan.loss.name = 'wasserstain': unknown (allowed: non_saturating, minimax" in message
    raw["gan"]["loss"] = {"name": "hinge"}
    raw["gan"]["network"]["kind"] = "transformer"
    assert "gan.network.kind = 'transformer': unknown (allowed: mlp, dcgan" in error_for(raw)
    raw["gan"]["network"] = {"kind": "mlp"}
    raw["gan"]["regularisers"] = {"dropout": {}}
    message = error_for(raw)
    assert "gan.regularisers.dropout: unknown key (allowed:" in message and "r1" in message


def test_model_without_a_section(raw):
    raw["models"] = [*raw["models"], "gan2"]
    assert "gan2: section is missing" in error_for(raw)


def test_model_name_must_not_shadow_a_section(raw):
    raw["models"] = ["prepare"]
    assert "models: 'prepare' is not a valid model name" in error_for(raw)


def test_scientific_notation_reads_as_a_number(raw):
    raw["gan"]["train"]["d_optimizer"]["learning_rate"] = "1e-3"
    params = parse_params(raw)
    assert params.model("gan").train.d_optimizer.learning_rate == pytest.approx(1e-3)


def test_a_second_model_section_is_validated_like_the_first(raw):
    second = copy.deepcopy(raw["gan"])
    second["network"]["latent_dim"] = 0
    raw["models"] = [*raw["models"], "small"]
    raw["small"] = second
    assert "small.network.latent_dim = 0" in error_for(raw)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "absent.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: [1, 2\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ParamsError, match="expected a mapping"):
        load_params(bad)


def test_flatten_gives_dotted_keys(raw):
    flat = flatten(parse_params(raw).model("gan"))
    assert flat["train.d_optimizer.learning_rate"] == pytest.approx(2e-4)
    assert flat["network.generator_units"] == [256, 512]
    assert flat["loss.name"] == "non_saturating"


def test_each_family_gets_its_papers_parts(raw):
    raw["models"] = ["gan", "wgan", "wgan_gp", "cgan"]
    raw["wgan"] = {"family": "wgan"}
    raw["wgan_gp"] = {"family": "wgan_gp", "train": {"d_steps": 3}}
    raw["cgan"] = {"family": "cgan"}
    params = parse_params(raw)
    wgan = params.model("wgan")
    assert wgan.loss.name == "wasserstein" and wgan.train.d_steps == 5
    assert wgan.regularisers.weight_clipping.clip_value == 0.01
    assert (wgan.train.d_optimizer.name, wgan.train.d_optimizer.learning_rate) == ("rmsprop", 5e-5)
    gp = params.model("wgan_gp")
    assert gp.train.d_steps == 3, "a key the section sets wins over the preset"
    assert gp.train.g_optimizer.beta_1 == 0.0 and gp.train.g_optimizer.beta_2 == 0.9
    assert (
        gp.regularisers.gradient_penalty.weight == 10.0 and gp.regularisers.weight_clipping is None
    )
    assert params.model("cgan").conditional is True
    assert params.model("cgan").conditioning.kind == "concat"
    assert params.model("gan").conditional is False


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"family": "lsgan"}, {"loss": "least_squares", "conditioning": "none", "d_steps": 1}),
        (
            {"family": "sngan"},
            {"loss": "hinge", "regularisers": ["spectral_norm"], "d_steps": 5, "beta_1": 0.0},
        ),
        ({"family": "acgan"}, {"loss": "non_saturating", "conditioning": "acgan"}),
        (
            {"family": "projection"},
            {"loss": "hinge", "conditioning": "projection", "regularisers": ["spectral_norm"]},
        ),
        ({"family": "dcgan"}, {"network": "dcgan", "regularisers": []}),
    ],
)
def test_each_new_preset_names_its_papers_parts(raw, section, expected):
    raw["gan"] = section
    model = parse_params(raw).model("gan")
    found = {
        "loss": model.loss.name,
        "conditioning": model.conditioning.kind,
        "network": model.network.kind,
        "regularisers": [name for name, _ in model.regularisers.named_parts()],
        "d_steps": model.train.d_steps,
        "beta_1": model.train.d_optimizer.beta_1,
    }
    assert {key: found[key] for key in expected} == expected


def test_a_section_overrides_any_part_of_its_preset(raw):
    raw["gan"] = {
        "family": "sngan",
        "loss": {"name": "least_squares"},
        "regularisers": {"r1": {"gamma": 1.0}, "spectral_norm": None},
        "network": {"kind": "dcgan", "filters": 16, "discriminator_norm": "none"},
    }
    model = parse_params(raw).model("gan")
    assert model.loss.name == "least_squares"
    assert [name for name, _ in model.regularisers.named_parts()] == ["r1"]
    assert (model.network.kind, model.network.filters) == ("dcgan", 16)
    assert model.train.d_steps == 5, "what the section leaves alone stays the preset's"


def test_a_part_of_another_kind_replaces_the_presets_settings(raw):
    # The preset's `label_smoothing` would not apply to hinge: naming another
    # loss starts from that loss's own defaults.
    raw["gan"] = {"family": "gan", "loss": {"name": "non_saturating", "label_smoothing": 0.1}}
    assert parse_params(raw).model("gan").loss.label_smoothing == 0.1
    raw["gan"]["loss"] = {"name": "hinge"}
    assert parse_params(raw).model("gan").loss.name == "hinge"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            {"family": "sngan", "loss": {"clip_value": 0.01}},
            "gan.loss.clip_value: does not apply when gan.loss.name is 'hinge' (allowed: name)",
        ),
        (
            {"family": "wgan", "loss": {"label_smoothing": 0.1}},
            "gan.loss.label_smoothing: does not apply when gan.loss.name is 'wasserstein'",
        ),
        (
            {"family": "gan", "network": {"kind": "dcgan", "generator_units": [64]}},
            "gan.network.generator_units: does not apply when gan.network.kind is 'dcgan'",
        ),
        (
            {"family": "gan", "train": {"d_optimizer": {"momentum": 0.9}}},
            "gan.train.d_optimizer.momentum: does not apply when gan.train.d_optimizer.name is "
            "'adam' (allowed: beta_1, beta_2, learning_rate, name)",
        ),
        (
            {"family": "wgan_gp", "network": {"kind": "dcgan", "discriminator_norm": "batch"}},
            "gan.regularisers.gradient_penalty: its penalty differentiates D per example",
        ),
        (
            {"family": "gan", "regularisers": {"r1": {"gamma": 1.0}}, "network": {"kind": "dcgan"}},
            "gan.regularisers.r1: its penalty differentiates D per example",
        ),
        (
            {"family": "cgan", "conditioning": {"generator_input": "batch_norm"}},
            "gan.conditioning.generator_input = 'batch_norm': the mlp generator has no BatchNorm",
        ),
        (
            {"family": "gan", "conditioning": {"generator_input": "batch_norm"}},
            "gan.conditioning.generator_input: does not apply when gan.conditioning.kind is 'none'",
        ),
        (
            {"family": "gan", "train": {"label_smoothing": 0.1}},
            "gan.train.label_smoothing: unknown key (allowed:",
        ),
    ],
)
def test_keys_that_do_not_apply_are_one_line_errors(raw, section, expected):
    raw["gan"] = section
    assert expected in error_for(raw)


# --- prepare.source: a part like a loss, picked by `kind` ---------------------------


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_each_source_validates_from_its_defaults_and_round_trips(raw, kind):
    raw["prepare"] = {"source": {"kind": kind}}
    source = parse_params(raw).prepare.source
    assert isinstance(source, SOURCES[kind])
    assert source == SOURCES[kind]()
    # What resolved/prepare.json holds reads back as the same settings.
    raw["prepare"] = parse_params(raw).prepare.model_dump(mode="json")
    assert parse_params(raw).prepare.source == source


def test_a_source_takes_its_own_settings(raw):
    raw["prepare"]["source"] = {"kind": "tfds", "name": "cifar10", "download": True}
    source = parse_params(raw).prepare.source
    assert (source.name, source.data_dir, source.download) == ("cifar10", None, True)
    raw["prepare"]["source"] = {"kind": "idx", "path": "data/raw/fashion"}
    assert parse_params(raw).prepare.source.path == "data/raw/fashion"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            {"kind": "mnist5k", "path": "x"},
            "prepare.source.path: does not apply when prepare.source.kind is 'mnist5k' "
            "(allowed: kind)",
        ),
        (
            {"kind": "idx", "name": "mnist"},
            "prepare.source.name: does not apply when prepare.source.kind is 'idx' "
            "(allowed: kind, path)",
        ),
        (
            {"kind": "tfds", "path": "data/raw/mnist"},
            "prepare.source.path: does not apply when prepare.source.kind is 'tfds' "
            "(allowed: data_dir, download, kind, name)",
        ),
        (
            {"kind": "imagenet"},
            "prepare.source.kind = 'imagenet': unknown (allowed: mnist5k, tfds, idx, "
            "folder, unaligned_folders, aligned_folder, ring)",
        ),
        (
            {"name": "cifar10"},
            "prepare.source.kind: required key is missing (allowed: mnist5k, tfds, idx, "
            "folder, unaligned_folders, aligned_folder, ring)",
        ),
        (
            # The form before sources had settings of their own.
            "tfds",
            "prepare.source = 'tfds': expected a mapping with its kind, e.g. {kind: tfds} "
            "(allowed: mnist5k, tfds, idx, folder, unaligned_folders, aligned_folder, ring)",
        ),
        ({"kind": "tfds", "download": "yes"}, "prepare.source.download = 'yes'"),
    ],
)
def test_a_bad_source_is_a_one_line_error(raw, source, expected):
    raw["prepare"]["source"] = source
    assert expected in error_for(raw)


def test_the_old_per_source_sections_are_unknown_keys(raw):
    raw["prepare"]["tfds"] = {"name": "mnist"}
    assert (
        "prepare.tfds: unknown key (allowed: domains, shard_size, source, test_fraction)"
        in error_for(raw)
    )


# --- every bad params file: one short line naming the key and what is allowed ----

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
    ("train epochs", edit(gan__train__epochs=10**12), ("gan.train.epochs", f"{OVER} {MAX_EPOCHS}")),
    ("evaluator epochs", edit(evaluator__epochs=10**6), ("evaluator.epochs", str(MAX_EPOCHS))),
    (
        "latent_dim",
        edit(gan__network__latent_dim=10**9),
        ("gan.network.latent_dim = 1000000000", f"{OVER} {MAX_LATENT_DIM}"),
    ),
    (
        "a layer's width",
        edit(gan__network__generator_units=[256, 10**9]),
        ("gan.network.generator_units.1 = 1000000000", f"{OVER} {MAX_UNITS}"),
    ),
    (
        "the number of layers",
        edit(gan__network__discriminator_units=[8] * (MAX_LAYERS + 1)),
        ("gan.network.discriminator_units = [8, 8, 8, 8, ...]", f"at most {MAX_LAYERS} items"),
    ),
    (
        "filters",
        edit(gan__network={"kind": "dcgan", "filters": 10**6}),
        ("gan.network.filters", str(MAX_FILTERS)),
    ),
    (
        "train batch size",
        edit(cgan__train__batch_size=10**9),
        ("cgan.train.batch_size", f"{OVER} {MAX_BATCH_SIZE}"),
    ),
    ("evaluator batch size", edit(evaluator__batch_size=10**9), ("evaluator.batch_size", OVER)),
    ("evaluate batch size", edit(evaluate__batch_size=10**9), ("evaluate.batch_size", OVER)),
    ("d_steps", edit(wgan__train__d_steps=10**6), ("wgan.train.d_steps", f"{OVER} {MAX_D_STEPS}")),
    (
        "eval_samples",
        edit(gan__train__eval_samples=10**9),
        ("gan.train.eval_samples", f"{OVER} {MAX_SAMPLES}"),
    ),
    ("evaluate num_samples", edit(evaluate__num_samples=10**9), ("evaluate.num_samples", OVER)),
    (
        "kid_subsets",
        edit(evaluate__kid_subsets=10**9),
        ("evaluate.kid_subsets", f"{OVER} {MAX_KID_SUBSETS}"),
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
        ("prepare.shard_size", f"{OVER} {MAX_SHARD_SIZE}"),
    ),
    (
        "feature_dim",
        edit(evaluator__feature_dim=10**9),
        ("evaluator.feature_dim", f"{OVER} {MAX_FEATURE_DIM}"),
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


# --- what must keep working ------------------------------------------------------


def test_shipped_params_resolve_to_the_values_training_used(shipped_file):
    # Compared in full against a dump taken before the limits were added; these
    # are the values that, changed, would move the results.
    params = load_params(shipped_file)
    assert (params.seed, params.mlflow.experiment) == (42, "gan-pipeline")
    assert params.prepare.model_dump() == {
        "source": {"kind": "mnist5k"},
        "test_fraction": 0.2,
        "shard_size": 10_000,
        "domains": [],
    }
    assert params.evaluator.model_dump() == {
        "epochs": 5,
        "batch_size": 128,
        "learning_rate": 0.001,
        "feature_dim": 64,
    }
    assert params.evaluate.model_dump() == {
        "num_samples": 1000,
        "batch_size": 256,
        "coverage_threshold": 0.1,
        "kid_subsets": 100,
        "kid_subset_size": 500,
        "classifier_score_splits": 10,
        "precision_recall_k": 3,
        "density_coverage_k": 5,
    }
    resolved = {name: flatten(params.model(name)) for name in params.models}
    assert [resolved[n]["train.epochs"] for n in params.models] == [200, 30, 160, 40]
    assert {resolved[n]["train.batch_size"] for n in params.models} == {64}
    assert {resolved[n]["network.latent_dim"] for n in params.models} == {100}
    for name in ("gan", "wgan"):
        assert resolved[name]["network.kind"] == "mlp"
        assert resolved[name]["network.generator_units"] == [256, 512]
    for name in ("cgan", "wgan_gp"):
        assert (resolved[name]["network.kind"], resolved[name]["network.filters"]) == ("dcgan", 32)
    assert resolved["cgan"]["network.discriminator_norm"] == "batch"
    assert resolved["wgan_gp"]["network.discriminator_norm"] == "layer"
    optimizer = "train.d_optimizer."
    assert [resolved[n]["train.d_steps"] for n in params.models] == [1, 1, 5, 2]
    assert [resolved[n][f"{optimizer}name"] for n in params.models] == [
        "adam",
        "adam",
        "rmsprop",
        "adam",
    ]
    assert {resolved[n][f"{optimizer}learning_rate"] for n in params.models} == {2e-4}
    assert [resolved[n].get(f"{optimizer}beta_1") for n in params.models] == [0.5, 0.5, None, 0.0]
    assert resolved["wgan_gp"][f"{optimizer}beta_2"] == 0.9
    assert resolved["wgan_gp"]["regularisers.gradient_penalty.weight"] == 10.0
    assert (resolved["cgan"]["conditioning.kind"], resolved["cgan"]["conditioning.weight"]) == (
        "acgan",
        3.0,
    )
    assert resolved["wgan"]["regularisers.weight_clipping.clip_value"] == 0.01
    assert [resolved[n]["loss.name"] for n in params.models] == [
        "non_saturating",
        "non_saturating",
        "wasserstein",
        "wasserstein",
    ]


def test_sizes_at_their_limits_are_accepted(raw):
    raw["gan"]["train"].update(epochs=MAX_EPOCHS, batch_size=MAX_BATCH_SIZE, d_steps=MAX_D_STEPS)
    raw["gan"]["network"].update(
        latent_dim=MAX_LATENT_DIM, generator_units=[MAX_UNITS] * MAX_LAYERS
    )
    raw["cgan"]["network"] = {"kind": "dcgan", "filters": MAX_FILTERS}
    raw["evaluate"].update(
        num_samples=MAX_SAMPLES, kid_subsets=MAX_KID_SUBSETS, kid_subset_size=MAX_SAMPLES
    )
    raw["prepare"]["shard_size"] = MAX_SHARD_SIZE
    raw["evaluator"]["feature_dim"] = MAX_FEATURE_DIM
    network = parse_params(raw).model("gan").network
    assert network.generator_units == [MAX_UNITS] * MAX_LAYERS


def test_sample_dependent_sizes_at_their_limits_are_accepted(raw):
    raw["evaluate"] = {
        "num_samples": 10,
        "kid_subset_size": 10,
        "precision_recall_k": 9,
        "density_coverage_k": 9,
        "classifier_score_splits": 5,
    }
    assert parse_params(raw).evaluate.classifier_score_splits == 5


def test_a_huge_learning_rate_is_left_to_training(raw):
    # Divergence is the training stage's to catch; a big SGD rate is an experiment.
    raw["gan"]["train"]["d_optimizer"] = {"name": "sgd", "learning_rate": 1e6}
    assert parse_params(raw).model("gan").train.d_optimizer.learning_rate == 1e6


@pytest.mark.parametrize("name", ["gan-pipeline", "exp_2.1", "0", "e" * MAX_NAME_CHARS])
def test_experiment_names_that_are_names_are_accepted(raw, name):
    raw["mlflow"] = {"experiment": name}
    assert parse_params(raw).mlflow.experiment == name


SHARED_OPTIMIZERS = """\
models: [gan, wgan]
gan:
  train:
    d_optimizer: &adam {name: adam, learning_rate: 0.0002, beta_1: 0.5}
    g_optimizer: {<<: *adam, learning_rate: 0.0001}
wgan:
  family: wgan
  train:
    d_optimizer: &rms {name: rmsprop, learning_rate: 0.0002}
    g_optimizer: *rms
"""


def test_anchors_and_aliases_still_work(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(SHARED_OPTIMIZERS)
    params = load_params(path)
    gan = params.model("gan").train
    assert (gan.d_optimizer.learning_rate, gan.g_optimizer.learning_rate) == (2e-4, 1e-4)
    assert gan.g_optimizer.beta_1 == 0.5, "a merged key the mapping does not override"
    wgan = params.model("wgan").train
    assert wgan.g_optimizer == wgan.d_optimizer
    assert (wgan.g_optimizer.name, wgan.g_optimizer.learning_rate) == ("rmsprop", 2e-4)


def test_a_file_yaml_dump_wrote_with_aliases_loads(tmp_path):
    # safe_dump writes one object shared twice as an anchor and an alias.
    raw = yaml.safe_load(SHIPPED)
    units = [64]
    raw["gan"]["network"].update(generator_units=units, discriminator_units=units)
    dumped = yaml.safe_dump(raw)
    assert "&id001" in dumped
    path = tmp_path / "params.yaml"
    path.write_text(dumped)
    assert load_params(path).model("gan").network.discriminator_units == [64]


def test_a_utf8_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + SHIPPED.encode())
    assert load_params(path).seed == 42


def test_loading_params_imports_no_tensorflow():
    check = (
        "import sys; from pipeline.params import load_params; load_params('params.yaml'); "
        "assert not any(m.split('.')[0] == 'tensorflow' for m in sys.modules), 'tensorflow'"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def committed_resolved() -> dict[str, str]:
    """resolved/ as committed (the workspace's may hold an experiment's), by path inside it."""
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "HEAD", "resolved/"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:  # outside git: the files are all there is
        folder = REPO_ROOT / "resolved"
        return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*.json")}
    return {
        name.removeprefix("resolved/"): subprocess.run(
            ["git", "show", f"HEAD:{name}"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout
        for name in listed.stdout.split()
    }


def test_the_committed_resolved_files_are_what_the_shipped_params_give(tmp_path):
    # A stage's values changed in code (a new setting, a moved default) but
    # resolved/ not regenerated: the committed record would no longer say what
    # a stage runs with. The fix is a `dvc repro` that reaches the params stage.
    write_resolved(parse_params(yaml.safe_load(SHIPPED)), tmp_path)
    written = {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*.json")}
    assert written == committed_resolved()
