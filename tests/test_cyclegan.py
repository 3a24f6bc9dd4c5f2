"""The unpaired translation model (CycleGAN): schema, the history pool, unpaired data,
a learnable toy, resume, and one step on both backends.

The toy is the negative of small random blob images, learnt from blobs and
negatives of *other* blobs, so the model never sees a pair; the test knows
the answer all the same.
"""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import REPO_ROOT
from resume import check_resume
from test_translation import SHAPE, blobs

from pipeline.data.stream import ArrayExamples, BatchStream
from pipeline.data.unpaired import UnpairedExamples
from pipeline.errors import PipelineError
from pipeline.models.translation.cycle import HistoryPool
from pipeline.params import ParamsError, parse_params
from pipeline.task_file import read_task
from pipeline.training.model import build_model

TOY = {
    "family": "cyclegan",
    "task": {"input": "A", "target": "negative"},
    "generator": {"kind": "unet", "filters": 8},
    "discriminator": {"kind": "patchgan", "filters": 8, "norm": "instance"},
    "pool_size": 8,
    "train": {"batch_size": 16},
}
CYCLE_STEP = REPO_ROOT / "tests" / "cycle_step.py"


def params_with(section: dict, domains: list[str] | None = None) -> dict:
    prepare = {"domains": ["negative"] if domains is None else domains}
    return {"models": ["cyc"], "prepare": prepare, "cyc": section}


def toy_params(**overrides):
    return parse_params(params_with({**TOY, **overrides})).model("cyc")


def toy_stream(seed: int = 0, start_batch: int = 0, count: int = 256) -> BatchStream:
    examples = ArrayExamples(blobs(count), -blobs(count, seed=5))  # B: negatives of other blobs
    return BatchStream(examples, 16, seed, start_batch, labels=True)


# --- the schema ----------------------------------------------------------------------


def test_the_cyclegan_preset_carries_the_papers_settings():
    params = parse_params(params_with({"family": "cyclegan"})).model("cyc")
    assert (params.task.input, params.task.target) == ("A", "negative")
    assert params.generator.kind == "resnet"
    assert (params.discriminator.kind, params.discriminator.norm) == ("patchgan", "instance")
    assert params.loss.name == "least_squares"
    assert (params.cycle_weight, params.identity_weight, params.pool_size) == (10.0, 0.5, 50)
    for optimizer in (params.train.g_optimizer, params.train.d_optimizer):
        assert (optimizer.name, optimizer.learning_rate, optimizer.beta_1) == ("adam", 2e-4, 0.5)


@pytest.mark.parametrize(
    "section, message",
    [
        ({"reconstruction": {"kind": "l1"}}, "cyc.reconstruction: unknown key"),
        ({"discriminator_sees_input": True}, "cyc.discriminator_sees_input: unknown key"),
        ({"network": {"kind": "mlp"}}, "cyc.network: unknown key"),
        ({"train": {"d_steps": 2}}, "cyc.train.d_steps: unknown key"),
        ({"pool_size": -1}, "cyc.pool_size"),
        ({"task": {"input": "A", "target": "A"}}, "input and target are both 'A'"),
        ({"task": {"input": "A", "target": "edges"}}, "'edges': not a prepared domain"),
    ],
)
def test_keys_and_domains_that_do_not_apply_are_refused_in_one_line(section, message):
    with pytest.raises(ParamsError, match=message) as caught:
        parse_params(params_with({"family": "cyclegan", **section}))
    assert "\n" not in str(caught.value)


def test_an_unpaired_folder_domain_is_accepted_where_pix2pix_refuses_it():
    source = {"kind": "unaligned_folders", "path": "anywhere"}
    for family, refused in (("cyclegan", False), ("pix2pix", True)):
        raw = {
            "models": ["m"],
            "prepare": {"source": source},
            "m": {"family": family, "task": {"input": "A", "target": "B"}},
        }
        if refused:
            with pytest.raises(ParamsError, match="does not pair up"):
                parse_params(raw)
        else:
            assert parse_params(raw).model("m").task.target == "B"


def test_an_unpaired_task_file_is_read_and_checked(tmp_path):
    path = tmp_path / "task.json"
    path.write_text('{"kind": "unpaired_translation", "family": "cyclegan", "input": "A"}')
    with pytest.raises(PipelineError, match="'target' is missing"):
        read_task(path)
    path.write_text(
        '{"kind": "unpaired_translation", "family": "cyclegan", "input": "A", "target": "B"}'
    )
    assert read_task(path)["target"] == "B"


# --- unpaired data and the pool ---------------------------------------------------------


def test_unpaired_examples_are_seeded_and_reach_every_image_of_both():
    a, b = np.arange(6)[:, None], np.arange(10)[:, None] + 100
    order = np.random.default_rng(0).permutation(10)
    examples = UnpairedExamples(a, b, order)
    stream = BatchStream(examples, 5, seed=3, labels=True)
    seen_a, seen_b = zip(*(next(iter(stream)) for _ in range(2)), strict=True)
    assert set(np.concatenate(seen_a).ravel()) == set(range(6))
    assert set(np.concatenate(seen_b).ravel()) == set(range(100, 110))
    resumed = BatchStream(examples, 5, seed=3, start_batch=1, labels=True)
    again = BatchStream(examples, 5, seed=3, labels=True)
    next(iter(again))
    np.testing.assert_array_equal(next(iter(resumed))[1], next(iter(again))[1])


