"""The data layer: prepare a labelled image dataset once, then stream it.

`prepare_dataset` reads a source (the offline MNIST subset, a TFDS dataset or
raw IDX files), makes a seeded train/test split and writes TFRecord shards of
raw uint8 pixels plus `info.json`. `load_split` and `load_arrays` read them
back with pixels scaled to [-1, 1].
"""

from pipeline.data.info import DatasetInfo, SplitInfo, load_info
from pipeline.data.prepare import prepare_dataset
from pipeline.data.records import load_arrays, load_split

__all__ = [
    "DatasetInfo",
    "SplitInfo",
    "load_arrays",
    "load_info",
    "load_split",
    "prepare_dataset",
]
