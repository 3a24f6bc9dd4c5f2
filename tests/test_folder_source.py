"""The `folder` source: a user's own images, labelled by class subfolders or not.

What each image becomes (upright, converted, scaled and centre-cropped) is
checked on small images whose right answer is known; the labels and sizes
on a generated folder of coloured shapes (scripts/make_image_folder.py);
the bad files go through the real stage command: listed one line each with
their count and exit 2, or skipped with `skip_bad: true` and recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bad_images import write_png16_rgb
from PIL import Image
from workspace import TINY_PARAMS, assert_refused, run_stage, snapshot, write_params

from pipeline.data import load_arrays, load_info
from pipeline.data.prepare import prepare_dataset
from pipeline.data.scratch import ScratchImages
from pipeline.data.sources import Folder
from pipeline.data.sources.decode import decode, read_as_is
from pipeline.errors import PipelineError
from pipeline.params import ParamsError, PrepareParams, parse_params
from scripts.make_image_folder import make_image_folder

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _prepare(root: Path, out: Path, **settings) -> dict:
    source = Folder(path=str(root), **settings)
    prepare_dataset(PrepareParams(source=source), seed=42, out_dir=out)
    return json.loads((out / "info.json").read_text())


def _bands(path: Path, size: tuple[int, int], colours: list, vertical: bool = True) -> None:
    """An image of equal bands of `colours`, side by side (or stacked)."""
    image = Image.new("RGB", size)
    width, height = size
    for index, colour in enumerate(colours):
        if vertical:
            box = (index * width // len(colours), 0, (index + 1) * width // len(colours), height)
        else:
            box = (0, index * height // len(colours), width, (index + 1) * height // len(colours))
        image.paste(colour, box)
    image.save(path)


# --- what one image becomes ----------------------------------------------------------


def test_the_centre_square_is_kept_and_nothing_is_stretched(tmp_path):
    _bands(tmp_path / "wide.png", (60, 20), [RED, GREEN, BLUE])
    _bands(tmp_path / "tall.png", (20, 60), [RED, GREEN, BLUE], vertical=False)
    for name in ("wide.png", "tall.png"):
        pixels = decode(tmp_path / name, 20, 3)
        assert pixels.shape == (20, 20, 3)
        assert (pixels == GREEN).all(), name
    # Shrunk to 10: still the green square, the shorter side scaled, the rest cropped.
    small = decode(tmp_path / "wide.png", 10, 3)
    assert small.shape == (10, 10, 3) and (np.abs(small[2:-2, 2:-2].astype(int) - GREEN) < 3).all()


def test_grayscale_is_pillow_s_luma_and_rgb_repeats_a_grey(tmp_path):
    colour = Image.new("RGB", (8, 8), (200, 100, 50))
    colour.save(tmp_path / "colour.png")
    grey = decode(tmp_path / "colour.png", 8, 1)
    assert grey.shape == (8, 8, 1) and (grey == colour.convert("L").getpixel((0, 0))).all()
    Image.new("L", (8, 8), 77).save(tmp_path / "grey.png")
    assert (decode(tmp_path / "grey.png", 8, 3) == 77).all()


def test_a_photo_is_turned_upright_by_its_exif_orientation(tmp_path):
    # Stored wide, left black and right white; orientation 6 shows it turned a quarter
    # clockwise: tall, black on top. Its centre square then splits top from bottom.
    exif = Image.Exif()
    exif[0x0112] = 6
    image = Image.new("L", (40, 20), 0)
    image.paste(255, (20, 0, 40, 20))
    image.save(tmp_path / "photo.png", exif=exif)
    pixels = decode(tmp_path / "photo.png", 20, 1)[..., 0]
    assert (pixels[:8] == 0).all() and (pixels[-8:] == 255).all()


def _transparent(path: Path) -> None:
    image = Image.new("RGBA", (8, 8), (10, 20, 30, 255))
    image.putpixel((3, 3), (10, 20, 30, 0))
    image.save(path)


# Each bad file: how to make it, and what its line says.
BAD_FILES = {
    "zero.png": (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    "text.jpg": (lambda p: p.write_text("not an image"), "unreadable (UnidentifiedImageError"),
    "truncated.png": (
        lambda p: p.write_bytes(_png_bytes()[:60]),
        "unreadable (",
    ),
    "cmyk.jpg": (lambda p: Image.new("CMYK", (8, 8)).save(p), "mode CMYK (allowed: 8-bit"),
    "grey16.png": (
        lambda p: Image.fromarray(np.zeros((8, 8), np.uint16)).save(p),
        "mode I;16 (allowed: 8-bit",
    ),
    "rgb16.png": (write_png16_rgb, "16 bits per channel (allowed: 8"),
    "alpha.png": (_transparent, "has transparent pixels"),
    "gif.png": (lambda p: Image.new("L", (8, 8)).save(p, format="GIF"), "a GIF image (allowed"),
}


def _png_bytes() -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_each_bad_file_is_refused_with_its_reason(tmp_path, name):
    make, reason = BAD_FILES[name]
    make(tmp_path / name)
    refused = decode(tmp_path / name, 8, 3)
    assert isinstance(refused, str) and reason in refused, refused


def test_opaque_rgba_and_palette_images_are_read(tmp_path):
    Image.new("RGBA", (8, 8), (1, 2, 3, 255)).save(tmp_path / "opaque.png")
    # A colour of Pillow's web palette, which convert("P") keeps exactly.
    Image.new("RGB", (8, 8), (0, 51, 102)).convert("P").save(tmp_path / "palette.png")
    assert (decode(tmp_path / "opaque.png", 8, 3) == (1, 2, 3)).all()
    assert (decode(tmp_path / "palette.png", 8, 3) == (0, 51, 102)).all()


def test_read_as_is_keeps_l_and_rgb_pixels_as_stored_and_refuses_other_modes(tmp_path):
    grey = np.arange(60, dtype=np.uint8).reshape(6, 10)
    colour = np.random.default_rng(1).integers(0, 256, (6, 10, 3), np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(colour).save(tmp_path / "colour.webp", lossless=True)
    Image.new("RGBA", (8, 8), (1, 2, 3, 255)).save(tmp_path / "opaque.png")
    np.testing.assert_array_equal(read_as_is(tmp_path / "grey.png"), grey[..., None])
    np.testing.assert_array_equal(read_as_is(tmp_path / "colour.webp"), colour)
    refused = read_as_is(tmp_path / "opaque.png")  # opaque, but an alpha channel to drop
    assert refused == "mode RGBA (allowed: L or RGB, read as they are; convert it first)"


# --- a folder ----------------------------------------------------------------------


def test_class_subfolders_label_the_images_in_sorted_order(tmp_path):
    make_image_folder(tmp_path / "shapes", classes=3, per_class=10, size=40)
    (tmp_path / "shapes" / "disc" / ".DS_Store").write_bytes(b"\0\1")
    (tmp_path / "shapes" / "disc" / "notes.txt").write_text("ignored")
    nested = tmp_path / "shapes" / "square" / "more"
    nested.mkdir()
    Image.new("RGB", (50, 40), (5, 5, 5)).save(nested / "extra.webp")
    info = _prepare(tmp_path / "shapes", tmp_path / "prepared", image_size=32)
    assert info["image_shape"] == [32, 32, 3] and info["num_classes"] == 3
    assert info["class_names"] == ["disc", "square", "triangle"]
    counts = np.add(info["splits"]["train"]["class_counts"], info["splits"]["test"]["class_counts"])
    assert counts.tolist() == [10, 11, 10]
    assert info["extra"] == {"image_size": 32, "channels": 3}
    images, labels = load_arrays(tmp_path / "prepared", "train")
    assert images.shape[1:] == (32, 32, 3) and set(labels.tolist()) == {0, 1, 2}
    # Colour survives: the channels of a shape on a background differ.
    assert np.abs(images[..., 0] - images[..., 1]).mean() > 0.05


def test_a_folder_without_subfolders_is_one_unlabelled_class(tmp_path):
    make_image_folder(tmp_path / "flat", classes=2, per_class=5, size=24, unlabelled=True)
    info = _prepare(tmp_path / "flat", tmp_path / "prepared", image_size=16, channels=1)
    assert info["num_classes"] == 1 and info["class_names"] == ["unlabelled"]
    assert info["image_shape"] == [16, 16, 1]


def test_the_same_files_and_seed_give_the_same_bytes(tmp_path):
    make_image_folder(tmp_path / "shapes", classes=2, per_class=8, size=30)
    first = _prepare(tmp_path / "shapes", tmp_path / "one", image_size=24)
    second = _prepare(tmp_path / "shapes", tmp_path / "two", image_size=24)
    assert first["content_hash"] == second["content_hash"]
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    assert load_info(tmp_path / "one").source == f"folder:{tmp_path / 'shapes'}"


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("missing", "is not a folder (allowed: a folder of images, or of class subfolders"),
        ("nothing", "holds no .png/.jpg/.jpeg/.webp images and no class folders"),
        ("mixed", "holds both class folders (a/) and images (b.png) (allowed: one or the other)"),
    ],
)
def test_layout_mistakes_are_one_line(tmp_path, layout, message):
    root = tmp_path / "images"
    if layout != "missing":
        root.mkdir()
        (root / "readme.txt").write_text("no images here")
    if layout == "mixed":
        (root / "a").mkdir()
        Image.new("RGB", (8, 8)).save(root / "b.png")
    with pytest.raises(PipelineError, match="^prepare.source.path: ") as raised:
        _prepare(root, tmp_path / "prepared")
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "prepared").exists()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"channels": 2}, "channels"),
        ({"image_size": 4}, "image_size"),
        ({"skip_bad": "yes"}, "skip_bad"),
        ({"size": 64}, "size"),
    ],
)
def test_the_schema_refuses_settings_out_of_range(settings, message):
    params = {"prepare": {"source": {"kind": "folder", "path": "x", **settings}}}
    with pytest.raises(ParamsError, match=message):
        parse_params(params)


def _bad_folder(root: Path) -> None:
    """Classes `a` and `b` of 3 good images each; `b` also holds every bad file; `c` is empty."""
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for index in range(3):
            Image.new("RGB", (12, 10), (40 * index, 90, 9)).save(root / name / f"{index}.png")
    for name, (make, _) in BAD_FILES.items():
        make(root / "b" / name)
    (root / "c").mkdir()


def _write_params(tmp_path: Path, skip_bad: bool) -> None:
    source = {"kind": "folder", "path": "data/raw/images", "image_size": 8, "skip_bad": skip_bad}
    write_params(tmp_path, {**TINY_PARAMS, "prepare": {"source": source}})


def test_bad_files_are_listed_one_line_each_and_stop_the_stage(tmp_path):
    _bad_folder(tmp_path / "data/raw/images")
    _write_params(tmp_path, skip_bad=False)
    before = snapshot(tmp_path)
    done = run_stage(tmp_path, "prepare")
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: prepare.source.path: data/raw/images: 9 bad image file(s)")
    assert "set prepare.source.skip_bad: true" in lines[0] and "Traceback" not in done.stderr
    assert len(lines) == 1 + len(BAD_FILES) + 1
    for name, (_, reason) in BAD_FILES.items():
        assert any(
            line.startswith(f"  data/raw/images/b/{name}: ") and reason in line for line in lines
        )
    assert any(line.startswith("  data/raw/images/c: empty class folder") for line in lines)
    assert snapshot(tmp_path) == before  # data/prepared never appeared


def test_skip_bad_skips_and_records_them(tmp_path):
    _bad_folder(tmp_path / "data/raw/images")
    _write_params(tmp_path, skip_bad=True)
    done = run_stage(tmp_path, "prepare")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "warning: data/raw/images: skipped 9 bad image file(s) or folder(s)" in done.stderr
    info = json.loads((tmp_path / "data/prepared/info.json").read_text())
    assert info["class_names"] == ["a", "b"]
    assert len(info["extra"]["skipped"]) == 9
    splits = info["splits"]
    assert sum(splits["train"]["class_counts"] + splits["test"]["class_counts"]) == 6


def test_a_source_path_outside_the_watched_folder_is_refused_by_the_stage(tmp_path):
    make_image_folder(tmp_path / "elsewhere", classes=2, per_class=3, size=8)
    source = {"kind": "folder", "path": "elsewhere", "image_size": 8}
    write_params(tmp_path, {**TINY_PARAMS, "prepare": {"source": source}})
    before = snapshot(tmp_path)
    done = run_stage(tmp_path, "prepare")
    assert_refused(done, "prepare.source.path: elsewhere is outside data/raw/, the folder the")
    assert snapshot(tmp_path) == before


# --- the scratch file the images stream through ----------------------------------------


def test_scratch_images_index_like_an_array(tmp_path):
    images = np.arange(5 * 2 * 2 * 3, dtype=np.uint8).reshape(5, 2, 2, 3)
    scratch = ScratchImages(tmp_path / "x.u8", (2, 2, 3))
    for image in images:
        scratch.append(image)
    scratch.finish()
    assert len(scratch) == 5 and scratch.shape == (5, 2, 2, 3)
    assert np.array_equal(scratch[3], images[3]) and np.array_equal(scratch[-1], images[4])
    assert np.array_equal(scratch[1:4], images[1:4])
    assert np.array_equal(scratch[np.array([4, 0, 2])], images[[4, 0, 2]])
    with pytest.raises(IndexError):
        scratch[5]
    with pytest.raises(ValueError, match="expected uint8"):
        scratch.append(images[0].astype(np.int16))
