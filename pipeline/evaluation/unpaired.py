"""Score a trained unpaired translation (CycleGAN) on the test inputs, beside doing nothing.

There are no paired targets to compare with in general, so the scores ask
what the paper's do: is the translated image still the same digit
(`digit_preservation`, by a classifier of the target domain), does the cycle
give the input back (`cycle_l1`, by the inverse generator), and does it look
like the target domain (`target_fid`, in that classifier's features; the
evaluator's `output_fid` where the target is A). Where the domains pair up
(the digits' derived domains), the pixel metrics against the true targets
come too. The baseline is the untranslated input (`pipeline.evaluation.
translation_suite`).

The target domain's classifier is trained here, at every evaluation, on the
target's training split and its labels (the evaluator's network, and the
params' `evaluator` settings, seeded), and cached nowhere: about 9 s on two CPU
cores (5 epochs) for the 4,000 digits. An unlabelled folder source (one class) gets no classifier,
so neither `digit_preservation` nor `target_fid`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from pipeline.data import SplitRecords, verify_prepared
from pipeline.data.pairs import domain_shape
from pipeline.data.stream import load_domain
from pipeline.data.unpaired import domains_pair_up, held_out_images
from pipeline.errors import PipelineError
from pipeline.evaluation.classifier import train_classifier
from pipeline.evaluation.evaluate import embed_reference
from pipeline.evaluation.features import embed, feature_extractor
from pipeline.evaluation.translation import EVALUATOR_DOMAIN
from pipeline.evaluation.translation_suite import Translated, translation_scores, with_baselines
from pipeline.params import EvaluateParams, EvaluatorParams
from pipeline.sampling import translate
from pipeline.saved_models import check_translator, load_keras, require_finite

INVERSE_GENERATOR = "inverse_generator.keras"


def evaluate_unpaired(
    params: EvaluateParams,
    seed: int,
    task: dict[str, Any],
    data_dir: str | Path,
    generator_path: str | Path,
    networks_dir: str | Path,
    classifier_path: str | Path,
    target_classifier: EvaluatorParams,
) -> dict[str, float | int]:
    """Every metric that applies to the first `num_samples` test inputs, beside the baseline's.

    Args:
        params: the `evaluate` params section.
        seed: seeds the target domain's classifier.
        task: the model's task.json: its input and target domains.
        data_dir: the prepared dataset.
        generator_path: G_AB (`.keras`).
        networks_dir: the model's other networks; G_BA is `inverse_generator.keras`.
        classifier_path: the evaluator, for `output_fid` when the target is A.
        target_classifier: how the target domain's classifier trains (the `evaluator`
            params section).

    Returns:
        Each metric, its spread and `<name>_baseline`; `target_classifier_accuracy`
        (the classifier on real test images of the target: the ceiling of
        `digit_preservation`) when there is one; `num_samples`.

    Raises:
        PipelineError: a bad input, in one line.
    """
    info = verify_prepared(data_dir)
    source, target = task["input"], task["target"]
    source_shape, target_shape = domain_shape(info, source), domain_shape(info, target)
    inputs, labels = load_domain(data_dir, source, "test")
    n = params.num_samples
    if n > len(inputs):
        raise PipelineError(
            f"evaluate.num_samples = {n}: domain {source!r} has {len(inputs)} test images; "
            f"use at most {len(inputs)}"
        )
    inputs, labels = inputs[:n], labels[:n]
    generator = _translator(generator_path, source_shape, target_shape)
    inverse = _translator(Path(networks_dir) / INVERSE_GENERATOR, target_shape, source_shape)
    outputs = require_finite(translate(generator, inputs, params.batch_size), generator_path)
    cycled = translate(inverse, outputs, params.batch_size)
    unchanged = as_channels(inputs, target_shape[-1])
    targets = (
        held_out_images(data_dir, target, n) if domains_pair_up(info, source, target) else None
    )
    input_mean = load_domain(data_dir, source, "train")[0].mean(axis=0)

    model = {"outputs": outputs, "inputs": inputs, "cycled": cycled, "source_labels": labels}
    baseline = {
        "outputs": unchanged,
        "inputs": inputs,
        "cycled": np.broadcast_to(input_mean, inputs.shape),
        "source_labels": labels,
    }
    extra: dict[str, float] = {}
    if target == EVALUATOR_DOMAIN:
        extractor = feature_extractor(load_keras(classifier_path, "evaluator"))
        reference = embed_reference(extractor, data_dir, info, n, params.batch_size).features
        for part in (model, baseline):
            part["features"] = embed(extractor, part["outputs"], params.batch_size)[0]
            part["reference"] = reference
    if info.num_classes > 1:
        extractor, accuracy = _target_classifier(data_dir, info, target, seed, target_classifier)
        extra["target_classifier_accuracy"] = accuracy
        reference = embed(extractor, held_out_images(data_dir, target, n), params.batch_size)[0]
        for part in (model, baseline):
            features, logits = embed(extractor, part["outputs"], params.batch_size)
            part["target_logits"] = logits
            if target != EVALUATOR_DOMAIN:  # else output_fid, in the evaluator's features
                part["target_features"], part["target_reference"] = features, reference
    scores = translation_scores(Translated(targets=targets, **model))
    floor = translation_scores(Translated(targets=targets, **baseline))
    return {**with_baselines(scores, floor), **extra, "num_samples": n}


def as_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """`images` with `channels` channels: grey repeated into colour, colour averaged to grey;
    how the untranslated input stands in the target domain."""
    if images.shape[-1] == channels:
        return images
    if images.shape[-1] == 1:
        return np.repeat(images, channels, axis=-1)
    return images.mean(axis=-1, keepdims=True).astype(np.float32)


def _translator(
    path: str | Path,
    input_shape: tuple[int, int, int],
    output_shape: tuple[int, int, int],
) -> keras.Model:
    """A saved generator checked to map `input_shape` images to `output_shape` ones."""
    generator = load_keras(path, "generator")  # both are train's
    made = check_translator(generator, path, input_shape)
    if tuple(made) != tuple(output_shape):
        raise PipelineError(
            f"{path}: makes images of shape {made}, but {output_shape} are expected; "
            "retrain it on this data (`dvc repro`)"
        )
    return generator


def _target_classifier(
    data_dir: str | Path, info, target: str, seed: int, settings: EvaluatorParams
) -> tuple[keras.Model, float]:
    """A classifier of the target domain, trained on its training split; its feature
    extractor and its accuracy on the domain's test images."""
    test_images, test_labels = load_domain(data_dir, target, "test")
    model, scores = train_classifier(
        SplitRecords.open(data_dir, "train", target),
        (test_images, test_labels),
        settings,
        domain_shape(info, target),
        info.num_classes,
        seed,
        verbose=0,
    )
    return feature_extractor(model), scores["test_accuracy"]
