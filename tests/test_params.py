"""The params schema: one test per kind of mistake, each a one-line error naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from pipeline.params import ParamsError, flatten, load_params, parse_params

REPO_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(REPO_PARAMS.read_text())


def error_for(raw: dict) -> str:
    with pytest.raises(ParamsError) as caught:
        parse_params(raw)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_repo_params_are_valid():
    params = load_params(REPO_PARAMS)
    assert params.models == ["gan", "cgan", "wgan", "wgan_gp"]
    assert params.model("gan").network.latent_dim == 100
    families = [params.model(name).family for name in params.models]
    assert families == ["gan", "cgan", "wgan", "wgan_gp"]
    assert params.model("cgan").conditional
    # Family defaults fill in what a section leaves out; the section wins where it speaks.
    assert params.model("wgan_gp").train.d_optimizer.beta_2 == 0.9
    assert params.model("wgan").train.d_steps == 5
    assert params.model("wgan").train.d_optimizer.learning_rate == 2e-4


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
    raw["gan"]["loss"] = "wasserstein"
    message = error_for(raw)
    assert "gan.loss = 'wasserstein'" in message
    assert "'minimax'" in message and "'non_saturating'" in message


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


def test_each_family_gets_its_papers_defaults(raw):
    raw["models"] = ["gan", "wgan", "wgan_gp", "cgan"]
    raw["wgan"] = {"family": "wgan"}
    raw["wgan_gp"] = {"family": "wgan_gp", "train": {"d_steps": 3}}
    raw["cgan"] = {"family": "cgan"}
    params = parse_params(raw)
    wgan = params.model("wgan")
    assert wgan.train.d_steps == 5 and wgan.clip_value == 0.01
    assert (wgan.train.d_optimizer.name, wgan.train.d_optimizer.learning_rate) == ("rmsprop", 5e-5)
    gp = params.model("wgan_gp")
    assert gp.train.d_steps == 3, "a key the section sets wins over the family default"
    assert gp.train.g_optimizer.beta_1 == 0.0 and gp.train.g_optimizer.beta_2 == 0.9
    assert gp.network.discriminator_norm == "layer" and gp.gradient_penalty == 10.0
    assert params.model("cgan").conditional is True
    assert params.model("gan").conditional is False


def test_family_contradictions_are_rejected(raw):
    raw["gan"]["family"] = "cgan"
    raw["gan"]["conditional"] = False
    assert "gan.conditional = False: a cgan is conditional" in error_for(raw)
    raw["gan"] = {"family": "wgan_gp", "network": {"discriminator_norm": "batch"}}
    assert "gan.network.discriminator_norm = 'batch'" in error_for(raw)
    raw["gan"] = {"family": "wgan", "train": {"label_smoothing": 0.1}}
    assert "gan.train.label_smoothing = 0.1: a critic has no labels" in error_for(raw)
