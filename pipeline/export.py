"""Export a trained generator's samples: a grid, a latent interpolation strip and an .npz."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data import verify_prepared
from pipeline.fileio import atomic_dir
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
from pipeline.saved_models import check_generator, load_keras, require_finite


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
    data_dir: str | Path,
    before_publish: Callable[[ExportPaths], None] | None = None,
) -> ExportPaths:
    """Write the grid, the interpolation strip and `samples.npz`, replacing `out_dir` at once.

    The samples are drawn from the same latents (and, for a conditional
    generator, the same requested labels) as the `evaluate` stage's, so with
    equal sample sizes they are the very images it scored. A conditional
    grid has one row per class. The inputs are checked first and a
    generator whose images are not finite is refused; until everything is
    written, `out_dir` keeps its old content.

    Args:
        params: the `export` params section.
        seed: the run's seed.
        generator_path: the trained generator (`.keras`).
        out_dir: the folder to write.
        data_dir: the prepared dataset (its shape and classes).
        before_publish: called with the staged files before they replace
            `out_dir` (e.g. to log them to MLflow); if it fails, nothing moves.

    Returns:
        The paths of the published files.
    """
    info = verify_prepared(data_dir)
    generator = load_keras(generator_path, "generator")
    check_generator(generator, generator_path, info.image_shape)
    dim = latent_dim_of(generator)
    classes = info.num_classes if is_conditional(generator) else 0

    def draw(latents: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        return require_finite(generate(generator, latents, labels), generator_path)

    with atomic_dir(out_dir) as staging:
        staged = ExportPaths(staging)
        latents, labels, rows, cols = grid_inputs(seed, dim, params.grid_size, classes)
        save_png(make_grid(draw(latents, labels), rows, cols), staged.grid)

        rows, steps = params.interpolation_rows, params.interpolation_steps
        ends = latent_vectors(seed, 2 * rows, dim, INTERPOLATION_STREAM)
        path_latents = np.concatenate(
            [interpolate_latents(ends[2 * r], ends[2 * r + 1], steps) for r in range(rows)]
        ).astype(np.float32)
        # A conditional row keeps one class while z moves.
        path_labels = np.repeat(cycled_labels(rows, classes), steps) if classes else None
        save_png(make_grid(draw(path_latents, path_labels), rows, steps), staged.interpolation)

        latents = latent_vectors(seed, params.num_samples, dim, EVALUATION_STREAM)
        labels = cycled_labels(params.num_samples, classes) if classes else None
        arrays = {"images": draw(latents, labels), "z": latents}
        if labels is not None:
            arrays["labels"] = labels
        np.savez_compressed(staged.samples, **arrays)
        if before_publish is not None:
            before_publish(staged)
    return ExportPaths(Path(out_dir))
