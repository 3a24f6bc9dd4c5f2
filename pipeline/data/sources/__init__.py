"""Data sources: where `prepare` reads its labelled images from, one file each, named here.

To add one: write `pipeline/data/sources/<kind>.py` with a subclass of
`DataSource` whose `kind` is `Literal["<kind>"]`, that declares its settings
and reads them into `RawData` in `read`, and add it to `SOURCES` below;
`prepare: {source: {kind: <kind>, ...settings}}` then picks it in params.yaml.
"""

from __future__ import annotations

from pipeline.data.sources.base import DataSource
from pipeline.data.sources.idx import Idx
from pipeline.data.sources.mnist5k import Mnist5k
from pipeline.data.sources.tfds import Tfds
from pipeline.schema import tagged_union

SOURCES: dict[str, type[DataSource]] = {
    "mnist5k": Mnist5k,
    "tfds": Tfds,
    "idx": Idx,
}

# The `prepare.source` section: whichever source its `kind` picks, with that source's own keys.
SourceSettings = tagged_union(SOURCES, "kind")

__all__ = ["SOURCES", "DataSource", "Idx", "Mnist5k", "SourceSettings", "Tfds"]
