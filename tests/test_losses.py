"""Each adversarial loss pair on fixed scores, against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.models.losses import LOSSES

REAL = np.array([2.0, 0.5, -1.0], dtype="float32")
FAKE = np.array([-3.0, 0.0, 1.5], dtype="float32")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def d_and_g(name: str, **options) -> tuple[np.ndarray, np.ndarray]:
    loss = LOSSES[name](**options)
    d = np.asarray(loss.discriminator_loss(REAL, FAKE))
    g = np.asarray(loss.generator_loss(FAKE, REAL if loss.generator_needs_real_scores else None))
    return d, g


def test_non_saturating_is_cross_entropy_and_g_maximises_log_d():
    d, g = d_and_g("non_saturating")
    np.testing.assert_allclose(d, -np.log(sigmoid(REAL)) - np.log(1 - sigmoid(FAKE)), rtol=1e-5)
    np.testing.assert_allclose(g, -np.log(sigmoid(FAKE)), rtol=1e-5)


def test_minimax_generator_minimises_log_one_minus_d():
    d, g = d_and_g("minimax")
    np.testing.assert_allclose(d, -np.log(sigmoid(REAL)) - np.log(1 - sigmoid(FAKE)), rtol=1e-5)
    np.testing.assert_allclose(g, np.log(1 - sigmoid(FAKE)), rtol=1e-5)


def test_one_sided_label_smoothing_moves_only_the_real_target():
    d, _ = d_and_g("non_saturating", label_smoothing=0.1)
    real = -(0.9 * np.log(sigmoid(REAL)) + 0.1 * np.log(1 - sigmoid(REAL)))
    np.testing.assert_allclose(d, real - np.log(1 - sigmoid(FAKE)), rtol=1e-5)


def test_wasserstein_critic_and_generator():
    d, g = d_and_g("wasserstein")
    np.testing.assert_allclose(d, FAKE - REAL)
    np.testing.assert_allclose(g, -FAKE)
    estimate = LOSSES["wasserstein"]().discriminator_metrics(REAL, FAKE)["wasserstein"]
    assert float(estimate) == pytest.approx(REAL.mean() - FAKE.mean())


def test_hinge_has_a_margin_of_one_on_each_side():
    d, g = d_and_g("hinge")
    # real 2.0 is past the margin (free); real 0.5 costs 0.5; real -1 costs 2.
    # fake -3 is past the margin; fake 0 costs 1; fake 1.5 costs 2.5.
    np.testing.assert_allclose(d, [0.0 + 0.0, 0.5 + 1.0, 2.0 + 2.5])
    np.testing.assert_allclose(g, [3.0, 0.0, -1.5])


def test_least_squares_targets_are_zero_for_fake_and_one_for_real():
    d, g = d_and_g("least_squares")
    np.testing.assert_allclose(d, 0.5 * (REAL - 1) ** 2 + 0.5 * FAKE**2)
    np.testing.assert_allclose(g, 0.5 * (FAKE - 1) ** 2)
    perfect = LOSSES["least_squares"]().discriminator_loss(np.ones(3), np.zeros(3))
    np.testing.assert_allclose(perfect, 0.0)


def test_relativistic_average_compares_each_side_with_the_others_mean():
    d, g = d_and_g("relativistic")
    c_real = REAL - FAKE.mean()
    c_fake = FAKE - REAL.mean()
    np.testing.assert_allclose(d, -np.log(sigmoid(c_real)) - np.log(1 - sigmoid(c_fake)), rtol=1e-5)
    np.testing.assert_allclose(g, -np.log(sigmoid(c_fake)) - np.log(1 - sigmoid(c_real)), rtol=1e-5)


def test_relativistic_losses_mirror_each_other():
    """G's loss is D's with real and fake swapped: the game is symmetric."""
    loss = LOSSES["relativistic"]()
    np.testing.assert_allclose(
        loss.generator_loss(REAL, FAKE), loss.discriminator_loss(REAL, FAKE), rtol=1e-6
    )


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_a_discriminator_that_separates_better_has_a_lower_loss(name):
    """The sign of every pair: D gains by scoring real up and fake down, G the reverse."""
    loss = LOSSES[name]()
    separated = np.array([1.0, 1.0], "float32"), np.array([-1.0, -1.0], "float32")
    confused = np.array([-1.0, -1.0], "float32"), np.array([1.0, 1.0], "float32")
    d_separated = float(np.mean(loss.discriminator_loss(*separated)))
    d_confused = float(np.mean(loss.discriminator_loss(*confused)))
    assert d_separated < d_confused

    def g(real, fake):
        return float(np.mean(loss.generator_loss(fake, real)))

    assert g(*confused) < g(*separated)


@pytest.mark.parametrize(
    ("name", "threshold"),
    [
        ("non_saturating", 0.0),
        ("minimax", 0.0),
        ("hinge", 0.0),
        ("least_squares", 0.5),
        ("wasserstein", None),
        ("relativistic", None),
    ],
)
def test_only_losses_with_a_decision_threshold_declare_one(name, threshold):
    assert LOSSES[name].threshold == threshold
