"""The coupled GAN (CoGAN): schema, shared weights, a learnable toy, resume, both backends.

The toy is 4x4 bright squares at random places on 8x8 black images and
their negatives, each domain from its own half of the images: a coupled
pair learns to put the square in the same place in both domains within a
few hundred steps, which two independent draws do not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import REPO_ROOT
from coupled_step import take_step
from test_training import CrashAfterEpoch

from pipeline.callbacks import fingerprint_of
from pipeline.data.halves import split_halves
from pipeline.data.stream import ArrayExamples, BatchStream
from pipeline.errors import PipelineError
from pipeline.evaluation.coupled import to_domain
from pipeline.evaluation.pixel_metrics import pixel_agreement
from pipeline.models.coupled_networks import build_coupled_pair
from pipeline.models.coupled_settings import COUPLED_PRESETS, CoupledParams
from pipeline.params import ParamsError, parse_params
from pipeline.task_file import read_task
from pipeline.training.model import build_model
from pipeline.training.paths import TrainPaths
from pipeline.training.session import fit_model

SHAPE = (8, 8, 1)
COUPLED_STEP = REPO_ROOT / "tests" / "coupled_step.py"


def squares(count: int, seed: int = 0) -> np.ndarray:
    """8x8 images in [-1, 1]: a 4x4 bright square at a random place on black."""
    images = -np.ones((count, *SHAPE), np.float32)
    for image, (row, col) in zip(
        images, np.random.default_rng(seed).integers(0, 5, (count, 2)), strict=True
    ):
        image[row : row + 4, col : col + 4] = 1.0
    return images


def params_with(section: dict, domains: list[str] | None = None) -> dict:
    prepare = {"domains": domains} if domains is not None else {}
    return {"models": ["co"], "prepare": prepare, "co": section}


def cogan(section: dict | None = None, domains=("negative",)) -> CoupledParams:
    base = {"family": "cogan", "domains": {"second": "negative"}}
    return parse_params(params_with({**base, **(section or {})}, list(domains))).model("co")


def test_the_cogan_preset_carries_the_papers_settings():
    params = parse_params(params_with({"family": "cogan"}, ["edges"])).model("co")
    assert isinstance(params, CoupledParams)
    assert (params.domains.first, params.domains.second) == ("A", "edges")
    assert params.loss.name == "non_saturating" and params.network.latent_dim == 100
    for optimizer in (params.train.d_optimizer, params.train.g_optimizer):
        assert (optimizer.name, optimizer.learning_rate, optimizer.beta_1) == ("adam", 2e-4, 0.5)


@pytest.mark.parametrize(
    "section, domains, message",
    [
        ({"network": {"kind": "mlp"}}, ["edges"], "co.network.kind: unknown key"),
        ({"task": {"input": "A"}}, ["edges"], "co.task: unknown key"),
        ({"regularisers": {}}, ["edges"], "co.regularisers: unknown key"),
        ({"train": {"d_steps": 2}}, ["edges"], "co.train.d_steps: unknown key"),
        ({"domains": {"first": "edges"}}, ["edges"], "co.domains.first = 'edges'"),
        ({"domains": {"second": "B"}}, ["edges"], "co.domains.second = 'B'"),
        ({}, [], "co.domains.second = 'edges': not a prepared domain"),
    ],
)
def test_keys_of_other_kinds_and_bad_domains_are_one_line(section, domains, message):
    with pytest.raises(ParamsError) as caught:
        parse_params(params_with({"family": "cogan", **section}, domains))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_coupled_task_file_without_its_second_domain_is_one_line(tmp_path):
    path = tmp_path / "task.json"
    path.write_text('{"kind": "coupled_generation", "family": "cogan", "first": "A"}')
    with pytest.raises(PipelineError, match="'second' is missing") as caught:
        read_task(path)
    assert "\n" not in str(caught.value)


def _nudge(layer: keras.layers.Layer) -> None:
    layer.set_weights([w + 0.5 for w in layer.get_weights()])


def test_shared_layers_move_both_networks_and_own_layers_one():
    pair = build_coupled_pair((28, 28, 1), (28, 28, 3), filters=4, latent_dim=8)
    (g1, g2), (d1, d2) = pair.generators, pair.discriminators
    z = np.random.default_rng(0).standard_normal((4, 8)).astype("float32")
    images = (np.zeros((4, 28, 28, 1), "float32"), np.zeros((4, 28, 28, 3), "float32"))

    def outputs():
        return [
            np.asarray(g1(z)),
            np.asarray(g2(z)),
            np.asarray(d1(images[0])),
            np.asarray(d2(images[1])),
        ]

    before = outputs()
    _nudge(g1.get_layer("project"))  # shared: G's first layer
    _nudge(d1.get_layer("score"))  # shared: D's last layer
    assert g2.get_layer("project") is g1.get_layer("project")
    assert all(not np.allclose(a, b) for a, b in zip(before, outputs(), strict=True))
    before = outputs()
    _nudge(g1.get_layer("image_1"))  # G1's own last layer
    _nudge(d2.get_layer("conv_0_2"))  # D2's own first layer
    after = outputs()
    moved = [not np.allclose(a, b) for a, b in zip(before, after, strict=True)]
    assert moved == [True, False, False, True]


def test_each_saved_network_reloads_alone(tmp_path):
    pair = build_coupled_pair(SHAPE, SHAPE, filters=4, latent_dim=8)
    z = np.random.default_rng(0).standard_normal((4, 8)).astype("float32")
    for network in (*pair.generators, pair.discriminators[1]):
        path = tmp_path / f"{network.name}.keras"
        network.save(path)
        reloaded = keras.saving.load_model(path)  # no project code, no custom objects
        inputs = z if network in pair.generators else squares(4)
        np.testing.assert_allclose(np.asarray(reloaded(inputs)), np.asarray(network(inputs)))


def test_cogan_learns_the_correspondence_without_pairs():
    section = {
        "network": {"filters": 16, "latent_dim": 8},
        "train": {
            "batch_size": 32,
            "d_optimizer": {"learning_rate": 1e-3},
            "g_optimizer": {"learning_rate": 1e-3},
        },
    }
    model = build_model(cogan(section), SHAPE, seed=0, target_shape=SHAPE)
    images = squares(1024)
    one, other = split_halves(len(images), seed=0)  # no square is seen in both domains
    stream = BatchStream(ArrayExamples(images[one], -images[other]), 32, seed=0, labels=True)
    history = model.fit(iter(stream), steps_per_epoch=100, epochs=4, verbose=0, shuffle=False)
    assert set(history.history) == set(model.tracked_names()) >= {"d_loss", "d2_acc_real"}

    z, other_z = (
        np.random.default_rng(s).standard_normal((256, 8)).astype("float32") for s in (1, 2)
    )
    mapped = to_domain(np.asarray(model.generator(z)), "negative", 0)
    coupled = pixel_agreement(np.asarray(model.second_generator(z)), mapped)
    uncoupled = pixel_agreement(np.asarray(model.second_generator(other_z)), mapped)
    print(f"pixel agreement {coupled:.3f}, independent z {uncoupled:.3f}")
    assert coupled > 0.9 and coupled > uncoupled + 0.15
    assert np.asarray(model.generator(z)).std(axis=0).mean() > 0.3, "collapsed to one square"


def weights_of(model) -> list[np.ndarray]:
    return [np.asarray(v) for v in model.variables]


def test_resume_after_a_kill_matches_an_uninterrupted_run(
    tmp_path, negatives_dir, untrained_classifier
):
    section = {
        "network": {"filters": 4, "latent_dim": 8},
        "train": {
            "epochs": 2,
            "batch_size": 500,
            "grid_size": 2,
            "eval_every": 1,
            "eval_samples": 100,
        },
    }
    params = cogan(section)
    fingerprint = fingerprint_of(params.model_dump(), 0)

    def paths(name: str) -> TrainPaths:
        return TrainPaths(
            negatives_dir, tmp_path / name / "out", tmp_path / name / "ck", untrained_classifier
        )

    whole = fit_model(params, 0, paths("whole"), fingerprint, verbose=0)
    killed = paths("killed")
    with pytest.raises(KeyboardInterrupt):
        fit_model(params, 0, killed, fingerprint, verbose=0, callbacks=[CrashAfterEpoch(1)])
    resumed = fit_model(params, 0, killed, fingerprint, verbose=0)

    for a, b in zip(weights_of(whole), weights_of(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    # Two epochs of a half (2,000 images) in batches of 500.
    assert int(resumed.g_optimizer.iterations) == int(whole.g_optimizer.iterations) == 8
    out = killed.outputs
    assert out.quality.read_text() == paths("whole").outputs.quality.read_text()
    assert out.quality.read_text().splitlines()[0].endswith("pixel_agreement,foreground_agreement")
    assert (out.networks / "second_generator.keras").is_file()
    task = json.loads(out.task.read_text())
    assert task == {
        "kind": "coupled_generation",
        "family": "cogan",
        "first": "A",
        "second": "negative",
    }


def test_one_step_agrees_across_backends(tmp_path):
    tensorflow = take_step(None)
    init = tmp_path / "init.npz"
    np.savez(init, **{k: v for k, v in tensorflow.items() if k.startswith("init/")})
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = tmp_path / "jax.npz"
    done = subprocess.run(
        [sys.executable, str(COUPLED_STEP), str(out), "--init", str(init)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "tensorflow loaded: False" in done.stdout
    jax = dict(np.load(out))
    logs = [key for key in tensorflow if key.startswith("log/")]
    assert {"log/d_loss", "log/g_loss", "log/d2_acc_fake"} <= set(logs)
    for key in logs:
        np.testing.assert_allclose(jax[key], tensorflow[key], rtol=1e-5, atol=1e-6, err_msg=key)
    variables = [key for key in tensorflow if key.startswith("var/")]
    moved = [k for k in variables if not np.array_equal(tensorflow[k], tensorflow[f"init/{k[4:]}"])]
    assert moved, "the step changed no variable"
    for key in variables:
        np.testing.assert_allclose(jax[key], tensorflow[key], rtol=1e-4, atol=1e-4, err_msg=key)


def test_docs_list_the_coupled_preset_and_every_key():
    text = (REPO_ROOT / "docs" / "params.md").read_text()
    for preset in COUPLED_PRESETS:
        assert f"| `{preset}` |" in text, f"docs/params.md has no row for preset {preset}"
    sections = [
        CoupledParams,
        *(CoupledParams.model_fields[k].annotation for k in ("domains", "network")),
    ]
    for section in sections:
        for field in section.model_fields:
            assert re.search(rf"`(\w+\.)?{field}`", text), f"coupled key {field} undocumented"
