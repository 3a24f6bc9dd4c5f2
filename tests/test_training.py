"""Training on the prepared data: reproducible, resumable, and a generator that stands alone."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

import keras
import numpy as np
import pytest
from standalone import run_standalone

from pipeline.callbacks import fingerprint_of
from pipeline.errors import RunFailed
from pipeline.models.two_networks import TwoNetworkModel
from pipeline.params import parse_params
from pipeline.training.paths import TrainPaths
from pipeline.training.session import fit_model

TINY = {
    "models": ["gan"],
    "gan": {
        "network": {"latent_dim": 16, "generator_units": [32], "discriminator_units": [32]},
        "train": {"epochs": 2, "batch_size": 500, "grid_size": 2},
    },
}


def tiny_params(section: dict | None = None, **train):
    raw = json.loads(json.dumps(TINY))
    raw["gan"]["train"].update(train)
    raw["gan"].update(section or {})
    return parse_params(raw).model("gan")


def paths_in(tmp_path, data_dir, classifier=None) -> TrainPaths:
    return TrainPaths(data_dir, tmp_path / "out", tmp_path / "checkpoint", classifier)


def weights_of(model) -> list[np.ndarray]:
    return [np.asarray(v) for v in model.generator.weights + model.discriminator.weights]


class CrashAfterEpoch(keras.callbacks.Callback):
    """Stands in for a kill: fails once the given epoch's checkpoint is written."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt("simulated kill")


@dataclass
class Fitted:
    model: TwoNetworkModel
    paths: TrainPaths


@pytest.fixture(scope="module")
def plain(tmp_path_factory, mnist5k_dir) -> Fitted:
    """One epoch of `tiny_params()` from seed 0, no classifier: the baseline several tests read.

    Tests only read it; one that goes on from its outputs copies them first.
    """
    paths = paths_in(tmp_path_factory.mktemp("plain"), mnist5k_dir)
    return Fitted(fit_model(tiny_params(epochs=1), 0, paths, "fp", verbose=0), paths)


@dataclass
class Logged(Fitted):
    logged: dict[str, list]


@pytest.fixture(scope="module")
def three_epochs(tmp_path_factory, mnist5k_dir, untrained_classifier) -> Logged:
    """Three epochs scored every two, uninterrupted, with what its sinks were handed."""
    from pipeline.tracking import Sinks

    logged: dict[str, list] = {"metrics": [], "grid": [], "files": []}
    sinks = Sinks(
        metrics=lambda metrics, step: logged["metrics"].append(step),
        grid=lambda grid, step: logged["grid"].append(step),
        quality_metrics=lambda metrics, step: None,
        grid_file=lambda path: logged["files"].append(path.name),
    )
    params = tiny_params(epochs=3, eval_every=2, eval_samples=100)
    fingerprint = fingerprint_of(params.model_dump(), 0)
    paths = paths_in(tmp_path_factory.mktemp("whole"), mnist5k_dir, untrained_classifier)
    model = fit_model(params, 0, paths, fingerprint, sinks=sinks, verbose=0)
    return Logged(model, paths, logged)


def test_same_seed_gives_identical_weights(tmp_path, mnist5k_dir, plain):
    params = tiny_params(epochs=1)
    first = plain.model
    second = fit_model(params, 0, paths_in(tmp_path / "b", mnist5k_dir), "fp", verbose=0)
    other = fit_model(params, 8, paths_in(tmp_path / "c", mnist5k_dir), "fp", verbose=0)
    for a, b in zip(weights_of(first), weights_of(second), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.array_equal(a, c) for a, c in zip(weights_of(first), weights_of(other), strict=True)
    )


def test_every_epoch_is_logged_and_a_grid_file_kept_every_eval_every_epochs(three_epochs):
    paths = three_epochs.paths
    assert three_epochs.logged == {
        "metrics": [1, 2, 3],
        "grid": [0, 1, 2, 3],
        "files": ["epoch_000.png", "epoch_002.png", "epoch_003.png"],
    }
    # The DVC plots page shows every eval_every-th grid and the last.
    assert sorted(p.name for p in paths.outputs.samples.iterdir()) == [
        "epoch_000.png",
        "epoch_002.png",
        "epoch_003.png",
    ]
    lines = paths.outputs.history.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["epoch", "d_loss", "g_loss"]
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3"]
    assert paths.outputs.generator.is_file()
    assert not paths.checkpoint_dir.exists(), "a finished run leaves no checkpoint"


