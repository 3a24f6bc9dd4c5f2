"""Folders of PNG, JPEG or WebP files as uint8 arrays: what the two folder sources share.

Users' own images arrive as files of any size and mode, so every file is
checked before anything is written: `decode.read_as_is` reads it as stored,
grayscale (L, kept as 1 channel) or RGB (3 channels), refusing what the
`folder` source refuses (an empty file, another format, 16 bits per channel,
transparency) and any other mode; and it must match the size and mode of
the first file of its domain. Each mistake is one line naming the file (or
two files, for a mismatch) and what is allowed. Pixels go into a
memory-mapped file in the scratch directory, one image at a time, so a large
folder is never held in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.data.sources.decode import SUFFIXES, image_files_in, read_as_is
from pipeline.errors import PipelineError

# The one class of unlabelled folders.
UNLABELLED = ["unlabelled"]


def image_files(folder: Path, layout: str) -> list[Path]:
    """The image files in `folder`, sorted by name; other files, hidden ones and subfolders ignored.

    Args:
        folder: the folder to list.
        layout: the expected layout, for the message when the folder is missing.

    Raises:
        PipelineError: the folder is missing or holds no image.
    """
    if not folder.is_dir():
        raise PipelineError(f"prepare.source.path: {folder} is not a folder (expected {layout})")
    files = image_files_in(folder)
    if not files:
        raise PipelineError(f"{folder}: no images (allowed: {', '.join(SUFFIXES)} files, any case)")
    return files


def read_images(folders: list[list[Path]], scratch: Path, tag: str) -> list[np.ndarray]:
    """Read the files of one domain, folder by folder, into uint8 (n, H, W, C) arrays.

    Args:
        folders: each folder's files, in order (a domain's train and test folders).
        scratch: where the memory-mapped pixels go.
        tag: names the scratch files (unique per domain).

    Returns:
        One array per folder, all of the first file's size and mode.

    Raises:
        PipelineError: an empty, unreadable or unsupported file, or one whose
            size or mode differs from the first file's.
    """
    first = folders[0][0]
    pixels = _open(first)
    shape = pixels.shape
    arrays = []
    for number, files in enumerate(folders):
        out = np.memmap(
            scratch / f"{tag}-{number}.u8", np.uint8, mode="w+", shape=(len(files), *shape)
        )
        for i, path in enumerate(files):
            image = pixels if path == first else _open(path)
            if image.shape != shape:
                raise PipelineError(_mismatch(first, shape, path, image.shape))
            out[i] = image
        out.flush()
        arrays.append(out)
    return arrays


def _open(path: Path) -> np.ndarray:
    """One file's pixels as uint8 (H, W, C); PipelineError naming the file if it cannot be."""
    pixels = read_as_is(path)
    if isinstance(pixels, str):
        raise PipelineError(f"{path}: {pixels}")
    return pixels


def _mismatch(first: Path, shape: tuple, path: Path, other: tuple) -> str:
    """The one line for two files of one domain that differ in size or channels."""

    def describe(s: tuple) -> str:
        return f"{s[1]}x{s[0]} {'RGB' if s[2] == 3 else 'grayscale'}"

    return (
        f"{path}: {describe(other)}, but {first} is {describe(shape)} (allowed: one size "
        f"and mode for every image of a domain)"
    )
