"""The metric registry: every registered metric is scored and lands where it says, in its
direction; a new entry reaches every consumer; the files written from it are in sync."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import yaml
from conftest import REPO_ROOT

from pipeline.evaluation.evaluate import headline
from pipeline.evaluation.mixture import Mixture
from pipeline.evaluation.suite import (
    METRICS,
    Better,
    Embedded,
    Metric,
    Reference,
    floor_scores,
    full_scores,
    quick_scores,
    register_metric,
    sample_sizes,
    with_floors,
)
from pipeline.params import EvaluateParams
from pipeline.report import headline_table, summary_markdown
from scripts import sync_metrics

N, DIM, CLASSES = 200, 8, 10
PARAMS = EvaluateParams(
    num_samples=N, kid_subsets=10, kid_subset_size=100, classifier_score_splits=2
)


def _labels() -> np.ndarray:
    return np.arange(N) % CLASSES


def _confident(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Logits that put each image in its class, with a little noise."""
    return 8.0 * np.eye(CLASSES)[labels] + rng.normal(0, 0.1, (len(labels), CLASSES))


REFERENCE = Reference(
    np.random.default_rng(0).normal(size=(N, DIM)), np.full(CLASSES, N // CLASSES)
)


def real_like(seed: int, conditional: bool, coded: bool = False) -> Embedded:
    """A sample drawn as the reference was: what a perfect generator gives. `coded`: each
    image's code value is its class (an InfoGAN whose codes are the digits, in order)."""
    rng = np.random.default_rng(seed)
    requested = _labels() if conditional else None
    codes = _labels() if coded else None
    return Embedded(rng.normal(size=(N, DIM)), _confident(_labels(), rng), requested, codes)


def collapsed(conditional: bool, coded: bool = False) -> Embedded:
    """A generator stuck on one blob far from the data, always drawing class 0."""
    rng = np.random.default_rng(3)
    features = rng.normal(5.0, 0.1, (N, DIM))
    requested = _labels() if conditional else None
    codes = _labels() if coded else None
    return Embedded(features, _confident(np.zeros(N, dtype=int), rng), requested, codes)


def applies(metric: Metric, conditional: bool, coded: bool, mixture: bool = False) -> bool:
    """Whether a sample of that kind has the metric."""
    return (
        (conditional or not metric.conditional)
        and (coded or not metric.coded)
        and (mixture or not metric.mixture)
    )


def expected_keys(
    conditional: bool,
    spreads: bool = True,
    only=lambda m: True,
    coded: bool = False,
    mixture: bool = False,
) -> list[str]:
    """The keys the registry says a score holds, in its order."""
    chosen = [m for m in METRICS.values() if only(m) and applies(m, conditional, coded, mixture)]
    return [key for m in chosen for key in (m.keys if spreads else (m.name,))]


# Points of a ring of 8 Gaussians (the `ring` source's data), seen through its
# Bayes classifier: the features are the points, the logits the modes' log-odds.
RING = Mixture(
    0.8 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1), 0.01
)


def ring_points(seed: int, modes: np.ndarray | None = None) -> Embedded:
    """N points of the ring, each of mode `modes[i]` (every mode in turn by default)."""
    rng = np.random.default_rng(seed)
    modes = np.arange(N) % 8 if modes is None else modes
    points = RING.centres[modes] + RING.std * rng.normal(size=(N, 2))
    logits = points @ RING.centres.T / RING.std**2 - (RING.centres**2).sum(1) / (2 * RING.std**2)
    return Embedded(points, logits)


