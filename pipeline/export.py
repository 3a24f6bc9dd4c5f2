"""Export a trained generator's samples: a grid, a latent interpolation strip and an .npz."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.evaluation.evaluate import load_keras
from pipeline.fileio import atomic_file
from pipeline.images import interpolate_latents, make_grid, save_png
from pipeline.params import ExportParams
from pipeline.sampling import (
    EVALUATION_STREAM,
    INTERPOLATION_STREAM,
    cycled_labels,
    generate,
    grid_inputs,
    is_conditional,
    latent_dim_of,
    latent_vectors,
)


@dataclass(frozen=True)
class ExportPaths:
    """The files one model's export writes."""

    out_dir: Path

    @property
    def grid(self) -> Path:
        return self.out_dir / "grid.png"

    @property
    def interpolation(self) -> Path:
        return self.out_dir / "interpolation.png"

    @property
    def samples(self) -> Path:
        return self.out_dir / "samples.npz"


def export_samples(
    params: ExportParams,
    seed: int,
    generator_path: str | Path,
    out_dir: str | Path,
    num_classes: int,
) -> ExportPaths:
    """Write the grid, the interpolation strip and `samples.npz`.

    The samples are drawn from the same latents (and, for a conditional
    generator, the same requested labels) as the `evaluate` stage's, so with
    equal sample sizes they are the very images it scored. A conditional
    grid has one row per class.

    Args:
        params: the `export` params section.
        seed: the run's seed.
        generator_path: the trained generator (`.keras`).
        out_dir: the folder to write into.
        num_classes: the dataset's classes, for a conditional generator.
    """
    paths = ExportPaths(Path(out_dir))
    generator = load_keras(generator_path)
    dim = latent_dim_of(generator)

    classes = num_classes if is_conditional(generator) else 0

    latents, labels, rows, cols = grid_inputs(seed, dim, params.grid_size, classes)
    save_png(make_grid(generate(generator, latents, labels), rows, cols), paths.grid)

    rows, steps = params.interpolation_rows, params.interpolation_steps
    ends = latent_vectors(seed, 2 * rows, dim, INTERPOLATION_STREAM)
    path_latents = np.concatenate(
        [interpolate_latents(ends[2 * r], ends[2 * r + 1], steps) for r in range(rows)]
    ).astype(np.float32)
    # A conditional row keeps one class while z moves.
    path_labels = np.repeat(cycled_labels(rows, classes), steps) if classes else None
    images = generate(generator, path_latents, path_labels)
    save_png(make_grid(images, rows, steps), paths.interpolation)

    latents = latent_vectors(seed, params.num_samples, dim, EVALUATION_STREAM)
    labels = cycled_labels(params.num_samples, classes) if classes else None
    arrays = {"images": generate(generator, latents, labels), "z": latents}
    if labels is not None:
        arrays["labels"] = labels
    with atomic_file(paths.samples) as tmp:
        np.savez_compressed(tmp, **arrays)
    return paths