def test_the_pool_fills_then_shows_stored_images_it_swaps_out():
    pool = HistoryPool(4, (1, 1, 1))
    seed = keras.random.SeedGenerator(0)
    first = np.arange(1, 4, dtype="float32").reshape(3, 1, 1, 1)
    np.testing.assert_array_equal(np.asarray(pool.query(first, seed)), first)  # filling
    second = np.arange(11, 14, dtype="float32").reshape(3, 1, 1, 1)
    np.testing.assert_array_equal(np.asarray(pool.query(second, seed)), second)  # fills up
    assert int(pool.count.numpy()) == 4
    assert sorted(np.asarray(pool.images).ravel()) == [1, 2, 3, 11]
    stored = set(np.asarray(pool.images).ravel())
    for step in range(5):
        new = np.arange(3, dtype="float32").reshape(3, 1, 1, 1) + 100 * (step + 2)
        before = set(np.asarray(pool.images).ravel())
        shown = np.asarray(pool.query(new, seed)).ravel()
        after = set(np.asarray(pool.images).ravel())
        for value, fresh in zip(shown, new.ravel(), strict=True):
            # Shown itself (and not stored), or an old image it replaced in the pool.
            assert value == fresh or (value in before and fresh in after and value not in after)
        stored |= after
        assert len(after) == 4
    assert len(stored) > 4  # images were swapped in


# --- the model ---------------------------------------------------------------------------


def test_cyclegan_learns_a_negative_from_unpaired_images():
    # The identity map is a perfect cycle too: at the paper's weight of 10 the
    # generators sit near it for longer than a test of seconds, so the toy weighs
    # the cycle 1, leaves the identity term out (it pulls towards that map) and
    # slows D down.
    params = toy_params(
        cycle_weight=1.0,
        identity_weight=0.0,
        pool_size=16,
        train={
            "batch_size": 16,
            "d_optimizer": {"learning_rate": 2e-4},
            "g_optimizer": {"learning_rate": 2e-3},
        },
    )
    model = build_model(params, SHAPE, seed=0, target_shape=SHAPE)
    tracked = {"d_loss", "g_loss", "d_acc_real", "d_acc_fake", "g_adversarial", "cycle"}
    assert set(model.tracked_names()) == tracked
    history = model.fit(
        iter(toy_stream(count=512)), steps_per_epoch=50, epochs=6, verbose=0, shuffle=False
    )
    assert all(np.isfinite(values).all() for values in history.history.values())
    assert set(model.published_networks()) == {
        "discriminator",
        "inverse_generator",
        "inverse_discriminator",
    }

    test = blobs(64, seed=1)
    outputs = np.asarray(model.generator(test))
    back = np.asarray(model.inverse_generator(outputs))
    identity_error = np.abs(test - (-test)).mean()
    error, cycle = np.abs(outputs - (-test)).mean(), np.abs(back - test).mean()
    print(f"toy: L1 to the negative {error:.3f} (identity {identity_error:.3f}), cycle {cycle:.3f}")
    assert error < 0.3 < identity_error, f"L1 {error:.3f} after training"
    assert cycle < 0.25, f"cycle L1 {cycle:.3f}"


def test_identity_is_left_out_where_the_domains_channels_differ():
    params = toy_params()
    model = build_model(params, SHAPE, seed=0, target_shape=(*SHAPE[:2], 3))
    assert "identity" not in model.tracked_names() and model.identity_weight == 0
    assert model.inverse_generator.output.shape[1:] == SHAPE


def test_resuming_from_the_state_continues_bit_for_bit():
    """Two epochs straight, or one, the state saved and restored into a fresh model, and one."""
    params = toy_params()

    def fit(model, epochs, start_epoch=0):
        stream = toy_stream(start_batch=start_epoch * 4)
        model.fit(iter(stream), steps_per_epoch=4, epochs=epochs, verbose=0, shuffle=False)

    _, first, _ = check_resume(lambda: build_model(params, SHAPE, seed=1, target_shape=SHAPE), fit)
    assert int(first.pool_b.count.numpy()) == params.pool_size  # the pool is in the state


def test_one_step_agrees_across_backends(tmp_path):
    """The same start, batch and draws: TensorFlow's steps (here) and JAX's (a subprocess,
    which picks its backend) give the same weights."""
    from cycle_step import take_steps

    tf_step = take_steps(None)
    init = tmp_path / "init.npz"
    np.savez(init, **{k: v for k, v in tf_step.items() if k.startswith("init/")})
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = tmp_path / "jax.npz"
    done = subprocess.run(
        [sys.executable, str(CYCLE_STEP), str(out), "--init", str(init)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    jax_step = np.load(out)
    variables = [k for k in tf_step if k.startswith("var/")]
    assert variables and set(variables) == {k for k in jax_step.files if k.startswith("var/")}
    moved = [k for k in variables if not np.array_equal(tf_step[k], tf_step[f"init/{k[4:]}"])]
    assert moved, "the steps changed no variable"
    # Float32 rounding in different summation orders, grown over the steps through
    # instance norm: measured at most 1e-3 of an array's largest value (Adam's moments).
    for key in [*variables, *(k for k in tf_step if k.startswith("log/"))]:
        scale = float(np.abs(tf_step[key]).max()) + 1e-6
        assert np.abs(jax_step[key] - tf_step[key]).max() <= 2e-3 * scale, key
