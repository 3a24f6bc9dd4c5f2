"""Translating a user's images (`python -m pipeline.generate MODEL --input ...`) and
`export_translations`, on tiny stock-layer image-to-image generators.

Three runs of the real command (one that translates, two refused) start
together in a module fixture, since each spends seconds importing
TensorFlow; every other case calls `main` or the library in this process.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import pytest
from bad_images import write_png16_rgb
from PIL import Image
from test_generate import as_uint8, assert_pixels_close, generate, read_png
from workspace import assert_refused

from pipeline.errors import PipelineError
from pipeline.export import export_translations
from pipeline.generate import main
from pipeline.params import ExportParams
from pipeline.sampling import translate

SIZE = 8
NAMES = ("b", "a", "c")  # written in this order, read sorted by name


def _save(model: keras.Model, path: Path) -> Path:
    model.save(path)
    return path


def _conv(channels: int, activation: str | None = "tanh", **options) -> keras.layers.Layer:
    return keras.layers.Conv2D(channels, 3, padding="same", activation=activation, **options)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """`gray`: 8x8x1 -> 8x8x1. `colour`: 8x8x1 -> 16x16x3 (an upsampling, edges to colour).
    `nan`: NaN weights. `inf`: finite weights whose outputs overflow. `noise`: z -> 8x8x1."""
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("translators")
    image = keras.Input((SIZE, SIZE, 1), name="image")
    gray = keras.Model(image, _conv(1)(image))
    colour = keras.Model(image, _conv(3)(keras.layers.UpSampling2D(2)(image)))
    nan = keras.Model(image, _conv(1)(image))
    nan.set_weights([np.full_like(w, np.nan) for w in nan.get_weights()])
    huge = keras.initializers.Constant(1e38)
    inf = keras.Model(image, _conv(1, activation=None, kernel_initializer=huge)(image))
    z = keras.Input((4,), name="z")
    noise = keras.Model(z, keras.layers.Reshape((SIZE, SIZE, 1))(keras.layers.Dense(64)(z)))
    built = {"gray": gray, "colour": colour, "nan": nan, "inf": inf, "noise": noise}
    return {name: _save(model, folder / f"{name}.keras") for name, model in built.items()}


def _pixels(seed: int, count: int, shape=(SIZE, SIZE)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, *shape), dtype=np.uint8)


def _png_folder(folder: Path, names=NAMES, shape=(SIZE, SIZE), mode: str = "L") -> Path:
    """A folder of random images (and a text file, which is skipped)."""
    folder.mkdir(parents=True)
    channels = {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
    for index, name in enumerate(names):
        pixels = _pixels(index, 1, (*shape, *channels))[0]
        Image.fromarray(pixels).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _expected(model: Path, pixels: np.ndarray) -> np.ndarray:
    """The model's raw output for uint8 pixels, computed here."""
    images = pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    return translate(keras.saving.load_model(model), images)


# --- the real command ------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(models, tmp_path_factory) -> tuple[Path, dict[str, subprocess.CompletedProcess]]:
    root = tmp_path_factory.mktemp("runs")
    _png_folder(root / "photos")
    _png_folder(root / "large", shape=(2 * SIZE, 2 * SIZE))
    _png_folder(root / "mixed", names=("a",))
    Image.fromarray(_pixels(9, 1, (SIZE, 2 * SIZE))[0]).save(root / "mixed" / "b.png")
    commands = {
        "png": ("photos", "translated"),
        "not the generator's size": ("large", "large_out"),
        "mixed sizes": ("mixed", "mixed_out"),
    }
    with ThreadPoolExecutor(len(commands)) as pool:
        futures = {
            case: pool.submit(generate, models["gray"], "--input", source, "--out", out, cwd=root)
            for case, (source, out) in commands.items()
        }
        return root, {case: future.result() for case, future in futures.items()}


def test_a_folder_becomes_one_png_per_input_named_after_it(runs, models):
    root, results = runs
    done = results["png"]
    assert done.returncode == 0 and done.stderr == "", done.stderr[-3000:]
    assert "translated 3 images of shape (8, 8, 1) into (8, 8, 1)" in done.stdout
    assert sorted(p.name for p in (root / "translated").iterdir()) == ["a.png", "b.png", "c.png"]
    files = sorted(NAMES)
    inputs = np.stack([read_png(root / "photos" / f"{name}.png")[..., 0] for name in files])
    written = np.stack([read_png(root / "translated" / f"{name}.png") for name in files])
    assert_pixels_close(written, as_uint8(_expected(models["gray"], inputs)))


