"""The data layer: prepare a labelled image dataset once, then stream it.

This package exports the reading side. `pipeline.data.prepare.prepare_dataset`
(imported from its module, so that the stages that only read do not depend
on the sources' code) reads a source (`pipeline.data.sources`: the offline
MNIST subset, a TFDS dataset or raw IDX files), makes a seeded train/test
split and writes shards of fixed-length binary records (raw uint8 pixels,
then an int64 label) plus `info.json`. `verify_prepared` checks a prepared
directory against its info.json and content hash; the readers call it, then
read the records back with pixels scaled to [-1, 1], with NumPy alone
(`stream.py`): `SplitRecords` (the memory-mapped shards), `BatchStream`
(the seeded batches every training and the evaluator fit on, on any
backend) and `load_arrays`; a dataset's second image domains (derived ones
from `pipeline.data.domains`, or a folder source's `B`) are read by name
with `domain_names` and `load_domain` (`A` is the base images).

Importing this package loads nothing heavy: the params schema reads the
sources' settings from `pipeline.data.sources`, so the names below are
imported the first time one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.data.info import DatasetInfo, DomainInfo, SplitInfo, load_info
    from pipeline.data.stream import (
        BatchStream,
        SplitRecords,
        domain_names,
        load_arrays,
        load_domain,
    )
    from pipeline.data.verify import verify_prepared

__all__ = [
    "BatchStream",
    "DatasetInfo",
    "DomainInfo",
    "SplitInfo",
    "SplitRecords",
    "domain_names",
    "load_arrays",
    "load_domain",
    "load_info",
    "verify_prepared",
]


def __getattr__(name: str) -> Any:
    """An exported name, imported from its module on first use (PEP 562).

    Each module is imported by a plain import statement, so that
    tests/test_dependencies.py, which reads imports from the code, still
    counts it as run by whatever imports this package.
    """
    if name in ("DatasetInfo", "DomainInfo", "SplitInfo", "load_info"):
        from pipeline.data import info as module
    elif name in ("BatchStream", "SplitRecords", "domain_names", "load_arrays", "load_domain"):
        from pipeline.data import stream as module
    elif name == "verify_prepared":
        from pipeline.data import verify as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value  # found directly from now on
    return value
