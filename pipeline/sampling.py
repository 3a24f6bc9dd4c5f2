"""Seeded generator inputs and batched generation or translation, for train, evaluate, export."""

from __future__ import annotations

import math

import keras
import numpy as np

# Distinct streams from one seed, so a grid and an evaluation never share noise by accident.
GRID_STREAM = 1
EVALUATION_STREAM = 2
INTERPOLATION_STREAM = 3
GENERATE_STREAM = 4  # python -m pipeline.generate: fresh samples, not the scored ones
TRUNCATION_STREAM = 5  # export's truncation.png
W_AVERAGE_STREAM = 6  # the z's a StyleGAN's w_avg is the mean over (pipeline.truncation)

# InfoGAN's continuous codes are drawn uniform in [-1, 1] in training (`pipeline.models.
# conditioning.info`); its code sweep (export's interpolation.png) goes further, as the paper's.
CODE_RANGE = (-1.0, 1.0)
CODE_SWEEP_RANGE = (-2.0, 2.0)

# Candidates drawn at once while resampling truncated components: 4 MB of float32.
RESAMPLE_CHUNK = 1 << 20


def latent_vectors(
    seed: int,
    count: int,
    latent_dim: int,
    stream: int = EVALUATION_STREAM,
    truncation: float | None = None,
    continuous_codes: int = 0,
) -> np.ndarray:
    """`count` standard normal latent vectors, a pure function of (seed, stream, truncation, codes).

    Every generator here trains on z ~ N(0, I) (`sample_latents` in
    `pipeline/models/`), so truncation here is BigGAN's for a normal latent:
    `truncated_normal` (a StyleGAN truncates its w instead, and is given
    untruncated z: `pipeline.truncation`). Without it the vectors are exactly those drawn
    before truncation existed. Vector i never depends on `count`, truncated
    or not: the first ten of 1,000 are the ten of 10.

    Args:
        seed: the run's seed from params.
        count: how many vectors.
        latent_dim: their size.
        stream: which independent stream of that seed to draw from.
        truncation: None, or the threshold psi > 0 that every component's
            magnitude is brought within.
        continuous_codes: InfoGAN's continuous codes, the last entries of
            its z: drawn uniform in `CODE_RANGE`, as in training, from their
            own stream (the noise entries are those of the same call without
            codes, truncated alike). 0 for every other generator.
    """
    rng = np.random.default_rng([seed, stream])
    latents = rng.standard_normal((count, latent_dim), dtype=np.float32)
    if truncation is not None:
        latents = truncated_normal(latents, truncation, _child_stream(seed, stream, 0))
    if continuous_codes:
        codes = _child_stream(seed, stream, 1).uniform(*CODE_RANGE, (count, continuous_codes))
        latents[:, latent_dim - continuous_codes :] = codes
    return latents


def truncated_normal(latents: np.ndarray, threshold: float, rng: np.random.Generator) -> np.ndarray:
    """BigGAN's truncation trick: each component with |z| > threshold is redrawn until inside.

    Components already inside are kept, so the same latents truncated at
    several thresholds differ only where they were large. The outside ones,
    in row-major order, take the accepted draws of `rng` in turn, which is
    the same as redrawing each until it lands inside: the result follows a
    standard normal truncated to [-threshold, threshold], and the values
    given to the first k vectors do not depend on how many follow.

    Args:
        latents: float32 standard normal draws, any shape; not modified.
        threshold: psi > 0. The cost is about (components outside) / P(|z| <= psi)
            draws: 30 per component at psi = 0.04.
        rng: where the redraws come from.

    Returns:
        A float32 copy of `latents` with every |component| <= threshold.
    """
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"truncation threshold {threshold!r} (allowed: a finite number > 0)")
    bound = _float32_at_most(threshold)
    flat = np.array(latents, dtype=np.float32).ravel()
    outside = np.flatnonzero(np.abs(flat) > bound)
    accepted = math.erf(threshold / math.sqrt(2.0))  # P(|z| <= threshold)
    filled = 0
    while filled < len(outside):
        need = len(outside) - filled
        draws = min(RESAMPLE_CHUNK, int(need / accepted * 1.1) + 64)
        candidates = rng.standard_normal(draws, dtype=np.float32)
        inside = candidates[np.abs(candidates) <= bound][:need]
        flat[outside[filled : filled + len(inside)]] = inside
        filled += len(inside)
    return flat.reshape(np.shape(latents))


