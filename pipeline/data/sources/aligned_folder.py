"""pix2pix's dataset layout as a source: paired images, A and B side by side in one file.

`prepare: {source: {kind: aligned_folder, path: DIR}}` reads `DIR/train/`
(required) and `DIR/test/` (optional). Each file is A|B, width 2W: the left
half is A, the base images, and the right half is the second domain `B`,
paired (record i of B shows the scene of A's record i). With `test/` the
user's split is kept; without it the images are split with the seed and
`prepare.test_fraction`. The images are unlabelled: one class, label 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from pipeline.data.raw import RawData, SourceDomain
from pipeline.data.sources.base import DataSource
from pipeline.data.sources.decode import SUFFIXES
from pipeline.data.sources.image_folders import UNLABELLED, image_files, read_images
from pipeline.errors import PipelineError

LAYOUT = (
    f"pix2pix's layout: train/, optionally test/, of {'/'.join(SUFFIXES)} images A|B side by side"
)


class AlignedFolder(DataSource):
    """Paired domains A (the base) and B, each file holding both halves.

    Attributes:
        path: the folder holding train/ and optionally test/. Recorded in
            info.json as given.
    """

    second_domains: ClassVar[dict[str, bool]] = {"B": True}

    kind: Literal["aligned_folder"] = "aligned_folder"
    path: str = "data/raw/aligned"

    def read(self, scratch: Path) -> RawData:
        """Every image, checked (an even width included) before anything is written."""
        root = Path(self.path)
        if not root.is_dir():
            raise PipelineError(f"prepare.source.path: {root} is not a folder (expected {LAYOUT})")
        folders = [image_files(root / "train", LAYOUT)]
        if (root / "test").exists():
            folders.append(image_files(root / "test", LAYOUT))
        pairs = read_images(folders, scratch, "AB")
        width = pairs[0].shape[2]
        if width % 2:
            raise PipelineError(
                f"{folders[0][0]}: width {width} is odd (allowed: an even width, A and B side "
                "by side in halves of equal width)"
            )
        half = width // 2
        sizes = [len(chunk) for chunk in pairs]
        labels = np.zeros(sum(sizes), np.int64)
        split = None
        if len(pairs) == 2:
            split = {"train": np.arange(sizes[0]), "test": sizes[0] + np.arange(sizes[1])}
        source = f"aligned_folder:{self.path}"
        second = RawData(
            source=f"{source} (domain B)",
            chunks=[chunk[:, :, half:] for chunk in pairs],
            labels=labels,
            num_classes=1,
            class_names=list(UNLABELLED),
        )
        return RawData(
            source=source,
            chunks=[chunk[:, :, :half] for chunk in pairs],
            labels=labels,
            num_classes=1,
            class_names=list(UNLABELLED),
            split=split,
            domains={"B": SourceDomain(second, paired=True)},
        )