def test_a_size_the_generator_does_not_take_is_named_with_both_shapes(runs):
    root, results = runs
    assert_refused(results["not the generator's size"], "a.png has shape (16, 16, 1)")
    assert "takes images of shape (8, 8, 1)" in results["not the generator's size"].stderr
    assert not (root / "large_out").exists()


def test_mixed_sizes_are_refused_before_the_model_loads(runs):
    root, results = runs
    assert_refused(results["mixed sizes"], "b.png has (8, 16, 1)")
    assert not (root / "mixed_out").exists()


# --- .npz in and out -----------------------------------------------------------------------


def test_an_npz_of_uint8_becomes_inputs_outputs_and_names(models, tmp_path):
    pixels = _pixels(3, 5, (SIZE, SIZE, 1))
    np.savez(tmp_path / "in.npz", images=pixels)
    main(
        [
            str(models["colour"]),
            "--input",
            str(tmp_path / "in.npz"),
            "--out",
            str(tmp_path / "o.npz"),
        ]
    )
    archive = np.load(tmp_path / "o.npz")
    assert sorted(archive.files) == ["inputs", "names", "outputs"]
    assert archive["outputs"].dtype == np.float32 and archive["outputs"].shape == (5, 16, 16, 3)
    np.testing.assert_array_equal(archive["inputs"], pixels / np.float32(127.5) - 1)
    np.testing.assert_allclose(archive["outputs"], _expected(models["colour"], pixels), atol=1e-6)
    assert list(archive["names"]) == [f"{i:05d}" for i in range(5)]


def test_an_npz_of_floats_in_range_is_taken_as_is_and_written_as_pngs(models, tmp_path):
    images = np.random.default_rng(4).uniform(-1, 1, (2, SIZE, SIZE)).astype(np.float64)
    np.savez(tmp_path / "in.npz", images=images)  # (N, H, W): one channel
    main([str(models["gray"]), "--input", str(tmp_path / "in.npz"), "--out", str(tmp_path / "o")])
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["00000.png", "00001.png"]
    raw = translate(keras.saving.load_model(models["gray"]), images[..., None].astype(np.float32))
    assert_pixels_close(read_png(tmp_path / "o" / "00001.png"), as_uint8(raw[1]))


# --- refusals: one line, exit 2 (PipelineError), nothing written --------------------------


def _npz(**arrays):
    def make(folder: Path) -> Path:
        np.savez(folder / "in.npz", **arrays)
        return folder / "in.npz"

    return make


def _bad_b_png(write: Callable[[Path], object]) -> Callable[[Path], Path]:
    """A folder of a good a.png and a bad b.png, made by `write`."""

    def make(folder: Path) -> Path:
        _png_folder(folder / "in", names=("a",))
        write(folder / "in" / "b.png")
        return folder / "in"

    return make


def _not_an_npz(folder: Path) -> Path:
    (folder / "in.npz").write_bytes(b"not a zip")
    return folder / "in.npz"


def _duplicate_stems(folder: Path) -> Path:
    _png_folder(folder / "in", names=("a",))
    Image.fromarray(_pixels(1, 1)[0]).save(folder / "in" / "a.jpg")
    return folder / "in"


