"""The metrics of image-to-image models, registered like the others (`register_metric`).

A translation is scored against the targets it should have produced: pixel
by pixel (L1, PSNR, SSIM; on the hole only, for inpainting) and, where the
targets are the images the evaluator was trained on, as a sample of that
domain (the Fréchet distance of the outputs' features). Each score sits
beside the same score of the task's baseline (`pipeline.evaluation.baselines`),
as the noise models' scores sit beside the real data's floor.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from pipeline.evaluation.metrics import frechet_distance
from pipeline.evaluation.pixel_metrics import (
    foreground_agreement,
    l1_error,
    pixel_agreement,
    psnr,
    ssim,
)
from pipeline.evaluation.suite import REGISTRIES, Better, Metric, register_metric

# Every translation metric, by name, in the order of the metrics files.
TRANSLATION_METRICS: dict[str, Metric] = {}
REGISTRIES.append(TRANSLATION_METRICS)


@dataclass(frozen=True)
class Translated:
    """A model's (or a baseline's) outputs for the test inputs, and what they are compared with.

    Args:
        outputs: float32 images in [-1, 1], NHWC.
        targets: the test pairs' targets, the same shape; None where the
            domains do not pair up (a folder's unpaired B), and the pixel
            metrics are left out.
        mask: where the pixel metrics look (the hole of an inpainting task),
            a boolean (H, W); None for every pixel.
        features: the evaluator's features of `outputs`, when the targets
            are its domain (of a coupled pair's first generator's samples);
            else None, and the feature metrics are left out.
        reference: the evaluator's features of real training targets.
        inputs: the test inputs (an unpaired model's cycle is compared with them).
        cycled: the outputs translated back (G_BA(G_AB(inputs))), or a baseline's stand-in.
        source_labels: the inputs' classes (their digits).
        target_logits: the target domain's classifier's logits of `outputs`.
        target_features: its features of `outputs`.
        target_reference: its features of real test images of the target domain.
    """

    outputs: np.ndarray
    targets: np.ndarray | None
    mask: np.ndarray | None = None
    features: np.ndarray | None = None
    reference: np.ndarray | None = None
    inputs: np.ndarray | None = None
    cycled: np.ndarray | None = None
    source_labels: np.ndarray | None = None
    target_logits: np.ndarray | None = None
    target_features: np.ndarray | None = None
    target_reference: np.ndarray | None = None


TranslationScore = Callable[[Translated], dict[str, float]]

# The metrics that need the evaluator's features (`Translated.features`).
NEEDS_FEATURES: set[str] = set()
# What else a metric reads from `Translated`: it is left out where one of these is None.
NEEDS_FIELDS: dict[str, tuple[str, ...]] = {}


def _lacks_fields(name: str, translated: Translated) -> bool:
    return any(getattr(translated, field) is None for field in NEEDS_FIELDS.get(name, ()))


# The metrics of a coupled pair of generators alone (CoGAN, `pipeline.evaluation.coupled`),
# which a translation's scores leave out.
COUPLED_ONLY: set[str] = set()


def translation_scores(
    translated: Translated, cheap_only: bool = False, names: Collection[str] | None = None
) -> dict[str, float]:
    """Every translation metric that applies, with its spread, in registration order.

    With `cheap_only`, the cheap ones (`Metric.cheap`) without their spreads:
    what training tracks every `eval_every` epochs. `names` picks the metrics
    scored; by default every one but `COUPLED_ONLY`.
    """
    scores: dict[str, float] = {}
    computed: dict[Callable, dict[str, float]] = {}
    for metric in TRANSLATION_METRICS.values():
        wanted = metric.name not in COUPLED_ONLY if names is None else metric.name in names
        if not wanted:
            continue
        if metric.name in NEEDS_FEATURES and translated.features is None:
            continue
        if _lacks_fields(metric.name, translated):
            continue
        if cheap_only and not metric.cheap:
            continue
        if metric.compute not in computed:
            computed[metric.compute] = metric.compute(translated)
        result = computed[metric.compute]
        for key in (metric.name,) if cheap_only else metric.keys:
            scores[key] = result[key]
    return scores


def with_baselines(scores: dict[str, float], baseline: dict[str, float]) -> dict[str, float]:
    """Each metric followed by its spread and `<name>_baseline`, the baseline's score."""
    merged: dict[str, float] = {}
    for metric in TRANSLATION_METRICS.values():
        if metric.name not in scores:
            continue
        for key in metric.keys:
            merged[key] = scores[key]
        merged[f"{metric.name}_baseline"] = baseline[metric.name]
    return merged


def _pixel_metric(name: str, label: str, better: Better, description: str) -> Metric:
    # L1 and PSNR are cheap enough to track during training; SSIM's windows are not.
    cheap = name != "ssim"
    return Metric(
        name,
        label,
        better,
        description,
        spread=f"{name}_std",
        cheap=cheap,
        headline=cheap,
        floor=False,
        baseline=True,
    )


@register_metric(
    _pixel_metric(
        "l1",
        "L1 to the target",
        Better.LOWER,
        "mean absolute pixel error against the target, in [-1, 1] units (on the hole "
        "for inpainting); mean (std) over images",
    ),
    registry=TRANSLATION_METRICS,
)
def _l1(translated: Translated) -> dict[str, float]:
    mean, std = l1_error(translated.outputs, translated.targets, translated.mask)
    return {"l1": mean, "l1_std": std}


@register_metric(
    _pixel_metric(
        "psnr",
        "PSNR (dB)",
        Better.HIGHER,
        "peak signal-to-noise ratio against the target, 10 log10(2² / MSE), per image "
        "(capped at 100 dB), mean (std)",
    ),
    registry=TRANSLATION_METRICS,
)
def _psnr(translated: Translated) -> dict[str, float]:
    mean, std = psnr(translated.outputs, translated.targets, translated.mask)
    return {"psnr": mean, "psnr_std": std}


@register_metric(
    _pixel_metric(
        "ssim",
        "SSIM",
        Better.HIGHER,
        "structural similarity (Wang et al. 2004: Gaussian window σ 1.5) against the "
        "target, per image, mean (std)",
    ),
    registry=TRANSLATION_METRICS,
)
def _ssim(translated: Translated) -> dict[str, float]:
    mean, std = ssim(translated.outputs, translated.targets, translated.mask)
    return {"ssim": mean, "ssim_std": std}


@register_metric(
    Metric(
        "output_fid",
        "Domain FID of the outputs",
        Better.LOWER,
        "Fréchet distance between the evaluator's features of the outputs and of real "
        "training targets (when the target is the evaluator's domain)",
        headline=True,
        floor=False,
        baseline=True,
    ),
    registry=TRANSLATION_METRICS,
)
def _output_fid(translated: Translated) -> dict[str, float]:
    return {"output_fid": frechet_distance(translated.features, translated.reference)}


NEEDS_FEATURES.add("output_fid")
NEEDS_FIELDS.update({name: ("targets",) for name in ("l1", "psnr", "ssim")})


# --- unpaired translation (CycleGAN) -----------------------------------------------
#
# Its baseline is doing nothing: the untranslated inputs as the outputs, and as
# the cycle's stand-in the input domain's mean training image, what a cycle
# that forgets its input gives back (the identity's cycle error is 0).


@register_metric(
    Metric(
        "digit_preservation",
        "Digit preserved",
        Better.HIGHER,
        "share of translated test images that a classifier of the target domain (trained "
        "at evaluate time on its training split) calls their input's class",
        headline=True,
        floor=False,
        baseline=True,
    ),
    registry=TRANSLATION_METRICS,
)
def _digit_preservation(translated: Translated) -> dict[str, float]:
    predicted = np.argmax(translated.target_logits, axis=1)
    return {"digit_preservation": float(np.mean(predicted == translated.source_labels))}


@register_metric(
    Metric(
        "cycle_l1",
        "Cycle L1",
        Better.LOWER,
        "mean absolute error between the test inputs and their translations translated "
        "back, G_BA(G_AB(a)), in [-1, 1] units; mean (std) over images",
        spread="cycle_l1_std",
        cheap=True,
        headline=True,
        floor=False,
        baseline=True,
    ),
    registry=TRANSLATION_METRICS,
)
def _cycle_l1(translated: Translated) -> dict[str, float]:
    mean, std = l1_error(translated.cycled, translated.inputs)
    return {"cycle_l1": mean, "cycle_l1_std": std}


@register_metric(
    Metric(
        "target_fid",
        "Target-domain FID",
        Better.LOWER,
        "Fréchet distance between the outputs and real test images of the target domain, "
        "in the features of the target domain's classifier (for targets other than A)",
        headline=True,
        floor=False,
        baseline=True,
    ),
    registry=TRANSLATION_METRICS,
)
def _target_fid(translated: Translated) -> dict[str, float]:
    return {"target_fid": frechet_distance(translated.target_features, translated.target_reference)}


NEEDS_FIELDS.update(
    {
        "digit_preservation": ("target_logits", "source_labels"),
        "cycle_l1": ("cycled", "inputs"),
        "target_fid": ("target_features", "target_reference"),
    }
)


# --- coupled generators (CoGAN) ----------------------------------------------------
#
# `outputs` are G2's images and `targets` G1's images of the same z mapped into
# G2's domain by that domain's own transform; the baseline is G2's images of
# independent z, what two uncoupled GANs agree by chance.


@register_metric(
    Metric(
        "pixel_agreement",
        "Pixel agreement",
        Better.HIGHER,
        "share of binarised pixels where G2(z) agrees with G1(z) mapped to the second domain "
        "by its transform (Liu & Tuzel 2016); baseline: G2 of an independent z",
        cheap=True,
        headline=True,
        floor=False,
        baseline=True,
    ),
    registry=TRANSLATION_METRICS,
)
def _pixel_agreement(translated: Translated) -> dict[str, float]:
    return {"pixel_agreement": pixel_agreement(translated.outputs, translated.targets)}


@register_metric(
    Metric(
        "foreground_agreement",
        "Foreground agreement",
        Better.HIGHER,
        "intersection over union of the binarised foreground (the rarer value: the digit's "
        "strokes) of G2(z) and of G1(z) mapped to the second domain; the pixel agreement "
        "without the background, on which any two digits agree",
        cheap=True,
        headline=True,
        floor=False,
        baseline=True,
    ),
    registry=TRANSLATION_METRICS,
)
def _foreground_agreement(translated: Translated) -> dict[str, float]:
    return {"foreground_agreement": foreground_agreement(translated.outputs, translated.targets)}


COUPLED_ONLY.update({"pixel_agreement", "foreground_agreement"})
