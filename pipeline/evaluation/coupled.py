"""Score a coupled pair of generators (CoGAN): do G1(z) and G2(z) show one scene?

The paper's check is the pixel agreement ratio: G1's image mapped into the
second domain by that domain's own transform (the code `prepare` derived the
domain with) against G2's image of the same z, both binarised. Its baseline
is G2's image of an independent z: what two GANs trained apart agree by
chance. Beside it, G1's samples as a sample of the evaluator's domain (the
`output_fid`), beside the real test images' (the floor, as for the noise
models).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from pipeline.data import load_arrays, verify_prepared
from pipeline.data.domains import DOMAINS
from pipeline.data.pairs import domain_shape
from pipeline.data.stream import scaled
from pipeline.evaluation.evaluate import Scorer, check_sample_sizes, embed_reference
from pipeline.evaluation.features import embed, feature_extractor
from pipeline.evaluation.translation_suite import Translated, translation_scores, with_baselines
from pipeline.params import EvaluateParams
from pipeline.sampling import generate, latent_dim_of, latent_vectors
from pipeline.saved_models import SECOND_GENERATOR, load_coupled_pair, load_keras, require_finite

# The metrics of a coupled pair, in the metrics files' order.
COUPLED_SCORES = ("pixel_agreement", "foreground_agreement", "output_fid")
# The independent z of the baseline, apart from the evaluation's own stream.
UNCOUPLED_STREAM = 5


def to_domain(images: np.ndarray, domain: str, seed: int) -> np.ndarray:
    """Generated images in [-1, 1] as `domain` derives them: uint8, its transform, [-1, 1].

    Uses the domain registry's transform, the code `prepare` ran; a domain
    that draws (none of the coupled ones) draws from a generator of `seed`.
    """
    pixels = np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return scaled(DOMAINS[domain].transform(pixels, np.random.default_rng(seed)))


def agreement_pair(
    first: keras.Model, second: keras.Model, domain: str, latents: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(G2's images, G1's images mapped into `domain`) of the same latents."""
    return generate(second, latents), to_domain(generate(first, latents), domain, seed)


def coupled_scorer(
    domain: str,
    seed: int,
    num_samples: int,
    second: keras.Model,
    first_scorer: Scorer | None = None,
) -> Scorer:
    """The cheap metrics during training: the pixel agreement of G1 and `second` (G2) on
    the seed's latents, and `first_scorer`'s scores of G1 (the evaluator's) when given."""

    def score(generator: keras.Model) -> dict[str, float]:
        latents = latent_vectors(seed, num_samples, latent_dim_of(generator))
        outputs, targets = agreement_pair(generator, second, domain, latents, seed)
        cheap = translation_scores(Translated(outputs, targets), True, COUPLED_SCORES)
        return {**(first_scorer(generator) if first_scorer else {}), **cheap}

    return score


def evaluate_coupled(
    params: EvaluateParams,
    seed: int,
    task: dict[str, Any],
    data_dir: str | Path,
    generator_path: str | Path,
    networks_dir: str | Path,
    classifier_path: str | Path,
) -> dict[str, float | int]:
    """The pixel agreement and G1's domain FID on `num_samples` latents, beside their baselines.

    Args:
        params: the `evaluate` params section.
        seed: the run's seed; fixes the latents (export draws the same ones).
        task: the model's task.json: its two domains.
        data_dir: the prepared dataset.
        generator_path: G1 (`.keras`), the first domain's.
        networks_dir: the model's other networks; G2 is `second_generator.keras`.
        classifier_path: the evaluator, whose features give G1's FID.

    Returns:
        Each metric and `<name>_baseline` (the pixel agreement of an independent
        z; the FID of real test images), then `num_samples`.

    Raises:
        PipelineError: a bad input, in one line.
    """
    info = verify_prepared(data_dir)
    check_sample_sizes(params, info)
    first_domain, second_domain = task["first"], task["second"]
    shapes = (domain_shape(info, first_domain), domain_shape(info, second_domain))
    first, second = load_coupled_pair(generator_path, networks_dir, shapes)
    extractor = feature_extractor(load_keras(classifier_path, "evaluator"))

    n, dim = params.num_samples, latent_dim_of(first)
    latents = latent_vectors(seed, n, dim)
    samples = require_finite(generate(first, latents, batch_size=params.batch_size), generator_path)
    outputs = require_finite(generate(second, latents), Path(networks_dir) / SECOND_GENERATOR)
    targets = to_domain(samples, second_domain, seed)
    independent = generate(second, latent_vectors(seed, n, dim, UNCOUPLED_STREAM))

    reference = embed_reference(extractor, data_dir, info, n, params.batch_size).features
    test_images, _ = load_arrays(data_dir, "test", limit=n)
    features = embed(extractor, samples, params.batch_size)[0]
    real_features = embed(extractor, test_images, params.batch_size)[0]
    scores = translation_scores(
        Translated(outputs, targets, features=features, reference=reference), names=COUPLED_SCORES
    )
    baseline = translation_scores(
        Translated(independent, targets, features=real_features, reference=reference),
        names=COUPLED_SCORES,
    )
    return {**with_baselines(scores, baseline), "num_samples": n}
