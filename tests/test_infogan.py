"""InfoGAN as a model: trains without labels, seeded, its Q head learns only through the MI term,
and evaluation scores its code (and only its code) with the matched accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy import stats
from test_training import CrashAfterEpoch, paths_in, weights_of

from pipeline.callbacks import fingerprint_of
from pipeline.errors import PipelineError
from pipeline.evaluation.classifier import build_classifier
from pipeline.evaluation.evaluate import embed_generated, evaluate_generator
from pipeline.evaluation.features import feature_extractor
from pipeline.evaluation.suite import Reference, full_scores
from pipeline.export import export_samples
from pipeline.params import EvaluateParams, ExportParams, ModelParams, parse_params
from pipeline.sampling import EVALUATION_STREAM, code_sweep_inputs, latent_vectors
from pipeline.task_file import continuous_codes, read_task
from pipeline.training.model import build_model
from pipeline.training.session import fit_model

IMAGE_SHAPE = (4, 4, 1)
BATCH = 32


def tiny_section(**conditioning) -> dict:
    return {
        "family": "infogan",
        "network": {
            "kind": "mlp",
            "latent_dim": 6,
            "generator_units": [16],
            "discriminator_units": [16],
        },
        "conditioning": {"categorical": 3, **conditioning},
        "train": {"batch_size": BATCH},
    }


def images(count: int = 4 * BATCH) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (count, *IMAGE_SHAPE)).astype("float32")


def trained(seed: int = 0, labels: np.ndarray | None = None, **conditioning):
    params = ModelParams.model_validate(tiny_section(**conditioning))
    model = build_model(params, IMAGE_SHAPE, seed=seed, num_classes=0)
    # Keras hands `y` to the step as the batch's second element, as a labelled stream does.
    history = model.fit(images(), labels, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    return model, history.history


@pytest.fixture(scope="module")
def first_run():
    """`trained()` once (seed 0, no labels): the tests that only read that run share it."""
    return trained()


def test_the_preset_is_the_paper_s_mnist_setting():
    params = ModelParams.model_validate({"family": "infogan"})
    part = params.conditioning
    assert (part.kind, part.categorical, part.continuous) == ("info", 10, 2)
    assert (part.weight, part.continuous_weight) == (1.0, 1.0)
    train = params.train
    assert (train.d_optimizer.learning_rate, train.g_optimizer.learning_rate) == (2e-4, 1e-3)
    # 62 noise dims beside the 2 continuous codes, which are the last entries of z.
    assert params.network.latent_dim - part.continuous == 62
    assert params.network.kind == "dcgan"  # the paper's networks are convolutional
    # Unsupervised: the data's labels are not read.
    assert not params.conditional and params.part_tags()["conditioning"] == "info"


def test_it_trains_an_epoch_and_tracks_the_information_term(first_run):
    model, history = first_run
    assert {"d_loss", "g_loss", "info_loss", "q_code_acc"} <= set(history)
    assert all(np.isfinite(values).all() for values in history.values())
    # The categorical term alone is at least the code's cross-entropy, log 3 at chance.
    assert history["info_loss"][0] > 0.5
    assert [t.name for t in model.generator.inputs] == ["z", "code"]


def test_the_data_s_labels_change_nothing(first_run):
    """The labels of a labelled data set never reach G or D: the same weights without them."""
    labels = np.random.default_rng(1).integers(0, 3, 4 * BATCH).astype("int32")
    with_labels, _ = trained(labels=labels)
    without, _ = first_run
    for a, b in zip(with_labels.get_weights(), without.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_same_seed_same_weights_another_seed_other_weights(first_run):
    first, second, other = first_run[0], trained(seed=0)[0], trained(seed=1)[0]
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # The seed reaches the draws: another seed trains other weights (same initial ones,
    # which build_model fixes from the seed too, would be a weaker check).
    moved = [
        not np.array_equal(a, b)
        for a, b in zip(first.get_weights(), other.get_weights(), strict=True)
    ]
    assert any(moved)


def q_heads(model) -> list[np.ndarray]:
    return [
        np.asarray(weight)
        for name in ("code_logits", "code_means")
        for weight in model.discriminator.get_layer(name).weights
    ]


@pytest.mark.parametrize(("weight", "moves"), [(0.0, False), (1.0, True)])
def test_the_q_head_learns_only_through_the_information_term(weight, moves):
    params = ModelParams.model_validate(tiny_section(weight=weight, continuous_weight=weight))
    model = build_model(params, IMAGE_SHAPE, seed=0, num_classes=0)
    before = q_heads(model)
    model.fit(images(), batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    changed = [not np.array_equal(a, b) for a, b in zip(before, q_heads(model), strict=True)]
    # Weight 0: no gradient reaches Q's heads (Adam's step from zero moments is zero).
    assert all(changed) if moves else not any(changed)


def test_evaluation_scores_the_code_and_not_a_requested_class(first_run):
    model, _ = first_run
    extractor = feature_extractor(build_classifier(IMAGE_SHAPE, 5, feature_dim=8))
    # The data has 5 classes; the code has 3 values, and the sample cycles over those.
    sample = embed_generated(extractor, model.generator, 0, 60, 5, 30)
    assert sample.requested is None
    np.testing.assert_array_equal(sample.codes, np.arange(60) % 3)
    reference = Reference(sample.features, np.full(5, 12))
    params = EvaluateParams(
        num_samples=60, kid_subsets=2, kid_subset_size=20, classifier_score_splits=2
    )
    scores = full_scores(reference, sample, params)
    assert "conditional_accuracy" not in scores
    # At least the share of the largest class of each matched code: never below 1/5 here.
    assert 0.2 <= scores["code_accuracy"] <= 1.0


# --- through the pipeline: train (killed and resumed), evaluate, export ------------------

PIPELINE_SECTION = {
    "family": "infogan",
    # 4 code values against the data's 10 classes: rows and scores follow the code.
    "conditioning": {"categorical": 4},
    "network": {
        "kind": "mlp",
        "latent_dim": 8,
        "generator_units": [32],
        "discriminator_units": [32],
    },
    "train": {"epochs": 3, "batch_size": 500, "grid_size": 2, "eval_every": 2, "eval_samples": 100},
}


def grid_rows(path) -> int:
    return (np.asarray(Image.open(path)).shape[0] - 2) // (28 + 2)


def test_resumed_training_evaluation_and_export_follow_the_code(
    tmp_path, mnist5k_dir, untrained_classifier
):
    params = parse_params({"models": ["m"], "m": PIPELINE_SECTION}).model("m")
    fingerprint = fingerprint_of(params.model_dump(), 0)
    whole_paths = paths_in(tmp_path / "whole", mnist5k_dir, untrained_classifier)
    whole = fit_model(params, 0, whole_paths, fingerprint, verbose=0)
    paths = paths_in(tmp_path / "killed", mnist5k_dir, untrained_classifier)
    with pytest.raises(KeyboardInterrupt):
        fit_model(params, 0, paths, fingerprint, verbose=0, callbacks=[CrashAfterEpoch(2)])
    resumed = fit_model(params, 0, paths, fingerprint, verbose=0)
    # The code draws continue from the checkpointed seed generator: bit-identical.
    for a, b in zip(weights_of(whole), weights_of(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    header = paths.outputs.history.read_text().splitlines()[0].split(",")
    assert {"info_loss", "q_code_acc"} <= set(header)
    assert grid_rows(paths.outputs.samples / "epoch_003.png") == 4, "one row per code value"

    evaluate = EvaluateParams(
        num_samples=200, kid_subsets=2, kid_subset_size=100, classifier_score_splits=2
    )
    metrics = evaluate_generator(
        evaluate, 0, mnist5k_dir, paths.outputs.generator, untrained_classifier, 2
    )
    assert "conditional_accuracy" not in metrics
    # 4 code values matched to 4 of 10 classes: at most the 4 classes' share, 0.4 or so.
    assert 0.0 < metrics["code_accuracy"] <= 0.5
    # The floor: the evaluator's accuracy on real test images, matched (10 to 10).
    assert 0.0 < metrics["code_accuracy_floor"] <= 1.0

    task = read_task(paths.outputs.task)
    assert continuous_codes(task) == 2, "the preset's 2 continuous codes end z"

    out = tmp_path / "export"
    export = ExportParams(num_samples=20, grid_size=2, interpolation_steps=5)
    export_samples(export, 0, paths.outputs.generator, out, mnist5k_dir, continuous_codes=2)
    assert grid_rows(out / "grid.png") == 4
    # The sweep: a row per code value in a block per continuous code, a column per step.
    sweep = np.asarray(Image.open(out / "interpolation.png"))
    assert (grid_rows(out / "interpolation.png"), (sweep.shape[1] - 2) // 30) == (4 * 2, 5)
    with np.load(out / "samples.npz") as samples:
        np.testing.assert_array_equal(samples["labels"], np.arange(20) % 4)
        # The evaluated latents: the noise as any generator's, the codes uniform as in training.
        np.testing.assert_array_equal(samples["z"][:, :6], latent_vectors(0, 20, 8)[:, :6])
        assert np.abs(samples["z"][:, 6:]).max() <= 1.0


def test_sampled_continuous_codes_are_uniform_and_prefix_stable():
    plain = latent_vectors(3, 1000, 6, EVALUATION_STREAM, truncation=0.5)
    coded = latent_vectors(3, 1000, 6, EVALUATION_STREAM, truncation=0.5, continuous_codes=2)
    np.testing.assert_array_equal(coded[:, :4], plain[:, :4])
    assert coded.dtype == np.float32
    for code in coded[:, 4:].T:
        assert stats.kstest(code, stats.uniform(-1, 2).cdf).pvalue > 1e-3
    first = latent_vectors(3, 10, 6, EVALUATION_STREAM, truncation=0.5, continuous_codes=2)
    np.testing.assert_array_equal(first, coded[:10])


def test_the_code_sweep_moves_one_code_per_block_over_minus_two_to_two():
    latents, codes, rows, cols = code_sweep_inputs(0, 6, 3, 2, 5)
    assert (rows, cols, latents.shape, codes.shape) == (6, 5, (30, 6), (30,))
    grid = latents.reshape(2, 3, 5, 6)  # (code block, category row, step, entry)
    rows_codes = np.broadcast_to([[0], [1], [2]], (2, 3, 5))
    np.testing.assert_array_equal(codes.reshape(2, 3, 5), rows_codes)
    for block in range(2):
        swept, still = 4 + block, 5 - block
        np.testing.assert_allclose(grid[block, :, :, swept], np.tile([-2, -1, 0, 1, 2], (3, 1)))
        assert not grid[block, :, :, still].any(), "the other code sits at 0"
    # One noise per category row, the same along the row and in both blocks.
    assert (grid[:, :, :, :4] == grid[:1, :, :1, :4]).all()
    assert len({tuple(row) for row in grid[0, :, 0, :4]}) == 3


@pytest.mark.parametrize("value", [-1, 1.5, "2"])
def test_a_damaged_code_count_in_task_json_is_refused(tmp_path, value):
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"kind": "generation", "continuous_codes": value}))
    with pytest.raises(PipelineError, match=r"'continuous_codes' is .*\(allowed: a count >= 0"):
        read_task(path)
