"""One image file to a square uint8 array of a chosen size and mode, or the reason it cannot be.

What the `folder` source does to each of a user's files, in this order:

1. refuse an empty file, a format other than PNG, JPEG or WebP (by content,
   not by name), a mode whose values do not map onto 8-bit grayscale or RGB
   without a choice the user should make (CMYK, 16-bit, 32-bit integer or
   float), and transparency (an RGBA or palette image with any pixel not
   fully opaque: what colour is under it is the user's choice);
2. turn it upright by its EXIF orientation (phone photos are stored sideways);
3. convert it to the target mode: `L` for 1 channel (ITU-R 601-2 luma), `RGB`
   for 3 (grayscale replicated);
4. scale it so that its shorter side is `size`, with Lanczos filtering (it
   antialiases when shrinking), and crop the centre `size` x `size` square,
   so nothing is stretched (Pillow's `ImageOps.fit`). Smaller images are
   scaled up the same way.

A JPEG is decoded at the smallest of libjpeg's 1/1, 1/2, 1/4, 1/8 scales
that is still at least that large (Pillow's `draft`): several times faster
on camera photos, and the same bytes every time on one Pillow build.
Pillow's filters may differ by a grey level between Pillow versions; the
shards are bit-stable for the same files, seed and Pillow.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

from pipeline.errors import typed_first_line

# Pillow's names of the formats read, told by content.
FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP"}
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
# Modes whose values are 8-bit grey levels, colours or palette entries.
EIGHT_BIT_MODES = {"1", "L", "P", "RGB", "RGBX", "LA", "PA", "RGBA", "La", "RGBa"}
ALPHA_MODES = {"LA", "PA", "RGBA", "La", "RGBa"}
TARGET_MODES = {1: "L", 3: "RGB"}
# What a Pillow decoder raises for a damaged or foreign file: it has no common base.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)


def decode(path: Path, size: int, channels: int) -> np.ndarray | str:
    """The file as uint8 (size, size, channels), or why it is refused.

    Args:
        path: the image file.
        size: the side of the square it becomes.
        channels: 1 (grayscale) or 3 (RGB).

    Returns:
        The pixels, or a short reason (no file name) for the bad-files list.
    """
    from PIL import Image, ImageOps  # Pillow only where images are read

    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    try:
        with Image.open(path) as image:
            refused = _refusal(image)
            if refused:
                return refused
            if image.format in ("JPEG", "MPO"):
                scale = size / min(image.size)
                image.draft(TARGET_MODES[channels], _scaled(image.size, scale))
            image.load()  # decodes now: a truncated file fails here
            if _is_transparent(image):
                return "has transparent pixels (allowed: opaque images; flatten it first)"
            upright = ImageOps.exif_transpose(image)
            converted = upright.convert(TARGET_MODES[channels])
            square = ImageOps.fit(converted, (size, size), Image.Resampling.LANCZOS)
            pixels = np.asarray(square, dtype=np.uint8)
    except Image.DecompressionBombError:
        return "larger than Pillow's decompression-bomb limit"
    except DECODE_ERRORS as err:
        return f"unreadable ({typed_first_line(err, 120)})"
    return pixels.reshape(size, size, channels)


def _refusal(image) -> str | None:
    """Why an opened (not yet decoded) image is refused, or None."""
    if image.format not in FORMATS:
        return f"a {image.format} image (allowed: {', '.join(sorted(set(FORMATS.values())))})"
    if image.mode not in EIGHT_BIT_MODES:
        return f"mode {image.mode} (allowed: 8-bit grayscale, RGB or palette; convert it first)"
    # Pillow opens a 16-bit-per-channel RGB(A) PNG as 8-bit RGB(A), silently dropping
    # the low byte; its tile's raw mode still says 16.
    if any(";16" in str(tile.args) for tile in image.tile):
        return "16 bits per channel (allowed: 8; convert it first)"
    return None


def _is_transparent(image) -> bool:
    """Any pixel not fully opaque, by an alpha channel or the palette's transparency."""
    if image.mode not in ALPHA_MODES and "transparency" not in image.info:
        return False
    alpha = image.convert("RGBA").getchannel("A")
    return alpha.getextrema()[0] < 255


def _scaled(dims: tuple[int, int], scale: float) -> tuple[int, int]:
    return (math.ceil(dims[0] * scale), math.ceil(dims[1] * scale))
