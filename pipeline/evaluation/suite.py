"""The metric registry: every metric, registered once, and the scores computed from it.

A metric is a `Metric` entry (its key, label, direction, and where it goes:
scored during training, headline, charted, conditional models only, with a
floor) registered on the function that computes it with `@register_metric`,
after stylegan2-ada's `metric_main.py`. Everything that lists metrics reads
`METRICS`: the scores here (`full_scores`, `floor_scores`, `quick_scores`,
so `metrics/<model>.json` and `quality.csv`), the headline file
(`pipeline.evaluation.evaluate.headline`), the summary
(`pipeline.report`), and, through `scripts/sync_metrics.py`, dvc.yaml's
charts and the metric tables of the docs. Adding a metric is one function
and one entry; docs/metrics.md shows one.

A sample is scored in the evaluator's space: its features (for the Frechet
distance, KID and the k-NN metrics) and its logits (for the classifier score,
the classes covered and the conditional scores). The floor scores a real
sample the same way, so a perfect generator would match it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from pipeline.evaluation.metrics import (
    classifier_score,
    conditional_scores,
    density_coverage,
    frechet_distance,
    kernel_inception_distance,
    matched_code_accuracy,
    mode_coverage,
    precision_recall,
)
from pipeline.evaluation.mixture import Mixture, mixture_scores
from pipeline.params import EvaluateParams


@dataclass(frozen=True)
class Embedded:
    """A sample of images seen through the evaluator.

    Args:
        features: penultimate-layer features, (n, feature_dim).
        logits: class logits, (n, num_classes).
        requested: for a conditional sample, the class each image was asked
            to show (for a real sample, its true label); else None.
        codes: for a sample of a generator given an unsupervised categorical
            code (InfoGAN), the code value each image was made with (for the
            real sample beside it, its true label); else None.
    """

    features: np.ndarray
    logits: np.ndarray
    requested: np.ndarray | None = None
    codes: np.ndarray | None = None

    @property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.logits, axis=1)


@dataclass(frozen=True)
class Reference:
    """The real data a sample is compared with.

    Args:
        features: the evaluator's features of real training images.
        class_counts: how many training images each class has.
        mixture: the Gaussian mixture that made the data, for point data
            from one (the `ring` source; its evaluator's features are the
            points); None for images.
    """

    features: np.ndarray
    class_counts: np.ndarray
    mixture: Mixture | None = None

    @property
    def labels(self) -> np.ndarray:
        """A label array with the training split's class histogram."""
        return np.repeat(np.arange(len(self.class_counts)), self.class_counts)


# --- the registry ---------------------------------------------------------------

ScoreFunction = Callable[[Reference, Embedded, EvaluateParams], dict[str, float]]


class Better(StrEnum):
    """Which way a metric improves, as the summary's arrow and the charts' titles say it."""

    LOWER = "lower"
    HIGHER = "higher"
    # The real data's own value is the target and a generator can overshoot it
    # (density rewards samples piled onto dense real regions).
    CLOSER = "closer"

    @property
    def arrow(self) -> str:
        """The summary's `better` column."""
        return {"lower": "↓", "higher": "↑", "closer": "≈ floor"}[self.value]

    @property
    def phrase(self) -> str:
        """How a chart title says it."""
        return {
            "lower": "lower is better",
            "higher": "higher is better",
            "closer": "closer to the real floor is better",
        }[self.value]


@dataclass(frozen=True)
class Metric:
    """One number of the metrics files, with what every consumer needs to know about it.

    Args:
        name: its key in `metrics/<model>.json`, `quality.csv` and MLflow.
        label: how the summary and the charts name it.
        better: which way it improves.
        description: what it measures, in one line, for the docs' tables.
        spread: the key of its standard deviation, written right after it
            in the metrics files and beside it in the summary; left out of
            `quality.csv`, where one split at a small n makes it noise.
        cheap: scored during training every `train.eval_every` epochs
            (`quality.csv`, MLflow's `during_training/`), at
            `train.eval_samples` and the settings of `QUICK_SETTINGS`.
        chart: drawn during training by `dvc plots show` (dvc.yaml's
            `plots`, written by `scripts/sync_metrics.py`). Needs `cheap`,
            and not `conditional`: a chart of a column that no listed model
            has makes DVC warn.
        headline: written to `metrics/headline/<model>.json`, which `dvc
            metrics show` and `dvc exp show` lead with.
        conditional: needs the class each image was asked for, so only
            conditional models have it.
        coded: needs the categorical code each image was made with, so only
            models that draw one (InfoGAN) have it.
        mixture: needs the Gaussian mixture behind the data, so only models
            of point data from one (the `ring` source) have it.
        floor: has a real-vs-real floor, `<name>_floor`: the same score of
            real test images, what a perfect generator would get.
        baseline: has `<name>_baseline`, the same score of the simple method
            a user would compare a translation model with (bicubic upsampling,
            the mean fill; `pipeline.evaluation.baselines`).
        settings: the summary's clause on the settings behind the number, a
            format string over the sizes in the metrics file; on one metric
            of a function that computes several.
        compute: the function that computes it (and the other metrics
            registered with it); set by `register_metric`.
    """

    name: str
    label: str
    better: Better
    description: str
    spread: str | None = None
    cheap: bool = False
    chart: bool = False
    headline: bool = False
    conditional: bool = False
    coded: bool = False
    mixture: bool = False
    floor: bool = True
    baseline: bool = False
    settings: str | None = None
    compute: Callable | None = field(default=None, compare=False, repr=False)

    @property
    def keys(self) -> tuple[str, ...]:
        """Its keys in the metrics files, without floors: the value, then the spread."""
        return (self.name,) if self.spread is None else (self.name, self.spread)