def test_resume_after_a_kill_matches_an_uninterrupted_run(
    tmp_path, mnist5k_dir, untrained_classifier, three_epochs
):
    params = tiny_params(epochs=3, eval_every=2, eval_samples=100)
    fingerprint = fingerprint_of(params.model_dump(), 0)
    whole, whole_paths = three_epochs.model, three_epochs.paths

    paths = paths_in(tmp_path / "killed", mnist5k_dir, untrained_classifier)
    with pytest.raises(KeyboardInterrupt):
        fit_model(params, 0, paths, fingerprint, verbose=0, callbacks=[CrashAfterEpoch(2)])
    assert json.loads((paths.state_dir / "state.json").read_text())["epoch"] == 2
    assert not paths.out_dir.exists(), "nothing is published before training succeeds"
    assert len(list(paths.live.samples.iterdir())) == 2, "the grids so far wait beside the state"
    resumed = fit_model(params, 0, paths, fingerprint, verbose=0)

    for a, b in zip(weights_of(whole), weights_of(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(resumed.g_optimizer.iterations) == int(whole.g_optimizer.iterations)
    rows = paths.outputs.history.read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["1", "2", "3"]
    assert len(list(paths.outputs.samples.iterdir())) == 3  # epochs 0, 2 and 3
    # Scored at epoch 0, every 2 epochs, and at the end; the rows survive the kill.
    assert paths.outputs.quality.read_text() == whole_paths.outputs.quality.read_text()
    quality = paths.outputs.quality.read_text().splitlines()
    assert [row.split(",")[0] for row in quality[1:]] == ["0", "2", "3"]


def test_quality_is_scored_during_training_without_changing_it(
    tmp_path, mnist5k_dir, untrained_classifier, plain
):
    params = tiny_params(epochs=1, eval_every=1, eval_samples=100)
    scored_paths = paths_in(tmp_path / "scored", mnist5k_dir, untrained_classifier)
    scored = fit_model(params, 0, scored_paths, "fp", verbose=0)

    # The same run unscored (no classifier): the same weights.
    for a, b in zip(weights_of(scored), weights_of(plain.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not plain.paths.outputs.quality.exists()
    header, *rows = scored_paths.outputs.quality.read_text().splitlines()
    assert header.split(",") == [
        "epoch",
        "domain_fid",
        "classifier_score",
        "classes_covered",
        "class_kl",
    ]
    for row in rows:
        epoch, fid, score, covered, _ = row.split(",")
        assert float(fid) > 0 and 1.0 <= float(score) <= 10.0 and 0 <= int(covered) <= 10
    assert [row.split(",")[0] for row in rows] == ["0", "1"]


def test_scoring_turned_off_leaves_a_header_only(tmp_path, mnist5k_dir, untrained_classifier):
    # The train stage declares quality.csv, so it must exist even when nothing is scored.
    paths = paths_in(tmp_path, mnist5k_dir, untrained_classifier)
    fit_model(tiny_params(epochs=1, eval_every=0), 0, paths, "fp", verbose=0)
    assert paths.outputs.quality.read_text() == "epoch\n"


def test_checkpoint_of_other_params_is_ignored(tmp_path, mnist5k_dir):
    params = tiny_params(epochs=2)
    paths = paths_in(tmp_path, mnist5k_dir)
    with pytest.raises(KeyboardInterrupt):
        fit_model(params, 0, paths, "old", verbose=0, callbacks=[CrashAfterEpoch(1)])
    model = fit_model(params, 0, paths, "new", verbose=0)
    assert int(model.g_optimizer.iterations) == 2 * (4000 // 500)


def test_generator_reloads_without_project_code(tmp_path, plain):
    model, paths = plain.model, plain.paths
    z = np.random.default_rng(0).standard_normal((4, 16)).astype("float32")
    np.savez(tmp_path / "io.npz", z=z, expected=np.asarray(model.generator(z)))
    printed = run_standalone(
        f"""
        import keras, numpy as np
        g = keras.saving.load_model({str(paths.outputs.generator)!r})
        io = np.load("io.npz")
        np.testing.assert_allclose(g(io["z"]), io["expected"], atol=1e-6)
        print(g.input_shape, g.output_shape)
        """,
        tmp_path,
    )
    assert "(None, 16) (None, 28, 28, 1)" in printed


def test_conditional_wgan_gp_with_dcgan_networks_trains_and_draws_a_row_per_class(
    tmp_path, mnist5k_dir
):
    raw = {
        "models": ["m"],
        "m": {
            "family": "wgan_gp",
            "conditioning": {"kind": "concat"},
            "network": {
                "kind": "dcgan",
                "latent_dim": 16,
                "filters": 8,
                "discriminator_norm": "layer",
            },
            "train": {"epochs": 1, "batch_size": 200, "grid_size": 3},
        },
    }
    params = parse_params(raw).model("m")
    paths = paths_in(tmp_path, mnist5k_dir)
    model = fit_model(params, 0, paths, "fp", verbose=0)
    assert [type(part).__name__ for part in model.regularisers] == ["GradientPenalty"]
    assert type(model.adversarial_loss).__name__ == "Wasserstein"
    assert [t.name for t in model.generator.inputs] == ["z", "label"]
    assert int(model.d_optimizer.iterations) == 5 * int(model.g_optimizer.iterations) == 20
    from PIL import Image

    grid = np.asarray(Image.open(paths.outputs.samples / "epoch_001.png"))
    assert grid.shape[0] == 10 * (28 + 2) + 2, "one row per class"
    assert grid.shape[1] == 3 * (28 + 2) + 2


def kernel_norm(network: keras.Model) -> float:
    return sum(float(np.sum(w**2)) for w in network.get_weights() if w.ndim > 1)


def test_stabilisers_change_training_and_the_ema_generator_is_saved(tmp_path, mnist5k_dir, plain):
    def fit(name: str, section: dict | None = None):
        params = tiny_params(section, epochs=1)
        return fit_model(params, 0, paths_in(tmp_path / name, mnist5k_dir), "fp", verbose=0)

    options = {
        "l2": {"regularisers": {"l2": {"weight": 1.0}}},
        "instance_noise": {"regularisers": {"instance_noise": {"std": 0.5}}},
        "diff_augment": {"regularisers": {"diff_augment": {}}},
        "label_smoothing": {"loss": {"name": "non_saturating", "label_smoothing": 0.1}},
    }
    trained = {name: fit(name, section) for name, section in options.items()}
    for name, model in trained.items():
        pairs = zip(weights_of(plain.model), weights_of(model), strict=True)
        assert any(not np.array_equal(a, b) for a, b in pairs), f"{name} had no effect"
    assert kernel_norm(trained["l2"].discriminator) < kernel_norm(plain.model.discriminator)

    averaged = fit("ema", {"regularisers": {"ema": {"momentum": 0.9}}})
    # The EMA does not steer training: D is the same as without it, G holds the average.
    d_pairs = zip(plain.model.discriminator.weights, averaged.discriminator.weights, strict=True)
    for a, b in d_pairs:
        np.testing.assert_array_equal(a, b)
    pairs = zip(plain.model.generator.get_weights(), averaged.generator.get_weights(), strict=True)
    assert any(not np.array_equal(a, b) for a, b in pairs)
    saved = keras.saving.load_model(tmp_path / "ema" / "out" / "generator.keras")
    for a, b in zip(saved.get_weights(), averaged.generator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_instance_noise_is_annealed_to_zero_by_epoch():
    from pipeline.callbacks import InstanceNoiseSchedule

    class Holder:
        instance_noise_std = keras.Variable(0.0)

    schedule = InstanceNoiseSchedule(0.4, epochs=4)
    schedule.set_model(Holder())
    seen = []
    for epoch in range(4):
        schedule.on_epoch_begin(epoch)
        seen.append(float(Holder.instance_noise_std.numpy()))
    np.testing.assert_allclose(seen, [0.4, 0.3, 0.2, 0.1], rtol=1e-6)


def test_divergence_stops_training_in_one_line_and_keeps_the_last_outputs(
    tmp_path, mnist5k_dir, plain
):
    paths = paths_in(tmp_path, mnist5k_dir)
    shutil.copytree(plain.paths.out_dir, paths.out_dir)  # a good run's outputs, published
    published = {p: p.read_bytes() for p in paths.out_dir.rglob("*") if p.is_file()}

    sgd = {"name": "sgd", "learning_rate": 1e6}
    diverging = tiny_params(epochs=3, d_optimizer=sgd, g_optimizer=sgd)
    with pytest.raises(RunFailed) as caught:
        fit_model(diverging, 0, paths, "diverging", verbose=0, name="gan")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("gan: training diverged in epoch 1 (d_loss "), message
    assert "not finite" in message and "g_loss" in message
    assert {p: p.read_bytes() for p in paths.out_dir.rglob("*") if p.is_file()} == published
    assert not (paths.state_dir / "state.json").exists(), "a diverged epoch is not checkpointed"
