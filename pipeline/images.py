"""Image export helpers: sample grids, grids of rows of mixed sizes, PNG files and interpolation.

A "grid" of points (samples of shape (1, 1, 2), the `ring` source's) is a
scatter plot of them: the picture a person reads a mode collapse from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from pipeline.fileio import atomic_file

# Below this sine of the angle between two latents slerp divides by ~0;
# linear interpolation is then the same path up to round-off.
_PARALLEL_EPS = 1e-6

# What a sample of 2-D points is (the `ring` source's): a 1x1 "image" of two coordinates.
POINT_SHAPE = (1, 1, 2)
# A scatter plot of 2-D points: the square [-1, 1]^2 (G's tanh range) in this
# many pixels, each point a dot of this many pixels across.
SCATTER_PIXELS = 256
SCATTER_DOT = 3
# One colour per grid row (a class, an interpolation path, a truncation
# threshold); Tableau's ten, repeated.
SCATTER_COLOURS = np.array(
    [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ],
    dtype=np.uint8,
)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Map images from [-1, 1] to uint8 [0, 255], clipping values outside.

    Args:
        images: float array of any shape, nominally in [-1, 1].

    Returns:
        uint8 array of the same shape; -1 maps to 0 and 1 to 255.
    """
    scaled = (np.asarray(images, dtype=np.float64) + 1.0) * 127.5
    return np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)