# Every metric, by name, in the order of the metrics files, the summary and the
# headline. Filled by `register_metric`; read at call time by every consumer.
METRICS: dict[str, Metric] = {}


def register_metric(
    *metrics: Metric, registry: dict[str, Metric] | None = None
) -> Callable[[Callable], Callable]:
    """Register `metrics` as computed by the decorated function, in this order.

    The function takes the reference, the sample and the `evaluate`
    settings (a translation metric: `pipeline.evaluation.translation_suite`'s
    arguments), and returns every key of `metrics` (values and spreads). It
    is called once per score, however many metrics it gives.

    Args:
        metrics: the entries the function computes.
        registry: where they go: `METRICS` (images from noise) by default.

    Raises:
        ValueError: a name taken, or entries that contradict each other.
    """
    target = METRICS if registry is None else registry

    def register(compute: Callable) -> Callable:
        check_metrics(metrics)
        for metric in metrics:
            target[metric.name] = replace(metric, compute=compute)
        return compute

    return register


# Every registry whose metrics reach the metrics files; a key is unique across them
# all, because the summary and `dvc exp show` list them side by side.
REGISTRIES: list[dict[str, Metric]] = [METRICS]


def all_metrics() -> list[Metric]:
    """Every registered metric of every kind of model, in registration order."""
    return [metric for registry in REGISTRIES for metric in registry.values()]


def check_metrics(metrics: Iterable[Metric]) -> None:
    """Refuse one function's metrics where a consumer could not use them as registered.

    Raises:
        ValueError: a key used twice, a function's metrics that disagree on
            whether it is cheap or conditional (it is called once, or not at
            all), or a chart the plots page could not draw.
    """
    metrics = list(metrics)
    keys = [key for metric in metrics for key in metric.keys]
    used = {key for registered in all_metrics() for key in registered.keys}
    clash = sorted(key for key in set(keys) if keys.count(key) > 1 or key in used)
    if clash:
        raise ValueError(f"metric keys already taken: {', '.join(clash)}")
    for flag in ("cheap", "conditional", "coded", "mixture"):
        if len({getattr(metric, flag) for metric in metrics}) > 1:
            raise ValueError(
                f"{', '.join(m.name for m in metrics)}: one function computes them, "
                f"so they must agree on `{flag}`"
            )
    for metric in metrics:
        if metric.chart and (
            not metric.cheap or metric.conditional or metric.coded or metric.mixture
        ):
            raise ValueError(
                f"{metric.name}: only a cheap metric that every model has can be charted "
                "during training (`chart` needs `cheap` and not `conditional`)"
            )


# The settings of the scores during training: one classifier-score split, the
# spread over splits not being worth its noise at a small n. Pinned here, not
# taken from `evaluate`, so that training's scores follow this file (a
# dependency of the train stage) and not the evaluate section.
QUICK_SETTINGS = EvaluateParams(
    coverage_threshold=0.1,
    kid_subsets=100,
    kid_subset_size=500,
    classifier_score_splits=1,
    precision_recall_k=3,
    density_coverage_k=5,
)


def quick_scores(reference: Reference, sample: Embedded) -> dict[str, float]:
    """The cheap metrics (`Metric.cheap`), fit to track during training; no spreads."""
    cheap = [metric for metric in METRICS.values() if metric.cheap]
    return _scores(reference, sample, QUICK_SETTINGS, cheap, spreads=False)


