"""Export a trained generator: its samples (a grid, an interpolation strip, an .npz) and formats.

Beside the samples, `formats/` holds the generator as a TensorFlow
SavedModel and as ONNX, each loaded back and checked against the Keras
model (`pipeline.formats`; `export.formats` chooses).


A noise-to-image generator interpolates in its latent space
(`export_samples`); an image-to-image one translates test inputs and blends
them (`export_translations`). Both write the same three files, which dvc.yaml
declares for every model, through one staging-and-publish step.

A noise generator (a coupled pair too) also writes `truncation.png` when
`export.truncation` lists thresholds: one row per threshold, the same latents
truncated in each (BigGAN's quality-against-variety figure). It is not a DVC
output: dvc.yaml declares the same files for every model, and an
image-to-image generator, which draws no latent, has none. The export's
MLflow run keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.data import verify_prepared
from pipeline.data.pairs import domain_shape
from pipeline.errors import PipelineError
from pipeline.fileio import atomic_dir
from pipeline.formats import write_formats
from pipeline.images import interpolate_latents, make_grid, row_groups, rows_grid, save_png
from pipeline.params import ExportParams
from pipeline.sampling import (
    EVALUATION_STREAM,
    GRID_STREAM,
    INTERPOLATION_STREAM,
    TRUNCATION_STREAM,
    code_sweep_inputs,
    cycled_labels,
    generate,
    grid_inputs,
    is_conditional,
    latent_dim_of,
    latent_vectors,
    translate,
)
from pipeline.saved_models import (
    SECOND_GENERATOR,
    check_generator,
    check_translator,
    code_values,
    load_coupled_pair,
    load_keras,
    require_finite,
    takes_code,
)
from pipeline.truncation import truncation


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

    @property
    def formats(self) -> Path:
        """The generator as a SavedModel and ONNX, and their checks (`pipeline.formats`)."""
        return self.out_dir / "formats"

    @property
    def truncation(self) -> Path:
        """Written only for a noise generator with `export.truncation` set."""
        return self.out_dir / "truncation.png"

    def written(self) -> list[Path]:
        """What is there: the four every export writes, and `truncation.png` if written."""
        extra = [self.truncation] if self.truncation.is_file() else []
        return [self.grid, self.interpolation, self.samples, self.formats, *extra]


def export_samples(
    params: ExportParams,
    seed: int,
    generator_path: str | Path,
    out_dir: str | Path,
    data_dir: str | Path,
    before_publish: Callable[[ExportPaths], None] | None = None,
    continuous_codes: int = 0,
) -> ExportPaths:
    """Write the grid, the interpolation strip and `samples.npz`, replacing `out_dir` at once.

    The samples are drawn from the same latents (and, for a conditional
    generator, the same requested labels) as the `evaluate` stage's, so with
    equal sample sizes they are the very images it scored. A conditional
    grid has one row per class (InfoGAN's: per value of its code). With
    `params.truncation` set, `truncation.png` has a row per threshold
    (`truncation_row`; a StyleGAN's rows are truncated in w,
    `pipeline.truncation`). InfoGAN's `interpolation.png`, when it has
    continuous codes, is the paper's figure instead of a path in z: each
    code swept per category (`code_sweep_inputs`). The inputs are checked
    first and a generator whose images are not finite is refused; until
    everything is written, `out_dir` keeps its old content.

    Args:
        params: the `export` params section.
        seed: the run's seed.
        generator_path: the trained generator (`.keras`).
        out_dir: the folder to write.
        data_dir: the prepared dataset (its shape and classes).
        before_publish: called with the staged files before they replace
            `out_dir` (e.g. to log them to MLflow); if it fails, nothing moves.
        continuous_codes: InfoGAN's continuous codes at the end of z, from
            task.json (`pipeline.task_file.continuous_codes`); 0 for none.

    Returns:
        The paths of the published files.
    """
    info = verify_prepared(data_dir)
    generator = load_keras(generator_path, "generator")
    check_generator(generator, generator_path, info.image_shape)
    dim = latent_dim_of(generator)
    classes = info.num_classes if is_conditional(generator) else 0
    if takes_code(generator):
        classes = code_values(generator)  # InfoGAN: a row per value of its code

    def draw(latents: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        return require_finite(generate(generator, latents, labels), generator_path)

    def write(staged: ExportPaths) -> None:
        latents, labels, rows, cols = grid_inputs(
            seed, dim, params.grid_size, classes, continuous_codes=continuous_codes
        )
        save_png(make_grid(draw(latents, labels), rows, cols, groups=labels), staged.grid)

        if continuous_codes:
            steps = params.interpolation_steps
            sweep = code_sweep_inputs(seed, dim, classes, continuous_codes, steps)
            latents, labels, rows, cols = sweep
        else:
            latents, labels, rows, cols = interpolation_inputs(seed, dim, params, classes)
        # Points: a colour per path (or sweep row).
        grid = make_grid(draw(latents, labels), rows, cols, groups=row_groups(rows, cols))
        save_png(grid, staged.interpolation)

        latents = latent_vectors(
            seed, params.num_samples, dim, EVALUATION_STREAM, continuous_codes=continuous_codes
        )
        labels = cycled_labels(params.num_samples, classes) if classes else None
        arrays = {"images": draw(latents, labels), "z": latents}
        if labels is not None:
            arrays["labels"] = labels
        np.savez_compressed(staged.samples, **arrays)
        checked = [latents] if labels is None else [latents, labels]
        write_formats(Path(generator_path), checked, staged.formats, params.formats)

        if params.truncation:
            images = []
            for psi in params.truncation:  # a StyleGAN truncates its w, the others their z
                with truncation(generator, psi, seed, classes) as z_psi:
                    columns = params.grid_size
                    row = truncation_row(seed, dim, columns, z_psi, classes, continuous_codes)
                    images.append(draw(*row))
            rows, cols = len(params.truncation), params.grid_size
            grid = make_grid(np.concatenate(images), rows, cols, groups=row_groups(rows, cols))
            save_png(grid, staged.truncation)

    return _publish(out_dir, write, before_publish)


def interpolation_inputs(
    seed: int, latent_dim: int, params: ExportParams, num_classes: int = 0
) -> tuple[np.ndarray, np.ndarray | None, int, int]:
    """The inputs of `interpolation.png`: `params.interpolation_rows` straight paths in z,
    `params.interpolation_steps` each; a conditional row keeps one class while z moves.

    Returns:
        (latents, labels or None, rows, columns), row by row.
    """
    rows, steps = params.interpolation_rows, params.interpolation_steps
    ends = latent_vectors(seed, 2 * rows, latent_dim, INTERPOLATION_STREAM)
    latents = np.concatenate(
        [interpolate_latents(ends[2 * r], ends[2 * r + 1], steps) for r in range(rows)]
    ).astype(np.float32)
    labels = np.repeat(cycled_labels(rows, num_classes), steps) if num_classes else None
    return latents, labels, rows, steps


def truncation_row(
    seed: int,
    latent_dim: int,
    columns: int,
    psi: float | None,
    num_classes: int = 0,
    continuous_codes: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One row of `truncation.png`'s inputs: the first `columns` latents of
    `TRUNCATION_STREAM`, truncated at `psi` (None: as drawn, for a generator that
    truncates its w), and a conditional column's class (0, 1, ..., cycled)."""
    latents = latent_vectors(seed, columns, latent_dim, TRUNCATION_STREAM, psi, continuous_codes)
    return latents, cycled_labels(columns, num_classes) if num_classes else None


def truncation_inputs(
    seed: int,
    latent_dim: int,
    params: ExportParams,
    num_classes: int = 0,
    continuous_codes: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The inputs of `truncation.png` for a generator that truncates z, row by row:
    `params.grid_size` latents, truncated at each of `params.truncation` in turn.

    Every row starts from the same draws of `TRUNCATION_STREAM`, and truncation
    keeps the components already inside, so a column is one latent at every
    threshold. A conditional column keeps one class in every row.

    Returns:
        (latents, labels or None), `len(params.truncation) * params.grid_size` of each.
    """
    rows = [
        truncation_row(seed, latent_dim, params.grid_size, psi, num_classes, continuous_codes)
        for psi in params.truncation
    ]
    labels = None if rows[0][1] is None else np.concatenate([row[1] for row in rows])
    return np.concatenate([row[0] for row in rows]), labels


def export_translations(
    params: ExportParams,
    generator_path: str | Path,
    out_dir: str | Path,
    inputs: np.ndarray,
    targets: np.ndarray,
    before_publish: Callable[[ExportPaths], None] | None = None,
) -> ExportPaths:
    """Write an image-to-image generator's grid, interpolation strip and `samples.npz`.

    The translation counterpart of `export_samples`, on the test pairs in
    their order (no seed: nothing is drawn). `grid.png` has
    `params.grid_size` pairs in columns and three rows: inputs, outputs,
    targets, each pixel-repeated to the largest size (a super-resolution
    input is shown at the output's size). `interpolation.png` blends two
    test inputs linearly over `params.interpolation_steps` steps, one pair
    per row (inputs 0 and 1, 2 and 3, ...; cycled when there are too few),
    each row of blends above its translations: a generator that is smooth in
    its input changes its output gradually along the blend, while one that
    memorised its training pairs or ignores its input jumps between outputs
    or stays put. `samples.npz` holds `inputs`, `outputs` and `targets`
    (float32 in [-1, 1]) of the first `params.num_samples` pairs, or of every
    pair when the test split has fewer.

    The generator is checked first (it loads, takes one image input of the
    inputs' shape, makes images of the targets' shape, has finite weights)
    and its outputs must be finite; until everything is written, `out_dir`
    keeps its old content.

    Args:
        params: the `export` params section.
        generator_path: the trained generator (`.keras`).
        out_dir: the folder to write.
        inputs: the test inputs, float32 NHWC in [-1, 1].
        targets: their targets, same count, NHWC in [-1, 1].
        before_publish: called with the staged files before they replace
            `out_dir` (e.g. to log them to MLflow); if it fails, nothing moves.

    Returns:
        The paths of the published files.
    """
    inputs, targets = _check_pairs(inputs, targets)
    generator = load_keras(generator_path, "generator")
    made = check_translator(generator, generator_path, inputs.shape[1:])
    if made != targets.shape[1:]:
        raise PipelineError(
            f"{generator_path}: makes images of shape {made}, but the targets have "
            f"{targets.shape[1:]}; retrain it on this data (`dvc repro`)"
        )

    def run(images: np.ndarray) -> np.ndarray:
        return require_finite(translate(generator, images), generator_path)

    def write(staged: ExportPaths) -> None:
        # Translated once: the grid's pairs are among the first of the samples'.
        outputs = run(inputs[: max(params.grid_size, params.num_samples)])
        shown, kept = slice(0, params.grid_size), slice(0, params.num_samples)
        save_png(rows_grid([inputs[shown], outputs[shown], targets[shown]]), staged.grid)

        blends = _input_blends(inputs, params.interpolation_rows, params.interpolation_steps)
        strip = [part for row in blends for part in (row, run(row))]
        save_png(rows_grid(strip), staged.interpolation)

        arrays = {"inputs": inputs[kept], "outputs": outputs[kept], "targets": targets[kept]}
        np.savez_compressed(staged.samples, **arrays)
        write_formats(Path(generator_path), [inputs], staged.formats, params.formats)

    return _publish(out_dir, write, before_publish)


def export_coupled(
    params: ExportParams,
    seed: int,
    task: dict[str, Any],
    generator_path: str | Path,
    networks_dir: str | Path,
    out_dir: str | Path,
    data_dir: str | Path,
    before_publish: Callable[[ExportPaths], None] | None = None,
) -> ExportPaths:
    """Write a coupled pair's grid, interpolation strip and `samples.npz` (CoGAN).

    `grid.png` is the paper's figure: a column per z, G1(z) above G2(z),
    `params.grid_size // 2` such pairs of rows (at least one).
    `interpolation.png` walks the latent space between two points per pair of
    rows, shown in both domains: the two rows change together where the pair
    is coupled. `samples.npz` holds `z`, `first` and `second` (float32 in
    [-1, 1]) of the evaluation's latents, so with equal sample sizes they are
    the images `evaluate` scored. With `params.truncation` set,
    `truncation.png` has a pair of rows (G1 above G2) per threshold, the
    latents of `truncation_inputs`. Both generators are checked first (each
    makes its domain's images, both take one z); their images must be finite.

    Args:
        params: the `export` params section.
        seed: the run's seed.
        task: the model's task.json: its two domains.
        generator_path: G1 (`.keras`).
        networks_dir: the model's other networks; G2 is `second_generator.keras`.
        out_dir: the folder to write.
        data_dir: the prepared dataset (the domains' shapes).
        before_publish: called with the staged files before they replace
            `out_dir`; if it fails, nothing moves.
    """
    info = verify_prepared(data_dir)
    shapes = (domain_shape(info, task["first"]), domain_shape(info, task["second"]))
    generators = load_coupled_pair(generator_path, networks_dir, shapes)
    generator_paths = (Path(generator_path), Path(networks_dir) / SECOND_GENERATOR)
    dim = latent_dim_of(generators[0])

    def draw(latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return tuple(  # type: ignore[return-value]
            require_finite(generate(generator, latents), path)
            for generator, path in zip(generators, generator_paths, strict=True)
        )

    def both_domains(latents: np.ndarray, rows: int) -> np.ndarray:
        pairs = [draw(part) for part in np.split(latents, rows)]
        return rows_grid([images for pair in pairs for images in pair])

    def write(staged: ExportPaths) -> None:
        rows = max(1, params.grid_size // 2)
        latents = latent_vectors(seed, rows * params.grid_size, dim, GRID_STREAM)
        save_png(both_domains(latents, rows), staged.grid)

        path_latents, _, rows, _ = interpolation_inputs(seed, dim, params)
        save_png(both_domains(path_latents, rows), staged.interpolation)

        latents = latent_vectors(seed, params.num_samples, dim, EVALUATION_STREAM)
        first, second = draw(latents)
        np.savez_compressed(staged.samples, z=latents, first=first, second=second)
        # The first generator: the second is the same network with its own head.
        write_formats(generator_paths[0], [latents], staged.formats, params.formats)

        if params.truncation:
            latents, _ = truncation_inputs(seed, dim, params)
            save_png(both_domains(latents, len(params.truncation)), staged.truncation)

    return _publish(out_dir, write, before_publish)


def _check_pairs(inputs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The test pairs as float32 NHWC, or one line saying why they cannot be exported."""
    inputs = np.asarray(inputs, dtype=np.float32)
    targets = np.asarray(targets, dtype=np.float32)
    for name, images in (("inputs", inputs), ("targets", targets)):
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise PipelineError(
                f"export: test {name} have shape {images.shape}; expected (N, H, W, 1 or 3)"
            )
    if len(inputs) != len(targets):
        raise PipelineError(
            f"export: {len(inputs)} test inputs but {len(targets)} targets; expected pairs"
        )
    if len(inputs) < 2:
        raise PipelineError(
            f"export: {len(inputs)} test pairs; an interpolation needs at least 2 inputs"
        )
    return inputs, targets


def _input_blends(inputs: np.ndarray, rows: int, steps: int) -> list[np.ndarray]:
    """`rows` linear blends of `steps` images, between inputs 2r and 2r + 1 (cycled)."""
    shape, count = inputs.shape[1:], len(inputs)
    blends = []
    for r in range(rows):
        start, end = inputs[(2 * r) % count], inputs[(2 * r + 1) % count]
        path = interpolate_latents(start.ravel(), end.ravel(), steps, method="linear")
        blends.append(path.reshape(steps, *shape).astype(np.float32))
    return blends


def _publish(
    out_dir: str | Path,
    write: Callable[[ExportPaths], None],
    before_publish: Callable[[ExportPaths], None] | None,
) -> ExportPaths:
    """Have `write` fill a staging folder, hand it to `before_publish`, then replace `out_dir`.

    The one publish step of both exports: a failure anywhere, in `write` or
    in `before_publish` (the MLflow logging), leaves the old `out_dir` as it was.
    """
    with atomic_dir(out_dir) as staging:
        staged = ExportPaths(staging)
        write(staged)
        if before_publish is not None:
            before_publish(staged)
    return ExportPaths(Path(out_dir))
