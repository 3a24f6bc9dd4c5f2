"""What a noise-to-image generator is given: seeded latents, the labels, its images' names.

The same model, seed, truncation and labels give the same images: the
latents come from the seeded stream `pipeline.sampling.GENERATE_STREAM`, and
image i always gets latent i, so the latents of `-n 10` are the first ten of
`-n 1000` (with `--truncation` too), and `--label 3` draws the same latents as
the default labels.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np

from pipeline.errors import PipelineError
from pipeline.generation.models import GeneratorSpec
from pipeline.sampling import GENERATE_STREAM, cycled_labels, generate, latent_vectors
from pipeline.saved_models import require_finite

NAME_DIGITS = 5  # 00000.png ... 99999.png sort by index


def generator_inputs(
    seed: int,
    count: int,
    labels: tuple[int, ...] | None,
    spec: GeneratorSpec,
    model: str,
    truncation: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The seeded latents and the labels (None for an unconditional generator).

    Args:
        seed: the latents' seed.
        count: how many images.
        labels: the requested labels, cycled over the images; None: every class in turn.
        spec: the loaded generator.
        model: the model as the user named it, for messages.
        truncation: BigGAN's threshold psi for the latents; None: as drawn.
    """
    if labels is not None and not spec.num_classes:
        raise PipelineError(
            f"--label: {model} is an unconditional generator (takes no label); "
            "allowed: drop --label"
        )
    wrong = [k for k in labels or () if k >= spec.num_classes]
    if wrong:
        raise PipelineError(
            f"--label: {wrong[0]} is not a class of {model} (allowed: 0 to {spec.num_classes - 1})"
        )
    latents = latent_vectors(seed, count, spec.latent_dim, GENERATE_STREAM, truncation)
    if not spec.num_classes:
        return latents, None
    if labels is None:
        return latents, cycled_labels(count, spec.num_classes)
    return latents, np.resize(np.asarray(labels, dtype=np.int32), count)


def image_name(index: int, label: int | None, count: int) -> str:
    """`00012.png`, or `00012_label3.png` for a conditional generator."""
    digits = max(NAME_DIGITS, len(str(count - 1)))
    suffix = "" if label is None else f"_label{label}"
    return f"{index:0{digits}d}{suffix}.png"


def image_names(labels: np.ndarray | None, count: int) -> list[str]:
    """Every image's file name, in order."""
    return [image_name(i, None if labels is None else int(labels[i]), count) for i in range(count)]


def generated_batches(
    generator: keras.Model,
    latents: np.ndarray,
    labels: np.ndarray | None,
    batch_size: int,
    model: str,
) -> Iterator[np.ndarray]:
    """The images as float32 batches in the generator's range, checked finite, one batch at a
    time (a folder of 100,000 PNGs never holds them all in memory)."""
    for start in range(0, len(latents), batch_size):
        part = slice(start, start + batch_size)
        part_labels = None if labels is None else labels[part]
        images = generate(generator, latents[part], part_labels, batch_size)
        yield require_finite(images, model)
