"""A user's image file to a uint8 array, or the reason it cannot be: one sequence of checks.

Two readers share it (`_read`):

- `decode(path, size, channels)`, for the `folder` source: any mode of 8-bit
  values, made a square of the chosen size and mode;
- `read_as_is(path)`, for the two-domain folder sources and the translate
  command's `--input` folder: grayscale (`L`) or RGB only, the pixels as
  stored (no conversion, resizing or EXIF turn), since they must match
  another domain's or a generator's images exactly.

Each file, in this order:

1. refuse an empty file, a format other than PNG, JPEG or WebP (by content,
   not by name), a mode the reader does not take (for `decode`, one whose
   values do not map onto 8-bit grayscale or RGB without a choice the user
   should make: CMYK, 16-bit, 32-bit integer or float; for `read_as_is`,
   anything but L and RGB), 16 bits per channel (which Pillow would read as
   8, silently), and transparency (an alpha channel, a palette's or a PNG's
   transparent colour, with any pixel not fully opaque: what colour is
   under it is the user's choice);
2. `decode` only: turn it upright by its EXIF orientation (phone photos are
   stored sideways);
3. `decode` only: convert it to the target mode: `L` for 1 channel (ITU-R
   601-2 luma), `RGB` for 3 (grayscale replicated);
4. `decode` only: scale it so that its shorter side is `size`, with Lanczos
   filtering (it antialiases when shrinking), and crop the centre `size` x
   `size` square, so nothing is stretched (Pillow's `ImageOps.fit`). Smaller
   images are scaled up the same way.

`decode` decodes a JPEG at the smallest of libjpeg's 1/1, 1/2, 1/4, 1/8
scales that is still at least that large (Pillow's `draft`): several times
faster on camera photos, and the same bytes every time on one Pillow build.
Pillow's filters may differ by a grey level between Pillow versions; the
shards are bit-stable for the same files, seed and Pillow.

A refusal is a short reason without the file's name, which each caller adds
in its own way. `is_image_file` and `image_files_in` say which files of a
folder are read at all: the names ending in `SUFFIXES`, any case, not hidden.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from pipeline.errors import typed_first_line

if TYPE_CHECKING:
    from PIL import Image

# Pillow's names of the formats read, told by content.
FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP"}
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
# Modes whose values are 8-bit grey levels, colours or palette entries.
EIGHT_BIT_MODES = {"1", "L", "P", "RGB", "RGBX", "LA", "PA", "RGBA", "La", "RGBa"}
ALPHA_MODES = {"LA", "PA", "RGBA", "La", "RGBa"}
TARGET_MODES = {1: "L", 3: "RGB"}
# The modes `read_as_is` keeps, and the channels each gives.
AS_IS_CHANNELS = {"L": 1, "RGB": 3}
# What a Pillow decoder raises for a damaged or foreign file: it has no common base.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)


class Modes(NamedTuple):
    """The Pillow modes a reader takes, and how its refusal says what is allowed."""

    names: frozenset[str]
    allowed: str


CONVERTIBLE = Modes(frozenset(EIGHT_BIT_MODES), "8-bit grayscale, RGB or palette")
AS_IS = Modes(frozenset(AS_IS_CHANNELS), "L or RGB, read as they are")


def is_image_file(path: Path) -> bool:
    """A file the readers take by its name: an image suffix in any case, not hidden."""
    # The name first: `is_file` costs a stat, and dot files (`._a.png`) are never images.
    return path.suffix.lower() in SUFFIXES and not path.name.startswith(".") and path.is_file()


def image_files_in(folder: Path) -> list[Path]:
    """The image files directly in `folder` (not in its subfolders), sorted by name."""
    images = (entry for entry in folder.iterdir() if is_image_file(entry))
    return sorted(images, key=lambda entry: entry.name)


def decode(path: Path, size: int, channels: int) -> np.ndarray | str:
    """The file as uint8 (size, size, channels), or why it is refused.

    Args:
        path: the image file.
        size: the side of the square it becomes.
        channels: 1 (grayscale) or 3 (RGB).

    Returns:
        The pixels, or a short reason (no file name) for the bad-files list.
    """
    square = partial(_square, size=size, channels=channels)
    return _read(path, CONVERTIBLE, square, draft=(TARGET_MODES[channels], size))


def read_as_is(path: Path) -> np.ndarray | str:
    """The file's pixels as stored, uint8 (H, W, C): C is 1 for mode L, 3 for RGB.

    Args:
        path: the image file.

    Returns:
        The pixels, or a short reason (no file name): the checks of `decode`,
        and any mode but L and RGB refused rather than converted.
    """
    return _read(path, AS_IS, _pixels)


def _read(
    path: Path,
    modes: Modes,
    finish: Callable[[Image.Image], np.ndarray],
    draft: tuple[str, int] | None = None,
) -> np.ndarray | str:
    """Open, check and decode one file, then `finish` it; any refusal as a short reason.

    Args:
        path: the image file.
        modes: the modes taken; any other is refused.
        finish: the decoded image to the pixels returned (run while the file is open).
        draft: (mode, size): a JPEG may be decoded at a reduced scale in that
            mode, its shorter side still at least `size`.
    """
    from PIL import Image  # Pillow only where images are read

    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    try:
        with Image.open(path) as image:
            refused = _refusal(image, modes)
            if refused:
                return refused
            if draft and image.format in ("JPEG", "MPO"):
                mode, size = draft
                image.draft(mode, _scaled(image.size, size / min(image.size)))
            image.load()  # decodes now: a truncated file fails here
            if _is_transparent(image):
                return "has transparent pixels (allowed: opaque images; flatten it first)"
            return finish(image)
    except Image.DecompressionBombError:
        return "larger than Pillow's decompression-bomb limit"
    except DECODE_ERRORS as err:
        return f"unreadable ({typed_first_line(err, 120)})"


def _refusal(image: Image.Image, modes: Modes) -> str | None:
    """Why an opened (not yet decoded) image is refused, or None."""
    if image.format not in FORMATS:
        return f"a {image.format} image (allowed: {', '.join(sorted(set(FORMATS.values())))})"
    if image.mode not in modes.names:
        return f"mode {image.mode} (allowed: {modes.allowed}; convert it first)"
    # Pillow opens a 16-bit-per-channel RGB(A) PNG as 8-bit RGB(A), silently dropping
    # the low byte; its tile's raw mode still says 16.
    if any(";16" in str(tile.args) for tile in image.tile):
        return "16 bits per channel (allowed: 8; convert it first)"
    return None


def _is_transparent(image: Image.Image) -> bool:
    """Any pixel not fully opaque, by an alpha channel or the palette's transparency."""
    if image.mode not in ALPHA_MODES and "transparency" not in image.info:
        return False
    alpha = image.convert("RGBA").getchannel("A")
    return alpha.getextrema()[0] < 255


def _square(image: Image.Image, size: int, channels: int) -> np.ndarray:
    """Upright, converted, scaled and centre-cropped to uint8 (size, size, channels)."""
    from PIL import Image, ImageOps

    upright = ImageOps.exif_transpose(image)
    converted = upright.convert(TARGET_MODES[channels])
    square = ImageOps.fit(converted, (size, size), Image.Resampling.LANCZOS)
    return np.asarray(square, dtype=np.uint8).reshape(size, size, channels)


def _pixels(image: Image.Image) -> np.ndarray:
    """An L or RGB image's pixels, untouched, as uint8 (H, W, C)."""
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels.reshape(image.height, image.width, AS_IS_CHANNELS[image.mode])


def _scaled(dims: tuple[int, int], scale: float) -> tuple[int, int]:
    return (math.ceil(dims[0] * scale), math.ceil(dims[1] * scale))
