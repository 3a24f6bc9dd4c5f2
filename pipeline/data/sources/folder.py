"""A user's own folder of images as a source: labels from class subfolders, or none.

`prepare: {source: {kind: folder, path: DIR, image_size: 64, channels: 3}}`
reads PNG, JPEG and WebP files (by content; `.png`, `.jpg`, `.jpeg`, `.webp`
names, any case). The layout decides the labels, as Keras'
`image_dataset_from_directory` and torchvision's `ImageFolder` do:

- `DIR/<class>/...`: one class per subfolder, named by it, in sorted order;
  a class's images may sit in deeper folders. Conditional models train on these.
- `DIR/*.png` (no subfolders): one class, unlabelled; for unconditional models.

Names starting with a dot are skipped (`.DS_Store`, `.ipynb_checkpoints`),
as are files of other suffixes. Every image becomes `image_size` x
`image_size` with `channels` channels (`decode.py`: upright by EXIF,
converted, shorter side scaled to the size with Lanczos, centre-cropped).

Bad files (unreadable, empty, a mode that is not 8-bit grayscale, RGB or
palette, transparent) and empty class folders are listed one line each,
with their count, and stop the stage (exit 2) before any shard is written;
with `skip_bad: true` they are skipped with the same list as a warning, and
recorded in `info.json` (`extra.skipped`). The images stream through a
scratch file (`pipeline/data/scratch.py`), so memory stays flat whatever
the folder's size.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from pipeline.data.raw import RawData
from pipeline.data.scratch import ScratchImages
from pipeline.data.sources.base import DataSource
from pipeline.data.sources.decode import SUFFIXES, decode, is_image_file
from pipeline.data.sources.image_folders import UNLABELLED
from pipeline.errors import PipelineError

# Bad files named in the error or warning; the rest are counted (info.json lists all).
MAX_LISTED = 100
ALLOWED = (
    "allowed: non-empty PNG, JPEG or WebP files of 8-bit grayscale, RGB or palette, opaque; "
    "and no empty class folder"
)


class Folder(DataSource):
    """A folder of images, labelled by class subfolders when it has any.

    Attributes:
        path: the folder. Recorded in info.json as given.
        image_size: the side of the square every image is made (8 to 1024).
        channels: 1 (grayscale) or 3 (RGB); every image is converted to it.
        skip_bad: skip bad files and empty class folders (with a warning)
            instead of stopping.
    """

    kind: Literal["folder"] = "folder"
    path: str = "data/raw/images"
    image_size: Annotated[int, Field(ge=8, le=1024)] = 64
    channels: Literal[1, 3] = 3
    skip_bad: bool = False

    def read(self, scratch: Path) -> RawData:
        """Every image, decoded in turn into one scratch file; bad files listed first."""
        root = Path(self.path)
        classes = _classes(root)
        images = ScratchImages(scratch / "images.u8", (self.image_size,) * 2 + (self.channels,))
        labels: list[int] = []
        kept: list[str] = []
        bad: list[str] = []
        for name, files in classes.items():
            if not files:
                bad.append(f"{root / name}: empty class folder (no {'/'.join(SUFFIXES)} files)")
                continue
            count = len(labels)
            for path in files:
                pixels = decode(path, self.image_size, self.channels)
                if isinstance(pixels, str):
                    bad.append(f"{path}: {pixels}")
                    continue
                images.append(pixels)
                labels.append(len(kept))
            if len(labels) > count:
                kept.append(name)
            else:
                bad.append(f"{root / name}: every image of the class is bad")
        self._report(root, bad)
        if not labels:
            raise PipelineError(f"prepare.source.path: {root}: no readable image ({ALLOWED})")
        extra = {"image_size": self.image_size, "channels": self.channels}
        if bad:
            extra["skipped"] = bad
        return RawData(
            source=f"folder:{self.path}",
            chunks=[images.finish()],
            labels=np.asarray(labels, np.int64),
            num_classes=len(kept),
            class_names=kept,
            extra=extra,
        )

    def _report(self, root: Path, bad: list[str]) -> None:
        """Stop on bad files, or warn of them with `skip_bad`."""
        if not bad:
            return
        listed = "\n".join(f"  {line}" for line in bad[:MAX_LISTED])
        if len(bad) > MAX_LISTED:
            listed += f"\n  ... and {len(bad) - MAX_LISTED} more"
        if not self.skip_bad:
            raise PipelineError(
                f"prepare.source.path: {root}: {len(bad)} bad image file(s) or folder(s) "
                f"({ALLOWED}; or set prepare.source.skip_bad: true to skip them):\n{listed}"
            )
        print(
            f"warning: {root}: skipped {len(bad)} bad image file(s) or folder(s), "
            f"listed in info.json's extra.skipped:\n{listed}",
            file=sys.stderr,
        )


def _classes(root: Path) -> dict[str, list[Path]]:
    """Each class's image files in sorted order: the subfolders', or the root's as one class.

    Raises:
        PipelineError: no folder, no image at all, or images beside class folders.
    """
    if not root.is_dir():
        raise PipelineError(
            f"prepare.source.path: {root} is not a folder (allowed: a folder of images, or "
            "of class subfolders of images)"
        )
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    folders = [p for p in entries if p.is_dir()]
    loose = [p for p in entries if is_image_file(p)]
    if folders and loose:
        raise PipelineError(
            f"prepare.source.path: {root} holds both class folders ({folders[0].name}/) and "
            f"images ({loose[0].name}) (allowed: one or the other)"
        )
    if folders:
        return {folder.name: _images_under(folder) for folder in folders}
    if not loose:
        raise PipelineError(
            f"prepare.source.path: {root} holds no {'/'.join(SUFFIXES)} images and no class folders"
        )
    return {UNLABELLED[0]: loose}


def _images_under(folder: Path) -> list[Path]:
    """The image files anywhere under `folder`, hidden names skipped, by relative path."""
    found = [
        path
        for path in folder.rglob("*")
        # A hidden folder's files are skipped too (`.ipynb_checkpoints/a.png`).
        if is_image_file(path)
        and not any(part.startswith(".") for part in path.relative_to(folder).parent.parts)
    ]
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())
