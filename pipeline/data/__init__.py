"""The data layer: prepare a labelled image dataset once, then stream it.

This package exports the reading side. `pipeline.data.prepare.prepare_dataset`
(imported from its module, so that the stages that only read do not depend
on the sources' code) reads a source (the offline MNIST subset, a TFDS dataset or
raw IDX files), makes a seeded train/test split and writes shards of
fixed-length binary records (raw uint8 pixels, then an int64 label) plus
`info.json`. `verify_prepared` checks a prepared directory against its
info.json and content hash; `load_split` and `load_arrays` call it, then read
the records back with pixels scaled to [-1, 1].
"""

from pipeline.data.info import DatasetInfo, SplitInfo, load_info
from pipeline.data.records import load_arrays, load_split
from pipeline.data.verify import verify_prepared

__all__ = [
    "DatasetInfo",
    "SplitInfo",
    "load_arrays",
    "load_info",
    "load_split",
    "verify_prepared",
]