def full_scores(reference: Reference, sample: Embedded, params: EvaluateParams) -> dict[str, float]:
    """Every metric of `sample` against `reference`.

    Args:
        reference: the real training sample.
        sample: the sample to score (generated, or real test for the floor).
        params: the `evaluate` section: subset sizes, splits and k.

    Returns:
        The metrics, keyed as in `metrics/<model>.json`, in the registry's
        order; a conditional metric only for a sample with requested labels.
    """
    return _scores(reference, sample, params, METRICS.values(), spreads=True)


def floor_scores(reference: Reference, real: Embedded, params: EvaluateParams) -> dict[str, float]:
    """`full_scores` of a real sample, for the metrics that have a floor (`Metric.floor`)."""
    floored = [metric for metric in METRICS.values() if metric.floor]
    return _scores(reference, real, params, floored, spreads=True)


def _scores(
    reference: Reference,
    sample: Embedded,
    params: EvaluateParams,
    metrics: Iterable[Metric],
    spreads: bool,
) -> dict[str, float]:
    """The chosen metrics (and their spreads), each function called once, lazily."""
    computed: dict[ScoreFunction, dict[str, float]] = {}
    scores: dict[str, float] = {}
    for metric in metrics:
        if metric.conditional and sample.requested is None:
            continue
        if metric.coded and sample.codes is None:
            continue
        if metric.mixture and reference.mixture is None:
            continue
        compute = metric.compute
        if compute is None:
            raise ValueError(f"{metric.name}: not registered with `register_metric`")
        if compute not in computed:
            computed[compute] = compute(reference, sample, params)
        result = computed[compute]
        for key in metric.keys if spreads else (metric.name,):
            if key not in result:
                raise ValueError(f"{compute.__name__} returned no {key!r}")
            scores[key] = result[key]
    return scores


def with_floors(scores: dict[str, float], floors: dict[str, float]) -> dict[str, float]:
    """Interleave each metric with its real-vs-real floor, `<name>_floor`."""
    merged: dict[str, float] = {}
    for name, value in scores.items():
        merged[name] = value
        if name in floors:
            merged[f"{name}_floor"] = floors[name]
    return merged


# --- the metrics, in the order of the metrics files -----------------------------


@register_metric(
    Metric(
        "domain_fid",
        "Domain FID",
        Better.LOWER,
        "Fréchet distance between Gaussians fitted to the features; down to the floor",
        cheap=True,
        chart=True,
        headline=True,
    )
)
def _domain_fid(reference: Reference, sample: Embedded, params: EvaluateParams) -> dict[str, float]:
    return {"domain_fid": frechet_distance(sample.features, reference.features)}


@register_metric(
    Metric(
        "kid",
        "KID",
        Better.LOWER,
        "unbiased MMD² with the cubic kernel (x·y/d + 1)³, mean (std) over subsets; "
        "about 0 for real data",
        spread="kid_std",
        settings="KID uses {kid_subsets} subsets of {kid_subset_size}",
    )
)
def _kid(reference: Reference, sample: Embedded, params: EvaluateParams) -> dict[str, float]:
    kid, kid_std = kernel_inception_distance(
        sample.features,
        reference.features,
        num_subsets=params.kid_subsets,
        subset_size=params.kid_subset_size,
    )
    return {"kid": kid, "kid_std": kid_std}


@register_metric(
    Metric(
        "classifier_score",
        "Classifier score",
        Better.HIGHER,
        "exp E KL(p(y|x) ‖ p(y)), the Inception Score with the evaluator: confident and "
        "varied; at most the number of classes",
        spread="classifier_score_std",
        cheap=True,
        chart=True,
        settings="the classifier score {classifier_score_splits} splits",
    )
)
def _classifier_score(
    reference: Reference, sample: Embedded, params: EvaluateParams
) -> dict[str, float]:
    score, score_std = classifier_score(sample.logits, params.classifier_score_splits)
    return {"classifier_score": score, "classifier_score_std": score_std}


@register_metric(
    Metric(
        "precision",
        "Precision (k-NN)",
        Better.HIGHER,
        "share of generated images inside the real data's k-NN balls (k = `precision_recall_k`)",
        headline=True,
        settings="precision/recall k = {precision_recall_k}",
    ),
    Metric(
        "recall",
        "Recall (k-NN)",
        Better.HIGHER,
        "share of real images inside the generated images' k-NN balls",
        headline=True,
    ),
)
def _precision_recall(
    reference: Reference, sample: Embedded, params: EvaluateParams
) -> dict[str, float]:
    return precision_recall(reference.features, sample.features, params.precision_recall_k)


