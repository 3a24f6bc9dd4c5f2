"""The paired translation model (pix2pix) from params: schema, a learnable toy, reload.

The toy is the negative of small random blob images: a translation a U-Net
learns in a few hundred steps, so the real networks, losses and train step
run end to end in seconds, and the test knows the answer.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from scipy import ndimage
from test_training import CrashAfterEpoch

from pipeline.callbacks import fingerprint_of
from pipeline.data.stream import ArrayExamples, BatchStream
from pipeline.errors import PipelineError, RunFailed
from pipeline.models.translation.presets import PAIRED_PRESETS
from pipeline.models.translation.settings import PairedTranslationParams
from pipeline.params import ParamsError, parse_params
from pipeline.task_file import read_task
from pipeline.training.model import build_model
from pipeline.training.paths import TrainPaths
from pipeline.training.session import fit_model

SHAPE = (8, 8, 1)
TOY_NETWORKS = {
    "generator": {"kind": "unet", "filters": 8},
    "discriminator": {"kind": "patchgan", "filters": 8},
}


def blobs(count: int, seed: int = 0) -> np.ndarray:
    """Smooth random 8x8 images in [-1, 1]: a few bright blobs on black."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(size=(count, *SHAPE[:2]))
    smooth = np.stack([ndimage.gaussian_filter(image, 1.0) for image in noise])
    spread = smooth.max(axis=(1, 2), keepdims=True) - smooth.min(axis=(1, 2), keepdims=True)
    scaled = (smooth - smooth.min(axis=(1, 2), keepdims=True)) / spread
    return (scaled * 2 - 1).astype(np.float32)[..., None]


def params_with(section: dict, domains: list[str] | None = None) -> dict:
    prepare = {"domains": domains} if domains is not None else {}
    return {"models": ["pix"], "prepare": prepare, "pix": section}


def test_the_pix2pix_preset_carries_the_papers_settings():
    params = parse_params(params_with({"family": "pix2pix"}, ["edges"])).model("pix")
    assert params.task.input == "edges" and params.task.target == "A"
    assert params.generator.kind == "unet" and params.discriminator.kind == "patchgan"
    assert params.loss.name == "non_saturating"
    assert params.reconstruction.kind == "l1" and params.reconstruction.weight == 100.0
    assert params.discriminator_sees_input
    optimizer = params.train.g_optimizer
    assert (optimizer.learning_rate, optimizer.beta_1) == (2e-4, 0.5)
    assert set(PAIRED_PRESETS) >= {"pix2pix"}


@pytest.mark.parametrize(
    "section, message",
    [
        ({"family": "pix2pix", "network": {"kind": "mlp"}}, "pix.network: unknown key"),
        ({"family": "pix2pix", "train": {"d_steps": 2}}, "pix.train.d_steps: unknown key"),
        (
            {"family": "pix2pix", "regularisers": {"r1": {"gamma": 1.0}}},
            "pix.regularisers: unknown key",
        ),
        (
            {"family": "pix2pix", "task": {"input": "A", "target": "A"}},
            "input and target are both 'A'",
        ),
        (
            {"family": "pix2pix", "generator": {"kind": "nope"}},
            "pix.generator.kind = 'nope': unknown",
        ),
    ],
)
def test_keys_that_do_not_apply_to_a_translation_model_are_refused(section, message):
    with pytest.raises(ParamsError, match=message) as caught:
        parse_params(params_with(section, ["edges"]))
    assert "\n" not in str(caught.value)


def test_a_task_reading_an_unprepared_domain_is_refused_in_one_line():
    with pytest.raises(ParamsError) as caught:
        parse_params(params_with({"family": "pix2pix"}))
    assert str(caught.value) == (
        "params: pix.task.input = 'edges': not a prepared domain (prepared: A; add it "
        "to prepare.domains)"
    )


def test_pix2pix_learns_a_negative_and_its_generator_reloads(tmp_path):
    section = {
        "family": "pix2pix",
        "task": {"input": "A", "target": "negative"},
        **TOY_NETWORKS,
        "train": {
            "batch_size": 32,
            "d_optimizer": {"learning_rate": 2e-3},
            "g_optimizer": {"learning_rate": 2e-3},
        },
    }
    params = parse_params(params_with(section, ["negative"])).model("pix")
    model = build_model(params, SHAPE, seed=0, target_shape=SHAPE)
    inputs = blobs(512)
    stream = BatchStream(ArrayExamples(inputs, -inputs), 32, seed=0, labels=True)
    history = model.fit(iter(stream), steps_per_epoch=50, epochs=6, verbose=0, shuffle=False)
    tracked = {"d_loss", "g_loss", "d_acc_real", "d_acc_fake", "g_adversarial", "l1"}
    assert set(history.history) == tracked == set(model.tracked_names())
    assert all(np.isfinite(values).all() for values in history.history.values())

    test = blobs(64, seed=1)
    outputs = np.asarray(model.generator(test))
    untrained_error = np.abs(test - (-test)).mean()  # an identity map's error
    error = np.abs(outputs - (-test)).mean()
    assert error < 0.15 < untrained_error, f"L1 {error:.3f} after training"

    path = tmp_path / "generator.keras"
    model.generator.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(reloaded(test)), outputs, atol=1e-6)


