"""`verify_prepared`: check a prepared directory against its info.json before reading it.

A damaged shard would otherwise surface as a `DataLossError` deep inside
training, or not at all: a truncated test shard or a wrong `count` lets
`evaluate` score fewer examples and exit 0. So every read of a prepared split
first checks, with plain file reads and hashlib (no TensorFlow), that the
files are the ones `prepare` wrote: each listed shard exists and has the
size its records need, the sizes agree with the counts, no stray shard lies
beside them, and the bytes hash to `content_hash`. The labels seen while
hashing must also match `class_counts` and `num_classes`, the keys of
info.json the hash does not cover.

The result is cached per process, keyed on the directory and the
(size, mtime_ns, inode) of the directory itself (an added or removed file
changes its mtime), of info.json and of every listed shard, so repeated
reads hash once and a file changed in between is checked again. A rewrite
that keeps a file's size, inode and mtime (possible only within the
filesystem's timestamp granularity, or by resetting mtime on purpose) is not
noticed by the cache.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

from pipeline.data.info import INFO_FILE, SPLITS, DatasetInfo, load_info
from pipeline.data.shards import hash_header, record_bytes, record_dtype, records_per_block
from pipeline.errors import PipelineError

# What any prepare, of this format or the last, names a shard.
_SHARD_NAME = re.compile(r"^[A-Za-z0-9_]+-\d{5}-of-\d{5}\.(bin|tfrecord)$")

Stamp = tuple[tuple[int, int, int] | None, ...]
# Resolved data dir -> (the stamp it was verified at, its info).
_VERIFIED: dict[Path, tuple[Stamp, DatasetInfo]] = {}


def verify_prepared(data_dir: str | Path) -> DatasetInfo:
    """Check that `data_dir` holds exactly what its info.json describes.

    Args:
        data_dir: the directory `prepare_dataset` wrote.

    Returns:
        Its info; the same object again while no file has changed.

    Raises:
        PipelineError: one line naming the file or info.json key, what was
            found, what was expected, and how to restore or rebuild the data.
    """
    data_dir = Path(data_dir)
    # Stamped before reading: a file changed meanwhile gets a new stamp next time.
    head = (_file_stamp(data_dir), _file_stamp(data_dir / INFO_FILE))
    info = load_info(data_dir)
    key, stamp = data_dir.resolve(), head + _shard_stamps(data_dir, info)
    cached = _VERIFIED.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    _check_info(data_dir, info)
    _check_files(data_dir, info)
    _check_content(data_dir, info)
    _VERIFIED[key] = (stamp, info)
    return info


def _fix(data_dir: Path) -> str:
    """The remedy that ends every message."""
    return (
        "the prepared data is damaged or was edited: restore it with "
        f"`dvc checkout {data_dir}` or rebuild it with `dvc repro prepare`"
    )


def _shard_stamps(data_dir: Path, info: DatasetInfo) -> Stamp:
    """The stamps of every listed shard, train's then test's."""
    paths = [data_dir / name for split in SPLITS for name in info.splits[split].shards]
    return tuple(_file_stamp(path) for path in paths)


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    """(size, mtime_ns, inode), or None for a missing file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _check_info(data_dir: Path, info: DatasetInfo) -> None:
    """info.json must agree with itself: record size, shard counts, class counts."""
    path = data_dir / INFO_FILE
    expected = record_bytes(info.image_shape)
    if info.record_bytes != expected:
        pixels = "*".join(str(d) for d in info.image_shape)
        raise PipelineError(
            f"{path}: record_bytes is {info.record_bytes}, expected {expected} for image_shape "
            f"{list(info.image_shape)} ({pixels} pixel bytes + 8 label bytes); {_fix(data_dir)}"
        )
    for name in SPLITS:
        split = info.splits[name]
        if len(split.shard_records) != len(split.shards):
            raise PipelineError(
                f"{path}: splits.{name} lists {len(split.shards)} shards but "
                f"{len(split.shard_records)} shard_records, expected one per shard; "
                f"{_fix(data_dir)}"
            )
        found = {"shard_records": sum(split.shard_records), "class_counts": sum(split.class_counts)}
        for key, total in found.items():
            if total != split.count:
                raise PipelineError(
                    f"{path}: splits.{name}.count is {split.count}, but its {key} sum to "
                    f"{total}; {_fix(data_dir)}"
                )


