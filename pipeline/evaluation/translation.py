"""Score a trained translation generator on the test pairs, beside its task's baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from pipeline.data import DatasetInfo, load_domain, verify_prepared
from pipeline.data.pairs import check_paired, domain_shape, paired_examples
from pipeline.errors import PipelineError
from pipeline.evaluation.baselines import BASELINES, BaselineData
from pipeline.evaluation.evaluate import Scorer, check_sample_sizes, embed_reference
from pipeline.evaluation.features import embed, feature_extractor
from pipeline.evaluation.pixel_metrics import box_mask
from pipeline.evaluation.translation_suite import Translated, translation_scores, with_baselines
from pipeline.params import EvaluateParams
from pipeline.sampling import translate
from pipeline.saved_models import check_translator, load_keras, require_finite

# The domain the evaluator was trained on: the source's own images.
EVALUATOR_DOMAIN = "A"


def evaluate_translation(
    params: EvaluateParams,
    task: dict[str, Any],
    data_dir: str | Path,
    generator_path: str | Path,
    classifier_path: str | Path,
) -> dict[str, float | int]:
    """Every translation metric of the generator on the first test pairs, beside the baseline's.

    Every input is checked first; a generator whose outputs are not finite is
    refused. Nothing is written.

    Args:
        params: the `evaluate` params section (`num_samples` pairs are scored).
        task: the model's task.json: its input and target domains and baseline.
        data_dir: the prepared dataset.
        generator_path: the trained generator (`.keras`).
        classifier_path: the evaluator, whose features give the outputs' FID
            when the target is its domain.

    Returns:
        Each metric, its spread and `<name>_baseline`, then `num_samples`.

    Raises:
        PipelineError: a bad input, in one line.
    """
    info = verify_prepared(data_dir)
    check_sample_sizes(params, info)
    source, target = task["input"], task["target"]
    check_paired(info, source, target)
    generator = load_keras(generator_path, "generator")
    made = check_translator(generator, generator_path, domain_shape(info, source))
    if made != domain_shape(info, target):
        raise PipelineError(
            f"{generator_path}: makes images of shape {made}, but {target!r} has "
            f"{domain_shape(info, target)}; retrain it on this data (`dvc repro`)"
        )

    n = params.num_samples
    inputs, targets = paired_examples(data_dir, source, target, "test").take(np.arange(n))
    outputs = require_finite(
        translate(generator, inputs, batch_size=params.batch_size), generator_path
    )
    mask = hole_mask(info, source)
    train_targets, _ = load_domain(data_dir, target, "train")
    baseline = BASELINES[task["baseline"]](inputs, BaselineData(train_targets.mean(axis=0), mask))

    features = {"outputs": None, "baseline": None}
    reference = None
    if target == EVALUATOR_DOMAIN:
        extractor = feature_extractor(load_keras(classifier_path, "evaluator"))
        reference = embed_reference(extractor, data_dir, info, n, params.batch_size).features
        for key, images in (("outputs", outputs), ("baseline", baseline)):
            features[key] = embed(extractor, images, params.batch_size)[0]
    scores = translation_scores(Translated(outputs, targets, mask, features["outputs"], reference))
    floor = translation_scores(Translated(baseline, targets, mask, features["baseline"], reference))
    return {**with_baselines(scores, floor), "num_samples": n}


def translation_scorer(
    data_dir: str | Path, source: str, target: str, num_samples: int, batch_size: int = 256
) -> Scorer:
    """A function that scores a translation generator with the cheap metrics, during training.

    It translates the first `num_samples` test pairs (all of them if fewer):
    the same inputs at every call, read once, here.
    """
    info = verify_prepared(data_dir)
    pairs = paired_examples(data_dir, source, target, "test")
    inputs, targets = pairs.take(np.arange(min(num_samples, len(pairs))))
    mask = hole_mask(info, source)

    def score(generator: keras.Model) -> dict[str, float]:
        outputs = translate(generator, inputs, batch_size=batch_size)
        return translation_scores(Translated(outputs, targets, mask), cheap_only=True)

    return score


def hole_mask(info: DatasetInfo, domain: str) -> np.ndarray | None:
    """The hole of a masked input domain as a boolean (H, W) mask; None for other domains."""
    if domain == EVALUATOR_DOMAIN:
        return None
    hole = info.domains[domain].extra.get("hole")
    if hole is None:
        return None
    height, width = info.domains[domain].image_shape[:2]
    box = (hole["top"], hole["left"], hole["height"], hole["width"])
    return box_mask(height, width, box)