def _child_stream(seed: int, stream: int, child: int) -> np.random.Generator:
    """A child of (seed, stream)'s seed sequence: 0 the truncation's redraws, 1 InfoGAN's codes.

    Not the latents' own generator: there, these draws would start after all
    `count` vectors, so vector i's values would depend on `count`.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, stream], spawn_key=(child,)))


def _float32_at_most(value: float) -> np.float32:
    """The largest float32 <= value: a float32 |z| within it is within `value` exactly."""
    bound = np.float32(value)
    return bound if bound <= value else np.nextafter(bound, np.float32(-np.inf))


def code_sweep_inputs(
    seed: int, latent_dim: int, categories: int, continuous_codes: int, steps: int
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """InfoGAN's figure: each continuous code swept over `CODE_SWEEP_RANGE`, per category.

    A block of rows per continuous code, a row per value of the categorical
    code, `steps` columns from the sweep's low end to its high end. Row k of
    every block starts from the same noise (the interpolation stream's
    vector k) with the other continuous codes at 0, so along a row only the
    swept code moves, and between blocks only which code it is.

    Returns:
        (latents, codes, rows, columns), row by row.
    """
    noise = latent_vectors(seed, categories, latent_dim, INTERPOLATION_STREAM)
    noise[:, latent_dim - continuous_codes :] = 0.0
    sweep = np.linspace(*CODE_SWEEP_RANGE, steps, dtype=np.float32)
    blocks = []
    for code in range(continuous_codes):
        block = np.repeat(noise, steps, axis=0)
        block[:, latent_dim - continuous_codes + code] = np.tile(sweep, categories)
        blocks.append(block)
    codes = np.tile(np.repeat(np.arange(categories, dtype=np.int32), steps), continuous_codes)
    return np.concatenate(blocks), codes, categories * continuous_codes, steps


def cycled_labels(count: int, num_classes: int) -> np.ndarray:
    """0, 1, ..., K-1, 0, 1, ...: every class asked for equally often."""
    return (np.arange(count) % num_classes).astype(np.int32)


def grid_inputs(
    seed: int,
    latent_dim: int,
    grid_size: int,
    num_classes: int = 0,
    stream: int = GRID_STREAM,
    continuous_codes: int = 0,
) -> tuple[np.ndarray, np.ndarray | None, int, int]:
    """Generator inputs for a sample grid, and its shape.

    Unconditional: `grid_size` x `grid_size` samples. Conditional: one row
    per class (or per value of InfoGAN's categorical code), `grid_size`
    samples each (the CGAN paper's figure).

    Returns:
        (latents, labels or None, rows, columns), row by row.
    """
    rows = num_classes or grid_size
    latents = latent_vectors(
        seed, rows * grid_size, latent_dim, stream, continuous_codes=continuous_codes
    )
    if not num_classes:
        return latents, None, grid_size, grid_size
    labels = np.repeat(np.arange(num_classes, dtype=np.int32), grid_size)
    return latents, labels, num_classes, grid_size


def generate(
    generator: keras.Model,
    latents: np.ndarray,
    labels: np.ndarray | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Run the generator over `latents` (and `labels`) in batches.

    Returns:
        float32 images in [-1, 1].
    """
    batches = []
    for start in range(0, len(latents), batch_size):
        part = slice(start, start + batch_size)
        inputs = latents[part] if labels is None else [latents[part], labels[part]]
        batches.append(np.asarray(generator(inputs, training=False)))
    return np.concatenate(batches).astype(np.float32)


def translate(generator: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Run an image-to-image generator over `images` (NHWC in [-1, 1]) in batches.

    Returns:
        float32 images, as the generator makes them (nominally in [-1, 1]).
    """
    return generate(generator, images, batch_size=batch_size)


def latent_dim_of(generator: keras.Model) -> int:
    """The size of the generator's latent input."""
    return int(generator.inputs[0].shape[-1])


def is_conditional(generator: keras.Model) -> bool:
    """Whether the generator takes a class label besides z."""
    return len(generator.inputs) > 1


def is_translator(generator: keras.Model) -> bool:
    """Whether the model maps images to images (one rank-4 input) rather than noise to images."""
    return len(generator.inputs) == 1 and len(generator.inputs[0].shape) == 4