def _check_files(data_dir: Path, info: DatasetInfo) -> None:
    """Every listed shard exists with the size of its records; no unlisted shard."""
    listed = set()
    for name in SPLITS:
        split = info.splits[name]
        for shard, records in zip(split.shards, split.shard_records, strict=True):
            _check_shard(data_dir, data_dir / shard, records, info.record_bytes)
            listed.add(shard)
    _check_no_stray_shards(data_dir, listed)


def _check_shard(data_dir: Path, path: Path, records: int, size_each: int) -> None:
    """The shard must exist and hold exactly `records` records of `size_each` bytes."""
    expected = records * size_each
    if not path.is_file():
        raise PipelineError(
            f"{path}: shard is missing, expected {expected} bytes ({records} records of "
            f"{size_each} bytes); {_fix(data_dir)}"
        )
    size = path.stat().st_size
    if size != expected:
        raise PipelineError(
            f"{path}: {size} bytes, expected {expected} ({records} records of {size_each} "
            f"bytes); {_fix(data_dir)}"
        )


def _check_no_stray_shards(data_dir: Path, listed: set[str]) -> None:
    """Reject a shard-named file info.json does not list.

    Readers would ignore it, but it means the directory mixes two
    preparations or was edited by hand, so the listed shards may not be the
    ones meant. Files not named like a shard are not ours and are ignored.
    """
    for entry in sorted(os.listdir(data_dir)):
        if _SHARD_NAME.match(entry) and entry not in listed:
            raise PipelineError(
                f"{data_dir / entry}: a shard file that {INFO_FILE} does not list "
                f"(it lists {len(listed)}); {_fix(data_dir)}"
            )


def _check_content(data_dir: Path, info: DatasetInfo) -> None:
    """Recompute content_hash from the files; check the labels against class_counts."""
    sizes = {name: info.splits[name].count for name in SPLITS}
    hasher = hashlib.sha256(hash_header(info.image_shape, sizes))
    counts = {name: _hash_split(data_dir, info, name, hasher) for name in SPLITS}
    found = hasher.hexdigest()
    if found != info.content_hash:
        raise PipelineError(
            f"{data_dir}: its shards hash to {found[:12]}, expected content_hash "
            f"{info.content_hash[:12]} from {INFO_FILE} (the hash covers image_shape, the "
            f"split counts and every record); {_fix(data_dir)}"
        )
    for name in SPLITS:
        _check_class_counts(data_dir, info, name, counts[name])


def _hash_split(data_dir: Path, info: DatasetInfo, split: str, hasher: hashlib._Hash) -> np.ndarray:
    """Feed a split's shards to `hasher`; return how many records hold each label.

    Reads whole records, about 1 MiB at a time, into one reused buffer. The
    result has num_classes + 1 bins; the last counts labels outside
    [0, num_classes).
    """
    dtype = record_dtype(info.image_shape)
    buffer = bytearray(records_per_block(info.image_shape) * dtype.itemsize)
    view = memoryview(buffer)
    counts = np.zeros(info.num_classes + 1, np.int64)
    for shard in info.splits[split].shards:
        with (data_dir / shard).open("rb", buffering=0) as f:
            while n := f.readinto(buffer):
                hasher.update(view[:n])
                labels = np.frombuffer(buffer, dtype, count=n // dtype.itemsize)["label"]
                inside = (labels >= 0) & (labels < info.num_classes)
                counts += np.bincount(
                    np.where(inside, labels, info.num_classes), minlength=len(counts)
                )
    return counts


def _check_class_counts(data_dir: Path, info: DatasetInfo, split: str, found: np.ndarray) -> None:
    """The labels read must match num_classes and splits.<split>.class_counts."""
    path = data_dir / INFO_FILE
    outside = int(found[-1])
    if outside:
        raise PipelineError(
            f"{path}: num_classes is {info.num_classes}, but the {split} shards hold {outside} "
            f"labels outside [0, {info.num_classes}); {_fix(data_dir)}"
        )
    recorded = info.splits[split].class_counts
    if len(recorded) != info.num_classes:
        raise PipelineError(
            f"{path}: splits.{split}.class_counts has {len(recorded)} entries, expected "
            f"num_classes = {info.num_classes}; {_fix(data_dir)}"
        )
    for label, (want, got) in enumerate(zip(recorded, found[:-1].tolist(), strict=True)):
        if want != got:
            raise PipelineError(
                f"{path}: splits.{split}.class_counts[{label}] is {want}, but the shards hold "
                f"{got} examples of class {label}; {_fix(data_dir)}"
            )
