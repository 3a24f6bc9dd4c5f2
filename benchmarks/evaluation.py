"""Time of a full evaluation at 10,000 samples: generation, evaluator passes, every metric.

Usage: python -m benchmarks.evaluation [--num-samples 10000] [--model gan]

Uses `models/<model>/generator.keras` and `models/evaluator/classifier.keras`
when `dvc repro` has made them, and untrained networks of the same shape
otherwise (the time is the same). The real reference is the training split,
tiled up to the sample size when it is smaller: mnist5k has 4,000 training
images. Run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.data import load_arrays, load_info  # noqa: E402
from pipeline.evaluation import metrics  # noqa: E402
from pipeline.evaluation.classifier import build_classifier, embed, feature_extractor  # noqa: E402
from pipeline.evaluation.suite import Embedded, Reference, full_scores  # noqa: E402
from pipeline.networks import build_networks  # noqa: E402
from pipeline.params import EvaluateParams, load_params  # noqa: E402
from pipeline.sampling import generate, latent_vectors  # noqa: E402

DATA_DIR = Path("data/prepared")


def timed(label: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = fn()
    print(f"  {label:<34} {time.perf_counter() - start:7.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--model", default="gan", help="a model section of params.yaml")
    args = parser.parse_args()
    n = args.num_samples
    params = load_params()
    model_params = params.model(args.model)
    settings = EvaluateParams.model_validate({**params.evaluate.model_dump(), "num_samples": n})
    info = load_info(DATA_DIR)

    generator_path = Path("models") / args.model / "generator.keras"
    classifier_path = Path("models/evaluator/classifier.keras")
    if generator_path.is_file():
        generator = keras.saving.load_model(generator_path)
    else:
        generator, _ = build_networks(model_params.network, info.image_shape)
    if classifier_path.is_file():
        classifier = keras.saving.load_model(classifier_path)
    else:
        classifier = build_classifier(info.image_shape, info.num_classes, 64)
    extractor = feature_extractor(classifier)
    latents = latent_vectors(params.seed, n, model_params.network.latent_dim)
    real_images, _ = load_arrays(DATA_DIR, "train")
    real_images = np.resize(real_images, (n, *real_images.shape[1:]))
    counts = np.asarray(info.splits["train"].class_counts)

    print(f"evaluation of {n} generated images against {n} real ones")
    start = time.perf_counter()
    images = timed("generate", lambda: generate(generator, latents))
    fake = Embedded(*timed("evaluator pass, generated", lambda: embed(extractor, images, 256)))
    real = timed("evaluator pass, real", lambda: embed(extractor, real_images, 256))
    reference = Reference(real[0], counts)
    timed("every metric (full_scores)", lambda: full_scores(reference, fake, settings))
    print(f"total: {time.perf_counter() - start:.1f} s\n\nthe metrics one by one:")
    timed("Frechet distance", lambda: metrics.frechet_distance(fake.features, real[0]))
    timed(
        f"KID, {settings.kid_subsets} subsets of {settings.kid_subset_size}",
        lambda: metrics.kernel_inception_distance(
            fake.features, real[0], settings.kid_subsets, settings.kid_subset_size
        ),
    )
    timed("classifier score", lambda: metrics.classifier_score(fake.logits, 10))
    timed("precision/recall, k = 3", lambda: metrics.precision_recall(real[0], fake.features, 3))
    timed("density/coverage, k = 5", lambda: metrics.density_coverage(real[0], fake.features, 5))


if __name__ == "__main__":
    main()
