"""Write a folder of synthetic colour images, for trying the `folder` source offline.

Each class is a shape (disc, square, triangle, ring, cross, diamond, ...) in
a random colour on a random plain background, at a random place and size;
the files are of random sizes (not square, so the centre crop matters) and
cycle through PNG, JPEG and WebP. The same arguments give the same files.

Usage:

    # Three classes of 100 images in class subfolders, for a conditional model:
    python scripts/make_image_folder.py data/raw/shapes --classes 3 --per-class 100

    # One folder of 300 unlabelled images, for an unconditional model:
    python scripts/make_image_folder.py data/raw/shapes_unlabelled --classes 3 \\
        --per-class 100 --unlabelled

then `prepare: {source: {kind: folder, path: data/raw/shapes, image_size: 64}}`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("disc", "square", "triangle", "ring", "cross", "diamond", "bar", "dot_pair")
FORMATS = ("png", "jpg", "webp")


def make_image_folder(
    root: Path,
    classes: int = 3,
    per_class: int = 100,
    size: int = 96,
    seed: int = 0,
    unlabelled: bool = False,
    formats: tuple[str, ...] = FORMATS,
) -> list[Path]:
    """Write `classes` x `per_class` images under `root`; the files written.

    Args:
        root: the folder to create (it may exist; files are overwritten).
        classes: how many shapes (at most `len(SHAPES)`).
        per_class: images per shape.
        size: the files' shorter side is `size`, the longer up to 1.5 x `size`.
        seed: seeds every choice.
        unlabelled: all files in `root` itself instead of a subfolder per shape.
        formats: the file types, used in turn.
    """
    if not 1 <= classes <= len(SHAPES):
        raise ValueError(f"classes must be in [1, {len(SHAPES)}]")
    rng = np.random.default_rng(seed)
    written = []
    for label in range(classes):
        folder = root if unlabelled else root / SHAPES[label]
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            image = draw_shape(SHAPES[label], size, rng)
            suffix = formats[(label * per_class + index) % len(formats)]
            path = folder / f"{SHAPES[label]}_{index:05d}.{suffix}"
            image.save(path, quality=95) if suffix != "png" else image.save(path)
            written.append(path)
    return written


def draw_shape(shape: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One image of `shape`: a random colour on a random background, random place and size."""
    long_side = int(rng.integers(size, size * 3 // 2 + 1))
    width, height = (long_side, size) if rng.random() < 0.5 else (size, long_side)
    background = tuple(int(v) for v in rng.integers(0, 256, 3))
    colour = tuple(int(v) for v in (255 - np.asarray(background) + rng.integers(-60, 61, 3)) % 256)
    image = Image.new("RGB", (width, height), background)
    radius = size * rng.uniform(0.2, 0.35)
    cx = width / 2 + rng.uniform(-0.1, 0.1) * size
    cy = height / 2 + rng.uniform(-0.1, 0.1) * size
    _draw(ImageDraw.Draw(image), shape, cx, cy, radius, colour, rng.uniform(0, math.pi))
    return image


def _draw(draw: ImageDraw.ImageDraw, shape: str, cx, cy, r, colour, angle) -> None:
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "disc":
        draw.ellipse(box, fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=max(2, int(r / 3)))
    elif shape == "dot_pair":
        for sign in (-1, 1):
            x, y = cx + sign * r * 0.6 * math.cos(angle), cy + sign * r * 0.6 * math.sin(angle)
            draw.ellipse((x - r / 3, y - r / 3, x + r / 3, y + r / 3), fill=colour)
    elif shape == "cross":
        width = max(2, int(r / 2.5))
        draw.line((cx - r, cy, cx + r, cy), fill=colour, width=width)
        draw.line((cx, cy - r, cx, cy + r), fill=colour, width=width)
    elif shape == "bar":
        dx, dy = r * math.cos(angle), r * math.sin(angle)
        draw.line((cx - dx, cy - dy, cx + dx, cy + dy), fill=colour, width=max(2, int(r / 2)))
    else:
        corners = {"square": 4, "triangle": 3, "diamond": 4}[shape]
        turn = angle if shape != "diamond" else math.pi / 4
        draw.regular_polygon((cx, cy, r), corners, rotation=math.degrees(turn), fill=colour)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unlabelled", action="store_true")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    args = parser.parse_args()
    written = make_image_folder(
        args.root,
        args.classes,
        args.per_class,
        args.size,
        args.seed,
        args.unlabelled,
        tuple(args.formats),
    )
    print(f"wrote {len(written)} images under {args.root}")


if __name__ == "__main__":
    main()
