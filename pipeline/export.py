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
    GRID_STREAM,
    INTERPOLATION_STREAM,
    generate,
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
    params: ExportParams, seed: int, generator_path: str | Path, out_dir: str | Path
) -> ExportPaths:
    """Write the grid, the interpolation strip and `samples.npz`.

    The samples are drawn from the same latent stream as the `evaluate`
    stage's, so with equal sample sizes they are the very images it scored.

    Args:
        params: the `export` params section.
        seed: the run's seed.
        generator_path: the trained generator (`.keras`).
        out_dir: the folder to write into.
    """
    paths = ExportPaths(Path(out_dir))
    generator = load_keras(generator_path)
    dim = latent_dim_of(generator)

    side = params.grid_size
    grid_images = generate(generator, latent_vectors(seed, side * side, dim, GRID_STREAM))
    save_png(make_grid(grid_images, side, side), paths.grid)

    rows, steps = params.interpolation_rows, params.interpolation_steps
    ends = latent_vectors(seed, 2 * rows, dim, INTERPOLATION_STREAM)
    path_latents = np.concatenate(
        [interpolate_latents(ends[2 * r], ends[2 * r + 1], steps) for r in range(rows)]
    ).astype(np.float32)
    save_png(make_grid(generate(generator, path_latents), rows, steps), paths.interpolation)

    latents = latent_vectors(seed, params.num_samples, dim, EVALUATION_STREAM)
    with atomic_file(paths.samples) as tmp:
        np.savez_compressed(tmp, images=generate(generator, latents), z=latents)
    return paths
