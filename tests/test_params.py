"""The params schema: one test per kind of mistake, each a one-line error naming the key."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

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