def make_grid(
    images: np.ndarray,
    rows: int,
    cols: int,
    pad: int = 2,
    fill: int = 255,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Tile images into one picture, row by row.

    Args:
        images: NHWC (or NHW) floats in [-1, 1], with 1 or 3 channels; or
            points, (N, 1, 1, 2), drawn as one scatter plot (`scatter_plot`).
        rows: number of grid rows.
        cols: number of grid columns.
        pad: pixels between cells and around the border.
        fill: uint8 value of the padding and of cells with no image; white
            by default so that cells stand out against MNIST's black background.
        groups: points only: a group per point (its class, its interpolation
            path, its truncation threshold), a colour each; None: one colour.

    Returns:
        uint8 array of shape (rows * (H + pad) + pad, cols * (W + pad) + pad, C),
        C the input's channel count (grayscale stays grayscale); for points,
        the scatter plot.

    Raises:
        ValueError: bad shape, or more images than `rows * cols`.
    """
    images = np.asarray(images)
    if is_points(images):
        if len(images) > rows * cols:
            raise ValueError(f"points: {len(images)} do not fit {rows} rows of {cols}")
        return scatter_plot(images.reshape(-1, 2), groups)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images: expected NHWC with 1 or 3 channels, got shape {images.shape}")
    if rows < 1 or cols < 1 or pad < 0:
        raise ValueError(
            f"grid: rows and cols must be >= 1 and pad >= 0, got {rows}, {cols}, {pad}"
        )
    count, height, width, channels = images.shape
    if count > rows * cols:
        raise ValueError(f"images: {count} do not fit a {rows}x{cols} grid")
    grid = np.full(
        (rows * (height + pad) + pad, cols * (width + pad) + pad, channels), fill, dtype=np.uint8
    )
    for index, image in enumerate(to_uint8(images)):
        row, col = divmod(index, cols)
        top, left = pad + row * (height + pad), pad + col * (width + pad)
        grid[top : top + height, left : left + width] = image
    return grid


def is_points(samples: np.ndarray) -> bool:
    """Whether samples are 2-D points, (N, *POINT_SHAPE), rather than images."""
    return samples.ndim == 4 and samples.shape[1:] == POINT_SHAPE


def row_groups(rows: int, cols: int) -> np.ndarray:
    """A group per grid row, for `make_grid`'s `groups`: each row of points its own colour."""
    return np.repeat(np.arange(rows), cols)


def scatter_plot(points: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Points of [-1, 1]^2 as dots on a white square, framed, with the axes in light grey.

    Args:
        points: (N, 2) floats, x then y; outside the square they are clipped
            to its edge, so a point never disappears.
        groups: a group per point, coloured in turn (`SCATTER_COLOURS`); None: one colour.

    Returns:
        uint8 RGB array (SCATTER_PIXELS, SCATTER_PIXELS, 3), y pointing up.
    """
    size = SCATTER_PIXELS
    picture = np.full((size, size, 3), 255, dtype=np.uint8)
    middle = size // 2
    picture[middle, :] = picture[:, middle] = 225
    picture[[0, -1], :] = picture[:, [0, -1]] = 160
    points = np.clip(np.asarray(points, dtype=np.float64).reshape(-1, 2), -1.0, 1.0)
    columns = np.rint((points[:, 0] + 1.0) / 2.0 * (size - 1)).astype(int)
    rows = np.rint((1.0 - points[:, 1]) / 2.0 * (size - 1)).astype(int)
    groups = np.zeros(len(points), int) if groups is None else np.asarray(groups)
    colours = SCATTER_COLOURS[groups % len(SCATTER_COLOURS)]
    half = SCATTER_DOT // 2
    for dy in range(-half, SCATTER_DOT - half):
        for dx in range(-half, SCATTER_DOT - half):
            ys, xs = np.clip(rows + dy, 0, size - 1), np.clip(columns + dx, 0, size - 1)
            picture[ys, xs] = colours
    return picture


def rows_grid(rows: Sequence[np.ndarray], pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile rows of images whose sizes and channels differ, one grid row each.

    An image-to-image grid shows inputs, outputs and targets one above the
    other, and they need not share a shape (a super-resolution input is half
    the output's size, an edge map has one channel where the photo has
    three). Every image is pixel-repeated (nearest neighbour) to the largest
    height and width among all rows, so a pixel stays a visible block rather
    than being smoothed into detail the image does not have; grayscale is
    shown in colour when any row is colour. Shorter rows leave blank cells.

    Args:
        rows: a list of NHWC (or NHW) float arrays in [-1, 1], 1 or 3 channels each.
        pad: pixels between cells and around the border.
        fill: uint8 value of the padding and of cells with no image.

    Returns:
        uint8 array of shape (len(rows) * (H + pad) + pad, cols * (W + pad) + pad, C):
        H, W the largest image size, cols the longest row, C 3 if any row is colour, else 1.

    Raises:
        ValueError: no rows, a bad shape, or a negative pad.
    """
    rows = [_as_nhwc(np.asarray(row), f"rows[{i}]") for i, row in enumerate(rows)]
    if not rows or pad < 0:
        raise ValueError(f"rows_grid: needs at least one row and pad >= 0, got {len(rows)}, {pad}")
    height = max(row.shape[1] for row in rows)
    width = max(row.shape[2] for row in rows)
    channels = max(row.shape[3] for row in rows)
    cols = max(1, max(len(row) for row in rows))
    grid = np.full(
        (len(rows) * (height + pad) + pad, cols * (width + pad) + pad, channels),
        fill,
        dtype=np.uint8,
    )
    for r, row in enumerate(rows):
        cells = _repeat_pixels(to_uint8(row), height, width)
        for c, cell in enumerate(cells):
            top, left = pad + r * (height + pad), pad + c * (width + pad)
            grid[top : top + height, left : left + width] = cell  # 1 channel broadcasts to 3
    return grid


def _as_nhwc(images: np.ndarray, name: str) -> np.ndarray:
    """NHW as NHWC; anything but 1 or 3 channels refused."""
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"{name}: expected NHWC with 1 or 3 channels, got shape {images.shape}")
    return images


def _repeat_pixels(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of NHWC images: an integer factor repeats each pixel."""
    rows = np.arange(height) * images.shape[1] // height
    cols = np.arange(width) * images.shape[2] // width
    return images[:, rows][:, :, cols]


def save_png(array: np.ndarray, path: str | Path) -> None:
    """Write a uint8 image as PNG, atomically.

    Args:
        array: uint8 array, HxW or HxWx1 (saved as mode "L") or HxWx3 ("RGB").
        path: destination file; parent directories are created.

    Raises:
        ValueError: not uint8, or not one of the shapes above.
    """
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"array: expected uint8 (see to_uint8), got {array.dtype}")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise ValueError(f"array: expected HxW, HxWx1 or HxWx3, got shape {array.shape}")
    # Pillow infers "L" for 2-D and "RGB" for HxWx3 uint8 (its mode= is deprecated).
    image = Image.fromarray(np.ascontiguousarray(array))
    with atomic_file(path) as tmp:
        image.save(tmp, format="PNG")


def interpolate_latents(
    z_start: np.ndarray,
    z_end: np.ndarray,
    steps: int,
    method: Literal["linear", "slerp"] = "slerp",
) -> np.ndarray:
    """Points on a path from `z_start` to `z_end`, both included.

    Spherical interpolation suits Gaussian latents: their mass sits on a
    shell, and the straight line between two samples cuts through the
    low-norm interior the generator rarely saw during training. Here slerp
    moves the direction along the great circle and the norm linearly, so
    for equal norms it is the classic slerp and otherwise the norm stays
    between the endpoints'. Parallel, antiparallel or zero vectors have no
    unique great circle, and fall back to linear.

    Args:
        z_start: first latent vector, shape (latent_dim,).
        z_end: last latent vector, same shape.
        steps: number of points, at least 2.
        method: "slerp" or "linear".

    Returns:
        Array of shape (steps, latent_dim); row 0 is `z_start` and row -1 `z_end`.
    """
    z_start, z_end = np.asarray(z_start), np.asarray(z_end)
    if z_start.ndim != 1 or z_start.shape != z_end.shape:
        raise ValueError(
            f"latents: expected two vectors of one shape, got {z_start.shape} and {z_end.shape}"
        )
    if steps < 2:
        raise ValueError(f"steps: must be >= 2, got {steps}")
    if method not in ("linear", "slerp"):
        raise ValueError(f"method: expected 'linear' or 'slerp', got {method!r}")
    dtype = np.result_type(z_start.dtype, z_end.dtype, np.float32)
    a, b = z_start.astype(np.float64), z_end.astype(np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, np.newaxis]
    path = _slerp(a, b, t) if method == "slerp" else None
    if path is None:
        path = (1.0 - t) * a + t * b
    path[0], path[-1] = a, b  # exact endpoints, free of round-off
    return path.astype(dtype)


def _slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    """Slerp of direction with linear norm, or None where it is undefined."""
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if norm_a == 0.0 or norm_b == 0.0:
        return None
    unit_a, unit_b = a / norm_a, b / norm_b
    omega = np.arccos(np.clip(unit_a @ unit_b, -1.0, 1.0))
    sin_omega = np.sin(omega)
    if sin_omega < _PARALLEL_EPS:
        return None
    direction = (np.sin((1.0 - t) * omega) * unit_a + np.sin(t * omega) * unit_b) / sin_omega
    return direction * ((1.0 - t) * norm_a + t * norm_b)
