"""`prepare_dataset`: read a source, split it with a seed, write shards and info.json."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np

# The sources' code runs here, through the object the schema made of params.yaml
# (`params.source.read`): importing their package says so, and makes it a
# dependency of the prepare stage (tests/test_dependencies.py reads the imports).
from pipeline.data import sources  # noqa: F401
from pipeline.data.info import INFO_FILE, SPLITS, DatasetInfo, SplitInfo
from pipeline.data.raw import RawData
from pipeline.data.shards import hash_header, record_bytes, source_hash, write_shards
from pipeline.errors import PipelineError
from pipeline.fileio import atomic_dir, write_json
from pipeline.params import PrepareParams


def prepare_dataset(params: PrepareParams, seed: int, out_dir: str | Path) -> DatasetInfo:
    """Prepare the dataset chosen by `params` into `out_dir`, atomically.

    Each class is split on its own, so both splits keep the source's class
    balance: `round(test_fraction * n_c)` of the `n_c` examples of class `c`,
    picked by a permutation drawn from `seed`, go to `test`. Each split is
    then written in an order shuffled by the same generator, so the first
    examples of a split are a fair sample of it.

    Args:
        params: the `prepare` section of the params.
        seed: seeds the split and the written order; the same seed gives the
            same shards and the same `content_hash`.
        out_dir: the directory to create or replace. On any error it is left
            as it was (absent, or with its old content).

    Returns:
        The info also written to `out_dir/info.json`.

    Raises:
        PipelineError: a source problem, an empty class, or a split left empty.
    """
    with atomic_dir(out_dir) as tmp:
        scratch = tmp / "_scratch"
        scratch.mkdir()
        data = read_source(params, scratch)
        info = _write_dataset(data, params, seed, tmp)
        del data  # release the memmaps before their files go
        shutil.rmtree(scratch)
        write_json(tmp / INFO_FILE, info.to_json())
    return info


def read_source(params: PrepareParams, scratch: Path) -> RawData:
    """Read the source `params.source` picks, and check what it gave.

    Args:
        params: the `prepare` section of the params.
        scratch: an empty directory for decompressed or streamed data; the
            caller deletes it.

    Raises:
        PipelineError: a source problem, or images and labels that do not fit.
    """
    data = params.source.read(scratch)
    data.validate()
    return data


def _write_dataset(data: RawData, params: PrepareParams, seed: int, out_dir: Path) -> DatasetInfo:
    """Split `data`, write both splits' shards into `out_dir` and describe them."""
    splits = split_indices(data.labels, data.num_classes, params.test_fraction, seed)
    counts = {name: _class_counts(data, idx) for name, idx in splits.items()}
    _check_classes(data, counts, params.test_fraction)
    sizes = {name: len(splits[name]) for name in SPLITS}
    # content_hash covers the header, then exactly the bytes written, train then test.
    hasher = hashlib.sha256(hash_header(data.image_shape, sizes))
    split_infos = {}
    for name in SPLITS:
        shards, records = write_shards(data, splits[name], name, out_dir, params.shard_size, hasher)
        split_infos[name] = SplitInfo(sizes[name], counts[name], shards, records)
    return DatasetInfo(
        source=data.source,
        image_shape=data.image_shape,
        record_bytes=record_bytes(data.image_shape),
        num_classes=data.num_classes,
        splits=split_infos,
        content_hash=hasher.hexdigest(),
        source_hash=source_hash(data),
        seed=seed,
        test_fraction=params.test_fraction,
        class_names=data.class_names,
        extra=dict(data.extra or {}),
    )


def split_indices(
    labels: np.ndarray, num_classes: int, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """A seeded, per-class split into `train` and `test`, each in shuffled order.

    Args:
        labels: int labels of all examples.
        num_classes: labels lie in [0, num_classes).
        test_fraction: the fraction of each class that goes to `test`.
        seed: seeds the permutations.

    Returns:
        {"train": indices, "test": indices}, disjoint, covering all examples.
    """
    rng = np.random.default_rng(seed)
    by_class = np.argsort(labels, kind="stable")
    bounds = np.cumsum(np.bincount(labels, minlength=num_classes))[:-1]
    train, test = [], []
    for members in np.split(by_class, bounds):
        members = rng.permutation(members)
        n_test = int(np.floor(test_fraction * len(members) + 0.5))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return {
        "train": rng.permutation(np.concatenate(train)),
        "test": rng.permutation(np.concatenate(test)),
    }


def _class_counts(data: RawData, indices: np.ndarray) -> list[int]:
    return np.bincount(data.labels[indices], minlength=data.num_classes).tolist()


def _check_classes(data: RawData, counts: dict[str, list[int]], test_fraction: float) -> None:
    """Every class must have examples in every split."""
    for c in range(data.num_classes):
        name = f"class {c}" + (f" ({data.class_names[c]!r})" if data.class_names else "")
        total = sum(split_counts[c] for split_counts in counts.values())
        if total == 0:
            raise PipelineError(f"{data.source}: {name} has no examples")
        for split, split_counts in counts.items():
            if split_counts[c] == 0:
                raise PipelineError(
                    f"{data.source}: {name} has {total} example(s) and "
                    f"prepare.test_fraction = {test_fraction} leaves none in {split}"
                )