# id: (model, set-up returning --input, extra arguments, part of the message)
REFUSED = {
    "missing input": ("gray", lambda f: f / "nowhere", [], "no such file or folder"),
    "empty folder": (
        "gray",
        lambda f: _png_folder(f / "in", names=()),
        [],
        "holds no images (allowed: a folder of .png, .jpg, .jpeg, .webp files",
    ),
    "unreadable image": (
        "gray",
        _bad_b_png(lambda p: p.write_bytes(b"not a png")),
        [],
        "b.png: unreadable (UnidentifiedImageError",
    ),
    "empty image": (
        "gray",
        _bad_b_png(lambda p: p.write_bytes(b"")),
        [],
        "b.png: empty file (0 bytes)",
    ),
    "16-bit image": ("gray", _bad_b_png(write_png16_rgb), [], "b.png: 16 bits per channel"),
    "GIF named .png": (
        "gray",
        _bad_b_png(lambda p: Image.new("L", (SIZE, SIZE)).save(p, format="GIF")),
        [],
        "b.png: a GIF image (allowed: JPEG, PNG, WebP)",
    ),
    "RGBA": (
        "gray",
        lambda f: _png_folder(f / "in", mode="RGBA"),
        [],
        "a.png: mode RGBA (allowed: L or RGB, read as they are; convert it first)",
    ),
    "RGB for a gray generator": (
        "gray",
        lambda f: _png_folder(f / "in", mode="RGB"),
        [],
        "a.png has shape (8, 8, 3) (RGB), but",
    ),
    "two files, one stem": ("gray", _duplicate_stems, [], "both be written as a.png"),
    "npz without images": ("gray", _npz(pictures=_pixels(0, 2)), [], "no `images` array"),
    "npz of floats out of range": (
        "gray",
        _npz(images=np.full((2, SIZE, SIZE, 1), 255.0)),
        [],
        "values from 255 to 255",
    ),
    "npz of int64": ("gray", _npz(images=np.zeros((2, SIZE, SIZE, 1), int)), [], "int64"),
    "not an npz": ("gray", _not_an_npz, [], "cannot be read as an .npz archive"),
    "noise options": (
        "gray",
        lambda f: _png_folder(f / "in"),
        ["-n", "3", "--label", "1"],
        "-n, --label: do not",
    ),
    "a seed": ("gray", lambda f: _png_folder(f / "in"), ["--seed", "0"], "--seed: does not"),
    "a noise generator": ("noise", lambda f: _png_folder(f / "in"), [], "does not translate"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_input_is_one_line_before_anything_is_written(models, tmp_path, case):
    model, setup, args, fragment = REFUSED[case]
    source = setup(tmp_path)
    argv = [str(models[model]), "--input", str(source), "--out", str(tmp_path / "out"), *args]
    with pytest.raises(PipelineError) as raised:
        main(argv)
    message = str(raised.value)
    assert fragment in message and "\n" not in message and raised.value.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_a_translator_without_input_is_told_to_give_it(models, tmp_path):
    with pytest.raises(PipelineError, match="give --input FOLDER_OR_NPZ"):
        main([str(models["gray"]), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


# --- export_translations ------------------------------------------------------------------


def _pairs(count: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    inputs = rng.uniform(-1, 1, (count, SIZE, SIZE, 1)).astype(np.float32)
    return inputs, rng.uniform(-1, 1, (count, 2 * SIZE, 2 * SIZE, 3)).astype(np.float32)


def test_export_translations_writes_the_grid_the_strip_and_the_samples(models, tmp_path):
    params = ExportParams(grid_size=3, interpolation_rows=2, interpolation_steps=4, num_samples=9)
    inputs, targets = _pairs(5)  # fewer than num_samples: all five are kept
    staged = []  # what before_publish saw: the files, staged
    paths = export_translations(
        params,
        models["colour"],
        tmp_path / "out",
        inputs,
        targets,
        before_publish=lambda files: staged.extend(p.name for p in files.out_dir.iterdir()),
    )
    assert sorted(staged) == ["formats", "grid.png", "interpolation.png", "samples.npz"]
    assert sorted(p.name for p in paths.out_dir.iterdir()) == sorted(staged)
    cell = 2 * SIZE + 2  # the largest image, 16x16, and a pad of 2
    with Image.open(paths.grid) as grid:  # 3 rows (inputs, outputs, targets) of 3 columns
        assert (grid.mode, grid.size) == ("RGB", (3 * cell + 2, 3 * cell + 2))
    with Image.open(paths.interpolation) as strip:  # 2 rows of blends, each above its outputs
        assert (strip.mode, strip.size) == ("RGB", (4 * cell + 2, 4 * cell + 2))
    archive = np.load(paths.samples)
    np.testing.assert_array_equal(archive["inputs"], inputs)
    np.testing.assert_array_equal(archive["targets"], targets)
    raw = translate(keras.saving.load_model(models["colour"]), inputs)
    np.testing.assert_allclose(archive["outputs"], raw, atol=1e-6)


@pytest.mark.parametrize("model", ["nan", "inf"])
def test_export_translations_refuses_a_non_finite_generator(models, tmp_path, model):
    inputs, _ = _pairs(4)
    with pytest.raises(PipelineError, match="NaN or infinite"):
        export_translations(ExportParams(), models[model], tmp_path / "out", inputs, inputs)
    assert not (tmp_path / "out").exists()


def test_export_translations_refuses_targets_of_another_shape(models, tmp_path):
    inputs, targets = _pairs(4)
    with pytest.raises(PipelineError, match=r"makes images of shape \(8, 8, 1\)"):
        export_translations(ExportParams(), models["gray"], tmp_path / "out", inputs, targets)
