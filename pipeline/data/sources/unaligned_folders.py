"""CycleGAN's dataset layout as a source: two unpaired image domains in four folders.

`prepare: {source: {kind: unaligned_folders, path: DIR}}` reads `DIR/trainA/`
and `DIR/trainB/` (required) and `DIR/testA/`, `DIR/testB/` (optional). A is
the base images; B is stored as the second domain `B`, unpaired, with counts
of its own. A domain with its test folder keeps the user's split; without
it, its images are split with the seed and `prepare.test_fraction`, B's
with a generator of its own. The images are unlabelled: one class, label 0.
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
    "CycleGAN's layout: trainA/ and trainB/, optionally testA/ and testB/, "
    f"each of {'/'.join(SUFFIXES)} images"
)


class UnalignedFolders(DataSource):
    """Two unpaired domains, A (the base) and B, in CycleGAN's folders.

    Attributes:
        path: the folder holding trainA/, trainB/ and optionally testA/,
            testB/. Recorded in info.json as given.
    """

    second_domains: ClassVar[dict[str, bool]] = {"B": False}

    kind: Literal["unaligned_folders"] = "unaligned_folders"
    path: str = "data/raw/unaligned"

    def read(self, scratch: Path) -> RawData:
        """Every image of both domains, checked before anything is written."""
        root = Path(self.path)
        if not root.is_dir():
            raise PipelineError(f"prepare.source.path: {root} is not a folder (expected {LAYOUT})")
        source = f"unaligned_folders:{self.path}"
        base = _read_domain(root, "A", source, scratch)
        second = _read_domain(root, "B", f"{source} (domain B)", scratch)
        base.domains = {"B": SourceDomain(second, paired=False)}
        return base


def _read_domain(root: Path, letter: str, source: str, scratch: Path) -> RawData:
    """trainX/ and, if present, testX/ as one domain; its split kept if testX/ exists."""
    folders = [image_files(root / f"train{letter}", LAYOUT)]
    test = root / f"test{letter}"
    if test.exists():
        folders.append(image_files(test, LAYOUT))
    chunks = read_images(folders, scratch, letter)
    sizes = [len(chunk) for chunk in chunks]
    split = None
    if len(chunks) == 2:
        split = {"train": np.arange(sizes[0]), "test": sizes[0] + np.arange(sizes[1])}
    return RawData(
        source=source,
        chunks=chunks,
        labels=np.zeros(sum(sizes), np.int64),
        num_classes=1,
        class_names=list(UNLABELLED),
        split=split,
    )