def test_the_same_seed_gives_the_same_translation_weights():
    section = {"family": "pix2pix", "task": {"input": "A", "target": "negative"}, **TOY_NETWORKS}
    params = parse_params(params_with(section, ["negative"])).model("pix")
    inputs = blobs(64)

    def trained_weights():
        model = build_model(params, SHAPE, seed=3, target_shape=SHAPE)
        stream = BatchStream(ArrayExamples(inputs, -inputs), 16, seed=0, labels=True)
        model.fit(iter(stream), steps_per_epoch=4, epochs=1, verbose=0, shuffle=False)
        return model.generator.get_weights()

    for first, second in zip(trained_weights(), trained_weights(), strict=True):
        np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "missing or unreadable"),
        ('{"kind": "sketch"}', "kind 'sketch' is not one of generation, paired_translation"),
        ('{"kind": "paired_translation", "family": "pix2pix"}', "'input' is missing"),
    ],
)
def test_a_bad_task_file_is_one_line(tmp_path, content, message):
    path = tmp_path / "task.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PipelineError, match=message) as caught:
        read_task(path)
    assert "\n" not in str(caught.value)


def test_docs_list_every_translation_preset_part_and_setting():
    import re
    from pathlib import Path
    from typing import get_args

    from pipeline.evaluation.baselines import BASELINES
    from pipeline.models.translation.networks import DISCRIMINATORS, GENERATORS
    from pipeline.models.translation.presets import UNPAIRED_PRESETS
    from pipeline.models.translation.reconstruction import RECONSTRUCTIONS
    from pipeline.models.translation.settings import PairedTranslationParams
    from pipeline.models.translation.unpaired_settings import UnpairedTranslationParams

    text = (Path(__file__).resolve().parents[1] / "docs" / "params.md").read_text()
    for preset in PAIRED_PRESETS:
        assert f"| `{preset}` |" in text, f"docs/params.md has no row for preset {preset}"
    for registry in (GENERATORS, DISCRIMINATORS, RECONSTRUCTIONS):
        for name, part in registry.items():
            assert f"`{name}`" in text, f"docs/params.md never names the part {name}"
            for field in set(part.model_fields) - {"kind"}:
                assert re.search(rf"`(\w+\.)?{field}`", text), f"{name}'s {field} undocumented"
    for params_class in (PairedTranslationParams, UnpairedTranslationParams):
        for field in params_class.model_fields:
            assert re.search(rf"`(\w+\.)?{field}", text), f"translation key {field} undocumented"
    for preset in UNPAIRED_PRESETS:
        assert f"| `{preset}` |" in text, f"docs/params.md has no row for preset {preset}"
    # The schema's baselines are exactly the ones evaluate knows.
    baseline = PairedTranslationParams.model_fields["baseline"].annotation
    assert set(get_args(baseline)) == set(BASELINES)


# --- through the training session: resume and divergence, as for the noise models ---


def session_params(**train) -> PairedTranslationParams:
    section = {
        "family": "pix2pix",
        "task": {"input": "negative", "target": "A"},
        "generator": {"kind": "unet", "filters": 4},
        "discriminator": {"kind": "patchgan", "filters": 4},
        "train": {"epochs": 2, "batch_size": 500, "grid_size": 2, **train},
    }
    return parse_params(params_with(section, ["negative"])).model("pix")


def session_paths(root: Path, data_dir: Path, evaluator: Path) -> TrainPaths:
    return TrainPaths(data_dir, root / "out", root / "ck", evaluator)


def test_a_killed_translation_resumes_to_the_same_weights_and_a_diverging_one_keeps_them(
    tmp_path, negatives_dir, untrained_classifier
):
    params = session_params(eval_every=1, eval_samples=100)
    fingerprint = fingerprint_of(params.model_dump(), 0)
    whole_paths = session_paths(tmp_path / "whole", negatives_dir, untrained_classifier)
    whole = fit_model(params, 0, whole_paths, fingerprint, verbose=0)
    paths = session_paths(tmp_path / "killed", negatives_dir, untrained_classifier)
    with pytest.raises(KeyboardInterrupt):
        fit_model(params, 0, paths, fingerprint, verbose=0, callbacks=[CrashAfterEpoch(1)])
    assert not paths.out_dir.exists(), "nothing is published before training succeeds"
    resumed = fit_model(params, 0, paths, fingerprint, verbose=0)

    for a, b in zip(whole.variables, resumed.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Two epochs of the 4,000 training pairs in batches of 500.
    assert int(resumed.g_optimizer.iterations) == int(whole.g_optimizer.iterations) == 16
    # The L1/PSNR rows of the epochs before the kill survive it.
    assert paths.outputs.quality.read_text() == whole_paths.outputs.quality.read_text()
    assert paths.outputs.quality.read_text().splitlines()[0] == "epoch,l1,psnr"
    assert read_task(paths.outputs.task)["kind"] == "paired_translation"

    # A diverging translation stops in one line and keeps the last outputs: run into
    # the uninterrupted run's folders, it leaves what that run published as it was.
    # (Here rather than in a test of its own, which trained a good run first.)
    published = {p: p.read_bytes() for p in whole_paths.out_dir.rglob("*") if p.is_file()}
    assert published
    sgd = {"name": "sgd", "learning_rate": 1e12}
    diverging = session_params(eval_every=0, d_optimizer=sgd, g_optimizer=sgd)
    with pytest.raises(RunFailed) as caught:
        fit_model(diverging, 0, whole_paths, "diverging", verbose=0, name="pix")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("pix: training diverged in epoch 1 ("), message
    assert "not finite" in message
    assert {p: p.read_bytes() for p in whole_paths.out_dir.rglob("*") if p.is_file()} == published
    assert not (whole_paths.state_dir / "state.json").exists(), (
        "a diverged epoch is not checkpointed"
    )
