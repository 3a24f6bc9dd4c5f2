"""Score a trained generator in the evaluator's feature space.

The reference sample is the real training split: every metric compares
generated samples with it, and its floor compares an equally large real test
sample with it, so the floor is what a perfect generator would score.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from pipeline.data import DatasetInfo, load_arrays, verify_prepared
from pipeline.errors import PipelineError
from pipeline.evaluation.features import embed, feature_extractor
from pipeline.evaluation.mixture import Mixture
from pipeline.evaluation.suite import (
    Embedded,
    Reference,
    all_metrics,
    floor_scores,
    full_scores,
    quick_scores,
    sample_sizes,
    with_floors,
)
from pipeline.params import EvaluateParams
from pipeline.sampling import (
    cycled_labels,
    generate,
    is_conditional,
    latent_dim_of,
    latent_vectors,
)
from pipeline.saved_models import (
    check_generator,
    code_values,
    load_keras,
    require_finite,
    takes_code,
)

Scorer = Callable[[keras.Model], dict[str, float]]


def headline(metrics: dict[str, float | int]) -> dict[str, float | int]:
    """The headline metrics (`Metric.headline`) of a full metrics dict, without their floors.

    They are the few numbers a person compares first, written to
    metrics/headline/<model>.json: `dvc metrics show metrics/headline` is a
    row per model that fits a terminal. The floors are the same for every
    model; they stay in metrics/<model>.json, and the report gives them once.
    """
    return {
        metric.name: metrics[metric.name]
        for metric in all_metrics()
        if metric.headline and metric.name in metrics
    }


def evaluate_generator(
    params: EvaluateParams,
    seed: int,
    data_dir: str | Path,
    generator_path: str | Path,
    classifier_path: str | Path,
    continuous_codes: int = 0,
) -> dict[str, float | int]:
    """Compute every metric of the generator, each beside its real-vs-real floor.

    Every input is checked first (the prepared data against its info file,
    the sample sizes against the data, both models), and a generator whose
    images are not finite is refused. Nothing is written.

    Args:
        params: the `evaluate` params section.
        seed: the run's seed; fixes the latent vectors.
        data_dir: the prepared dataset.
        generator_path: the trained generator (`.keras`).
        classifier_path: the trained evaluator (`.keras`).
        continuous_codes: InfoGAN's continuous codes at the end of z, from
            task.json (`pipeline.task_file.continuous_codes`); 0 for none.

    Returns:
        The metrics of `pipeline.evaluation.suite.full_scores`, each with a
        floor followed by `<name>_floor` (real test against the same real
        train sample),
        and the sample sizes; ready for `metrics/<model>.json`. A
        conditional generator is asked for every class in turn and adds
        conditional_accuracy and conditional_cross_entropy (their floor is
        the evaluator on real test images and their true labels).

    Raises:
        PipelineError: a bad input, in one line.
    """
    info = verify_prepared(data_dir)
    check_sample_sizes(params, info)
    extractor = feature_extractor(load_keras(classifier_path, "evaluator"))
    generator = load_keras(generator_path, "generator")
    check_generator(generator, generator_path, info.image_shape)

    n = params.num_samples
    reference = embed_reference(extractor, data_dir, info, n, params.batch_size)
    sample = embed_generated(
        extractor,
        generator,
        seed,
        n,
        info.num_classes,
        params.batch_size,
        generator_path,
        continuous_codes,
    )
    test_images, test_labels = load_arrays(data_dir, "test", limit=n)
    features, logits = embed(extractor, test_images, params.batch_size)
    real = Embedded(
        features,
        logits,
        test_labels if sample.requested is not None else None,
        test_labels if sample.codes is not None else None,
    )

    scores = full_scores(reference, sample, params)
    floors = floor_scores(reference, real, params)
    return {**with_floors(scores, floors), **sample_sizes(params, info.num_classes)}


def check_sample_sizes(params: EvaluateParams, info: DatasetInfo) -> None:
    """The checks of the `evaluate` section that need the data.

    Raises:
        PipelineError: a size the prepared data cannot supply, in one line.
    """
    n = params.num_samples
    available = min(info.splits["train"].count, info.splits["test"].count)
    if n > available:
        raise PipelineError(
            f"evaluate.num_samples = {n}: the floor needs that many real test and train "
            f"images, and the prepared data has {available}; use at most {available}"
        )
    # Fewer images than classes in a split caps its score below the number of classes.
    most_splits = n // info.num_classes
    if params.classifier_score_splits > most_splits:
        raise PipelineError(
            f"evaluate.classifier_score_splits = {params.classifier_score_splits}: each split "
            f"needs at least {info.num_classes} images (one per class) of the {n} scored; "
            f"use at most {most_splits}"
        )


def embed_reference(
    extractor: keras.Model,
    data_dir: str | Path,
    info: DatasetInfo,
    num_samples: int,
    batch_size: int,
) -> Reference:
    """The first `num_samples` training images in the evaluator's space."""
    images, _ = load_arrays(data_dir, "train", limit=num_samples)
    features, _ = embed(extractor, images, batch_size)
    class_counts = np.asarray(info.splits["train"].class_counts)
    return Reference(features, class_counts, Mixture.from_extra(info.extra))


def embed_generated(
    extractor: keras.Model,
    generator: keras.Model,
    seed: int,
    num_samples: int,
    num_classes: int,
    batch_size: int,
    generator_path: str | Path = "the generator",
    continuous_codes: int = 0,
) -> Embedded:
    """`num_samples` generated images in the evaluator's space.

    The latents come from the seed's evaluation stream, so export draws the
    same images; a conditional generator is asked for each class in turn, and
    one given a categorical code (InfoGAN) gets each code value in turn, its
    `continuous_codes` drawn uniform as in training.

    Raises:
        PipelineError: the generator produced NaN or infinite pixels.
    """
    if takes_code(generator):
        # The code's own values, which need not number the data's classes.
        num_classes = code_values(generator)
    requested = cycled_labels(num_samples, num_classes) if is_conditional(generator) else None
    latents = latent_vectors(
        seed, num_samples, latent_dim_of(generator), continuous_codes=continuous_codes
    )
    images = require_finite(generate(generator, latents, requested, batch_size), generator_path)
    features, logits = embed(extractor, images, batch_size)
    if takes_code(generator):
        return Embedded(features, logits, codes=requested)
    return Embedded(features, logits, requested)


def training_scorer(
    classifier: keras.Model,
    data_dir: str | Path,
    seed: int,
    num_samples: int,
    batch_size: int = 256,
    continuous_codes: int = 0,
) -> Scorer:
    """A function that scores a generator with the cheap metrics (`quick_scores`), during training.

    The real reference is embedded once, here; each call then costs one
    generation and one forward pass of `num_samples` images.

    Args:
        classifier: the trained evaluator.
        data_dir: the prepared dataset.
        seed: fixes the latent vectors, the same at every call.
        num_samples: generated (and reference) images per call, at most the
            training split's size.
        batch_size: images per forward pass.
        continuous_codes: InfoGAN's continuous codes at the end of z (`embed_generated`).
    """
    info = verify_prepared(data_dir)
    extractor = feature_extractor(classifier)
    reference = embed_reference(extractor, data_dir, info, num_samples, batch_size)

    def score(generator: keras.Model) -> dict[str, float]:
        sample = embed_generated(
            extractor,
            generator,
            seed,
            num_samples,
            info.num_classes,
            batch_size,
            continuous_codes=continuous_codes,
        )
        return quick_scores(reference, sample)

    return score
