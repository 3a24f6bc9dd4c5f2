"""Score a trained generator in the evaluator's feature space.

The reference sample is the real training split: the domain FID compares
generated samples with it, and the floor compares an equally large real test
sample with it, so the floor is what a perfect generator would score.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from pipeline.data import load_arrays, load_info
from pipeline.errors import PipelineError
from pipeline.evaluation.classifier import embed, feature_extractor
from pipeline.evaluation.metrics import conditional_scores, frechet_distance, mode_coverage
from pipeline.params import EvaluateParams
from pipeline.sampling import (
    cycled_labels,
    generate,
    is_conditional,
    latent_dim_of,
    latent_vectors,
)


def evaluate_generator(
    params: EvaluateParams,
    seed: int,
    data_dir: str | Path,
    generator_path: str | Path,
    classifier_path: str | Path,
) -> dict[str, float | int]:
    """Compute the generator's metrics against the real data.

    Args:
        params: the `evaluate` params section.
        seed: the run's seed; fixes the latent vectors.
        data_dir: the prepared dataset.
        generator_path: the trained generator (`.keras`).
        classifier_path: the trained evaluator (`.keras`).

    Returns:
        domain_fid, domain_fid_floor, classes_covered, class_kl and the
        sample size, ready for `metrics/<model>.json`; a conditional
        generator, asked for every class in turn, adds conditional_accuracy
        and conditional_cross_entropy.
    """
    info = load_info(data_dir)
    n = params.num_samples
    available = min(info.splits["train"].count, info.splits["test"].count)
    if n > available:
        raise PipelineError(
            f"evaluate.num_samples = {n}: the floor needs that many real test and train "
            f"images, and the prepared data has {available}; use at most {available}"
        )
    extractor = feature_extractor(load_keras(classifier_path))
    generator = load_keras(generator_path)

    train_images, _ = load_arrays(data_dir, "train", limit=n)
    test_images, _ = load_arrays(data_dir, "test", limit=n)
    requested = cycled_labels(n, info.num_classes) if is_conditional(generator) else None
    latents = latent_vectors(seed, n, latent_dim_of(generator))
    fake_images = generate(generator, latents, requested)

    train_features, _ = embed(extractor, train_images, params.batch_size)
    test_features, _ = embed(extractor, test_images, params.batch_size)
    fake_features, fake_logits = embed(extractor, fake_images, params.batch_size)

    real_counts = np.asarray(info.splits["train"].class_counts)
    coverage = mode_coverage(
        np.argmax(fake_logits, axis=1),
        np.repeat(np.arange(info.num_classes), real_counts),
        info.num_classes,
        params.coverage_threshold,
    )
    metrics = {
        "domain_fid": frechet_distance(fake_features, train_features),
        "domain_fid_floor": frechet_distance(test_features, train_features),
        "classes_covered": int(coverage["classes_covered"]),
        "num_classes": info.num_classes,
        "class_kl": float(coverage["class_kl"]),
        "num_samples": n,
    }
    if requested is not None:
        metrics.update(conditional_scores(fake_logits, requested))
    return metrics


def load_keras(path: str | Path) -> keras.Model:
    """Load a `.keras` model, or say which stage makes it."""
    if not Path(path).is_file():
        raise PipelineError(f"{path}: not found; run the stage that makes it first (dvc repro)")
    return keras.saving.load_model(path)
