"""Data sources: where `prepare` reads its images from, one file each, named here.

Most are labelled image datasets of one domain; `folder` reads a user's own
images, labelled by class subfolders or not; the two-domain folder sources
(`unaligned_folders`, `aligned_folder`) read users' own unlabelled images of
two domains, A and B, in CycleGAN's and pix2pix's layouts; `ring` draws 2-D
points (8 Gaussians on a circle), the mode-collapse benchmark.

To add one: write `pipeline/data/sources/<kind>.py` with a subclass of
`DataSource` whose `kind` is `Literal["<kind>"]`, that declares its settings
and reads them into `RawData` in `read`, and add it to `SOURCES` below;
`prepare: {source: {kind: <kind>, ...settings}}` then picks it in params.yaml.
"""

from __future__ import annotations

from pipeline.data.sources.aligned_folder import AlignedFolder
from pipeline.data.sources.base import DataSource
from pipeline.data.sources.folder import Folder
from pipeline.data.sources.idx import Idx
from pipeline.data.sources.mnist5k import Mnist5k
from pipeline.data.sources.ring import Ring
from pipeline.data.sources.tfds import Tfds
from pipeline.data.sources.unaligned_folders import UnalignedFolders
from pipeline.schema import tagged_union

SOURCES: dict[str, type[DataSource]] = {
    "mnist5k": Mnist5k,
    "tfds": Tfds,
    "idx": Idx,
    "folder": Folder,
    "unaligned_folders": UnalignedFolders,
    "aligned_folder": AlignedFolder,
    "ring": Ring,
}

# The `prepare.source` section: whichever source its `kind` picks, with that source's own keys.
SourceSettings = tagged_union(SOURCES, "kind")

__all__ = [
    "SOURCES",
    "AlignedFolder",
    "DataSource",
    "Folder",
    "Idx",
    "Mnist5k",
    "Ring",
    "SourceSettings",
    "Tfds",
    "UnalignedFolders",
]