RING_REFERENCE = Reference(ring_points(0).features, np.full(8, N // 8), RING)


# (conditional, coded): an unconditional, a conditional and an InfoGAN sample.
KINDS = pytest.mark.parametrize(
    ("conditional", "coded"),
    [(False, False), (True, False), (False, True)],
    ids=["unconditional", "conditional", "coded"],
)


@KINDS
def test_every_registered_metric_is_scored_in_the_registry_order(conditional, coded):
    sample = real_like(1, conditional, coded)
    scores = full_scores(REFERENCE, sample, PARAMS)
    assert list(scores) == expected_keys(conditional, coded=coded)
    assert all(np.isfinite(value) for value in scores.values())
    floors = floor_scores(REFERENCE, real_like(2, conditional, coded), PARAMS)
    assert list(floors) == expected_keys(conditional, only=lambda m: m.floor, coded=coded)
    merged = with_floors(scores, floors)
    for metric in METRICS.values():
        if applies(metric, conditional, coded):
            assert metric.name in merged and (f"{metric.name}_floor" in merged) == metric.floor


@KINDS
def test_quick_scores_are_the_cheap_metrics_without_their_spreads(conditional, coded):
    scores = quick_scores(REFERENCE, real_like(1, conditional, coded))
    expected = expected_keys(conditional, spreads=False, only=lambda m: m.cheap, coded=coded)
    assert list(scores) == expected


def test_each_function_returns_exactly_the_keys_registered_on_it():
    # A key a function returns but nobody registered would be silently dropped.
    groups: dict = {}
    for metric in METRICS.values():
        groups.setdefault(metric.compute, []).append(metric)
    for compute, group in groups.items():
        if group[0].mixture:
            result = compute(RING_REFERENCE, ring_points(1), PARAMS)
        else:
            result = compute(REFERENCE, real_like(1, conditional=True, coded=True), PARAMS)
        assert set(result) == {key for m in group for key in m.keys}, compute.__name__


def test_points_of_a_mixture_get_its_metrics_and_images_do_not():
    scores = full_scores(RING_REFERENCE, ring_points(1), PARAMS)
    assert list(scores) == expected_keys(False, mixture=True)
    floors = floor_scores(RING_REFERENCE, ring_points(2), PARAMS)
    assert floors["modes_covered"] == 8 and floors["high_quality"] > 0.95
    assert "modes_covered" not in full_scores(REFERENCE, real_like(1, False), PARAMS)
    # Collapsed onto two modes, and a tenth of the points off the ring.
    collapsed_modes = np.where(np.arange(N) % 2 == 0, 0, 3)
    collapsed = ring_points(3, collapsed_modes)
    features = collapsed.features.copy()
    features[: N // 10] = 0.0  # the ring's centre: far from every mode
    bad = full_scores(RING_REFERENCE, Embedded(features, collapsed.logits), PARAMS)
    assert bad["modes_covered"] == 2 and bad["high_quality"] < scores["high_quality"]
    assert bad["high_quality"] == pytest.approx(0.9, abs=0.02)


@KINDS
def test_a_real_like_sample_beats_a_collapsed_one_in_each_registered_direction(conditional, coded):
    good = full_scores(REFERENCE, real_like(1, conditional, coded), PARAMS)
    bad = full_scores(REFERENCE, collapsed(conditional, coded), PARAMS)
    floor = floor_scores(REFERENCE, real_like(2, conditional, coded), PARAMS)
    for metric in METRICS.values():
        if not applies(metric, conditional, coded):
            continue
        name = metric.name
        if metric.better is Better.LOWER:
            assert good[name] < bad[name], name
        elif metric.better is Better.HIGHER:
            assert good[name] > bad[name], name
        else:
            assert abs(good[name] - floor[name]) < abs(bad[name] - floor[name]), name


def test_the_headline_is_the_headline_metrics_and_the_comparison_adds_their_floors():
    scores = full_scores(REFERENCE, real_like(1, True), PARAMS)
    floors = floor_scores(REFERENCE, real_like(2, True), PARAMS)
    metrics = {**with_floors(scores, floors), **sample_sizes(PARAMS, CLASSES)}
    names = [m.name for m in METRICS.values() if m.headline and not m.mixture]
    assert list(headline(metrics)) == names
    comparison = headline_table({"cgan": metrics, "cgan_2": metrics})
    assert list(comparison) == [*names, "floor"]
    fid = scores["domain_fid"]
    assert comparison["domain_fid"] == {"cgan": fid, "cgan_2": fid}
    assert comparison["floor"] == {name: metrics[f"{name}_floor"] for name in names}


@pytest.fixture
def toy_metric() -> Iterator[Metric]:
    """A metric added the documented way, one function and one entry; removed afterwards."""
    saved = dict(METRICS)

    @register_metric(
        Metric(
            "toy_mean_gap",
            "Toy mean gap",
            Better.LOWER,
            "distance between the feature means",
            spread="toy_mean_gap_std",
            cheap=True,
            chart=True,
            headline=True,
            settings="the toy gap {num_samples} images",
        )
    )
    def _toy(reference: Reference, sample: Embedded, params: EvaluateParams) -> dict[str, float]:
        gap = float(np.linalg.norm(sample.features.mean(0) - reference.features.mean(0)))
        return {"toy_mean_gap": gap, "toy_mean_gap_std": 0.5}

    yield METRICS["toy_mean_gap"]
    METRICS.clear()
    METRICS.update(saved)


def test_a_registered_metric_reaches_scores_headline_summary_and_charts(toy_metric):
    scores = full_scores(REFERENCE, collapsed(False), PARAMS)
    floors = floor_scores(REFERENCE, real_like(2, False), PARAMS)
    metrics = {**with_floors(scores, floors), **sample_sizes(PARAMS, CLASSES)}
    keys = list(metrics)
    assert keys[: keys.index("num_samples")][-4:] == [
        "toy_mean_gap",
        "toy_mean_gap_floor",
        "toy_mean_gap_std",
        "toy_mean_gap_std_floor",
    ], "after the metrics registered before it, each key beside its floor"
    assert "toy_mean_gap" in quick_scores(REFERENCE, collapsed(False))
    assert headline(metrics)["toy_mean_gap"] == metrics["toy_mean_gap"]
    floor = headline_table({"gan": metrics})["floor"]["toy_mean_gap"]
    assert floor == metrics["toy_mean_gap_floor"]

    summary = summary_markdown({"gan": metrics}, {"gan": "grid.png"}, {}).splitlines()
    gap = f"{metrics['toy_mean_gap']:.4g} ± 0.5"
    assert f"| Toy mean gap | ↓ | {metrics['toy_mean_gap_floor']:.4g} | {gap} |" in summary
    assert any(line.endswith("; the toy gap 200 images.") for line in summary)

    titles = [next(iter(entry)) for entry in sync_metrics.plot_definitions()]
    assert titles[-1] == "Toy mean gap during training (lower is better)"
    assert "| `toy_mean_gap` (`toy_mean_gap_std`) |" in sync_metrics.readme_table()
    assert sync_metrics.stale() == [sync_metrics.DVC_YAML, sync_metrics.README], (
        "the check notices the files the new entry changes"
    )


def test_the_summary_leaves_out_a_metric_no_model_has(toy_metric):
    metrics = {**with_floors({"domain_fid": 3.0}, {"domain_fid": 1.0}), **sample_sizes(PARAMS, 10)}
    summary = summary_markdown({"gan": metrics}, {"gan": "grid.png"}, {})
    assert "| Domain FID | ↓ | 1 | 3 |" in summary
    assert "Toy mean gap" not in summary


def _register(*metrics: Metric) -> None:
    register_metric(*metrics)(lambda reference, sample, params: {})


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ((Metric("kid", "again", Better.LOWER, "a taken name"),), "already taken: kid"),
        (
            (Metric("toy", "x", Better.LOWER, "its spread is taken", spread="kid_std"),),
            "already taken: kid_std",
        ),
        (
            (
                Metric("toy_a", "a", Better.LOWER, "cheap", cheap=True),
                Metric("toy_b", "b", Better.LOWER, "not cheap"),
            ),
            "must agree on `cheap`",
        ),
        ((Metric("toy", "x", Better.LOWER, "not cheap", chart=True),), "needs `cheap`"),
        (
            (Metric("toy", "x", Better.LOWER, "c", cheap=True, chart=True, conditional=True),),
            "not `conditional`",
        ),
    ],
)
def test_registration_refuses_entries_a_consumer_could_not_use(metrics, message):
    before = dict(METRICS)
    with pytest.raises(ValueError, match=message):
        _register(*metrics)
    assert before == METRICS, "nothing registered"


def test_dvc_yaml_plots_and_the_readme_table_follow_the_registry():
    differ = sync_metrics.stale()
    assert not differ, f"{differ}: run `python scripts/sync_metrics.py`"
    # The same, read as DVC reads it: a chart per charted metric, each a column
    # of the quality table the report stage writes.
    plots = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["plots"]
    assert plots == sync_metrics.plot_definitions()
    charted = [m.name for m in METRICS.values() if m.chart]
    columns = [next(iter(e.values()))["y"].get("reports/plots/quality.csv") for e in plots]
    assert [c for c in columns if c is not None] == charted
