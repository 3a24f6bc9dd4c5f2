"""Grid layout, range mapping, PNG files and latent interpolation."""

import numpy as np
import pytest
from PIL import Image

from pipeline.images import interpolate_latents, make_grid, rows_grid, save_png, to_uint8


def test_to_uint8_maps_range_and_clips():
    values = np.array([-2.0, -1.0, 0.0, 1.0, 3.0])
    np.testing.assert_array_equal(to_uint8(values), [0, 0, 128, 255, 255])
    assert to_uint8(values).dtype == np.uint8


def test_grid_shape_and_placement():
    # Image k is filled with one value so its cell can be found in the grid.
    levels = np.linspace(-1.0, 1.0, 6)
    images = np.broadcast_to(levels[:, None, None, None], (6, 4, 5, 3)).copy()
    grid = make_grid(images, rows=2, cols=3, pad=1)
    assert grid.shape == (2 * (4 + 1) + 1, 3 * (5 + 1) + 1, 3)
    assert grid.dtype == np.uint8
    expected = to_uint8(levels)
    for k in range(6):
        row, col = divmod(k, 3)
        top, left = 1 + row * 5, 1 + col * 6
        cell = grid[top : top + 4, left : left + 5]
        assert np.all(cell == expected[k]), k
    # The padding row between the two grid rows is the fill value.
    assert np.all(grid[5] == 255)


def test_grid_keeps_grayscale_and_blanks_missing_cells():
    images = -np.ones((3, 4, 4, 1))
    grid = make_grid(images, rows=2, cols=2, pad=2, fill=255)
    assert grid.shape == (2 * 6 + 2, 2 * 6 + 2, 1)
    assert np.all(grid[2:6, 2:6] == 0)  # the first image, black
    assert np.all(grid[8:12, 8:12] == 255)  # the fourth cell has no image


def test_grid_rejects_too_many_images():
    with pytest.raises(ValueError):
        make_grid(np.zeros((5, 4, 4, 1)), rows=2, cols=2)


@pytest.mark.parametrize("channels", [1, 3])
def test_png_round_trip(tmp_path, channels):
    rng = np.random.default_rng(0)
    grid = make_grid(rng.uniform(-1, 1, size=(4, 6, 6, channels)), rows=2, cols=2)
    path = tmp_path / "sub" / "grid.png"
    save_png(grid, path)
    with Image.open(path) as image:
        assert image.mode == ("L" if channels == 1 else "RGB")
        loaded = np.asarray(image)
    np.testing.assert_array_equal(loaded, grid[..., 0] if channels == 1 else grid)
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]  # no temp file left


def test_save_png_rejects_floats(tmp_path):
    with pytest.raises(ValueError):
        save_png(np.zeros((4, 4)), tmp_path / "x.png")


def test_slerp_endpoints_and_norms():
    rng = np.random.default_rng(1)
    z_start, z_end = rng.normal(size=16), 2.0 * rng.normal(size=16)
    path = interpolate_latents(z_start, z_end, steps=9, method="slerp")
    assert path.shape == (9, 16)
    np.testing.assert_allclose(path[0], z_start)
    np.testing.assert_allclose(path[-1], z_end)
    norms = np.linalg.norm(path, axis=1)
    low, high = sorted([np.linalg.norm(z_start), np.linalg.norm(z_end)])
    assert np.all(norms >= low - 1e-9) and np.all(norms <= high + 1e-9)
    # Unlike the straight line, slerp does not dip towards the origin.
    linear_mid = np.linalg.norm(interpolate_latents(z_start, z_end, 9, "linear")[4])
    assert norms[4] > linear_mid


def test_slerp_equal_norms_stays_on_sphere():
    z_start, z_end = np.array([3.0, 0.0]), np.array([0.0, 3.0])
    path = interpolate_latents(z_start, z_end, steps=3)
    np.testing.assert_allclose(path[1], [3 / np.sqrt(2), 3 / np.sqrt(2)])


def test_linear_midpoint():
    z_start, z_end = np.array([0.0, 2.0, -4.0]), np.array([2.0, 4.0, 0.0])
    path = interpolate_latents(z_start, z_end, steps=3, method="linear")
    np.testing.assert_allclose(path[1], [1.0, 3.0, -2.0])


def test_slerp_parallel_falls_back_to_linear():
    z = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    path = interpolate_latents(z, 3 * z, steps=5)
    np.testing.assert_allclose(path, interpolate_latents(z, 3 * z, steps=5, method="linear"))
    assert path.dtype == np.float32
    assert np.all(np.isfinite(path))


def test_rows_grid_repeats_smaller_images_and_shows_gray_in_colour():
    small = np.full((2, 2, 2, 1), -1.0)  # black, 2x2, gray
    large = np.ones((1, 4, 4, 3))  # white, 4x4, colour
    grid = rows_grid([small, large], pad=1, fill=7)
    assert grid.shape == (2 * (4 + 1) + 1, 2 * (4 + 1) + 1, 3)
    assert np.all(grid[1:5, 1:5] == 0) and np.all(grid[1:5, 6:10] == 0)  # repeated to 4x4
    assert np.all(grid[6:10, 1:5] == 255)
    assert np.all(grid[6:10, 6:10] == 7)  # the shorter row's missing cell


def test_rows_grid_repeats_each_pixel_into_a_block():
    image = np.array([[-1.0, 1.0]])[np.newaxis]  # 1x2: black, white
    grid = rows_grid([image, np.zeros((1, 2, 4))], pad=0)
    np.testing.assert_array_equal(grid[0, :, 0], [0, 0, 255, 255])
    assert grid.shape == (4, 4, 1)  # gray throughout stays gray