@register_metric(
    Metric(
        "density",
        "Density",
        Better.CLOSER,
        "real k-NN balls (k = `density_coverage_k`) per generated image, over k: how "
        "densely generated images sit among real ones",
        settings="density/coverage k = {density_coverage_k}",
    ),
    Metric(
        "coverage",
        "Coverage",
        Better.HIGHER,
        "share of real images whose k-NN ball holds a generated one",
    ),
)
def _density_coverage(
    reference: Reference, sample: Embedded, params: EvaluateParams
) -> dict[str, float]:
    return density_coverage(reference.features, sample.features, params.density_coverage_k)


@register_metric(
    Metric(
        "classes_covered",
        "Classes covered",
        Better.HIGHER,
        "classes produced at `coverage_threshold` (a tenth) of their real share or more; "
        "at most the number of classes",
        cheap=True,
        chart=True,
        headline=True,
    ),
    Metric(
        "class_kl",
        "Class KL (nats)",
        Better.LOWER,
        "KL of the generated class mix from the real one",
        cheap=True,
        headline=True,
    ),
)
def _class_mix(reference: Reference, sample: Embedded, params: EvaluateParams) -> dict[str, float]:
    coverage = mode_coverage(
        sample.predicted, reference.labels, len(reference.class_counts), params.coverage_threshold
    )
    return {"classes_covered": coverage["classes_covered"], "class_kl": coverage["class_kl"]}


@register_metric(
    Metric(
        "conditional_accuracy",
        "Conditional accuracy",
        Better.HIGHER,
        "share of images classified as the class asked for",
        cheap=True,
        headline=True,
        conditional=True,
    ),
    Metric(
        "conditional_cross_entropy",
        "Conditional cross-entropy",
        Better.LOWER,
        "the evaluator's cross-entropy to the class asked for, in nats",
        cheap=True,
        conditional=True,
    ),
)
def _conditional(
    reference: Reference, sample: Embedded, params: EvaluateParams
) -> dict[str, float]:
    if sample.requested is None:
        raise ValueError("conditional metrics need the requested labels")
    return conditional_scores(sample.logits, sample.requested)


@register_metric(
    Metric(
        "code_accuracy",
        "Categorical-code accuracy",
        Better.HIGHER,
        "share of images classified as the class matched one-to-one to their code value "
        "(the matching that agrees with the most images)",
        coded=True,
    )
)
def _code_accuracy(
    reference: Reference, sample: Embedded, params: EvaluateParams
) -> dict[str, float]:
    if sample.codes is None:
        raise ValueError("the code accuracy needs the code each image was made with")
    return {"code_accuracy": matched_code_accuracy(sample.codes, sample.predicted)}


@register_metric(
    Metric(
        "high_quality",
        "High-quality share",
        Better.HIGHER,
        "share of samples within 3 std of their nearest mode (VEEGAN's protocol)",
        cheap=True,
        headline=True,
        mixture=True,
    ),
    Metric(
        "modes_covered",
        "Modes covered",
        Better.HIGHER,
        "modes whose high-quality samples reach `coverage_threshold` (a tenth) of their real "
        "share; at most the number of modes",
        cheap=True,
        headline=True,
        mixture=True,
    ),
)
def _mixture(reference: Reference, sample: Embedded, params: EvaluateParams) -> dict[str, float]:
    if reference.mixture is None:
        raise ValueError("the mixture's metrics need the mixture behind the data")
    real_share = reference.class_counts / reference.class_counts.sum()
    return mixture_scores(sample.features, reference.mixture, real_share, params.coverage_threshold)


# --- the settings behind the numbers ---------------------------------------------

# Recorded beside the metrics in the metrics file; they are settings, not
# measurements (MLflow gets them as params).
SAMPLE_SIZE_KEYS = (
    "num_samples",
    "num_classes",
    "kid_subsets",
    "kid_subset_size",
    "classifier_score_splits",
    "precision_recall_k",
    "density_coverage_k",
)


def measurements(metrics: dict[str, float | int]) -> dict[str, float | int]:
    """A full metrics dict without the sample sizes, which are settings."""
    return {key: value for key, value in metrics.items() if key not in SAMPLE_SIZE_KEYS}


def sample_sizes(params: EvaluateParams, num_classes: int) -> dict[str, int]:
    """The sizes behind the numbers, keyed by `SAMPLE_SIZE_KEYS`."""
    values = (
        params.num_samples,
        num_classes,
        params.kid_subsets,
        min(params.kid_subset_size, params.num_samples),
        min(params.classifier_score_splits, params.num_samples),
        params.precision_recall_k,
        params.density_coverage_k,
    )
    return dict(zip(SAMPLE_SIZE_KEYS, values, strict=True))
