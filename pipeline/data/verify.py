"""`verify_prepared`: check a prepared directory against its info.json before reading it.

A damaged shard would otherwise surface as a `DataLossError` deep inside
training, or not at all: a truncated test shard or a wrong `count` lets
`evaluate` score fewer examples and exit 0. So every read of a prepared split
first checks, with plain file reads and hashlib (no TensorFlow), that the
files are the ones `prepare` wrote: each listed shard exists and has the
size its records need, the sizes agree with the counts, no stray shard lies
beside them, and the bytes hash to `content_hash`. The labels seen while
hashing must also match `class_counts` and `num_classes`, the keys of
info.json the hash does not cover. A dataset with second domains
(`domains/<name>/`) has each domain checked the same way against its own
entry in info.json, a paired one's counts against the base's, and nothing
unlisted may lie under `domains/`.

The result is cached per process, keyed on the directory and the
(size, mtime_ns, inode) of the directory itself (an added or removed file
changes its mtime), of info.json, of every listed shard and of the domain
folders, so repeated
reads hash once and a file changed in between is checked again. A rewrite
that keeps a file's size, inode and mtime (possible only within the
filesystem's timestamp granularity, or by resetting mtime on purpose) is not
noticed by the cache.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data.info import (
    DOMAINS_DIR,
    INFO_FILE,
    SPLITS,
    DatasetInfo,
    SplitInfo,
    load_info,
)
from pipeline.data.shards import (
    PIXELS,
    STORAGE_DTYPES,
    hash_header,
    record_bytes,
    record_dtype,
    records_per_block,
)
from pipeline.errors import PipelineError

# What any prepare, of this format or the last, names a shard.
_SHARD_NAME = re.compile(r"^[A-Za-z0-9_]+-\d{5}-of-\d{5}\.(bin|tfrecord)$")

Stamp = tuple[tuple[int, int, int] | None, ...]
# Resolved data dir -> (the stamp it was verified at, its info).
_VERIFIED: dict[Path, tuple[Stamp, DatasetInfo]] = {}


@dataclass(frozen=True)
class _Part:
    """The base images or one second domain: what is checked the same way for each.

    Attributes:
        key: the prefix of its keys in info.json: "" for the base,
            "domains.<name>." for a domain.
        where: what a content message names: the data directory, or the domain's folder.
    """

    key: str
    where: Path
    image_shape: tuple[int, int, int]
    record_bytes: int
    splits: dict[str, SplitInfo]
    content_hash: str
    paired: bool = False
    storage: str = PIXELS


def _parts(data_dir: Path, info: DatasetInfo) -> list[_Part]:
    """The base, then each domain in info.json's order."""
    if info.storage not in STORAGE_DTYPES:
        raise PipelineError(
            f"{data_dir / INFO_FILE}: storage is {info.storage[:32]!r} (allowed: "
            f"{', '.join(STORAGE_DTYPES)}); {_fix(data_dir)}"
        )
    base = (info.image_shape, info.record_bytes, info.splits, info.content_hash)
    parts = [_Part("", data_dir, *base, storage=info.storage)]
    for name, domain in info.domains.items():
        parts.append(
            _Part(
                f"{DOMAINS_DIR}.{name}.",
                data_dir / DOMAINS_DIR / name,
                domain.image_shape,
                domain.record_bytes,
                domain.splits,
                domain.content_hash,
                domain.paired,
            )
        )
    return parts


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
    parts = _parts(data_dir, info)
    _check_info(data_dir, info, parts)
    _check_files(data_dir, info, parts)
    _check_content(data_dir, info, parts)
    _VERIFIED[key] = (stamp, info)
    return info


def _fix(data_dir: Path) -> str:
    """The remedy that ends every message."""
    return (
        "the prepared data is damaged or was edited: restore it with "
        f"`dvc checkout {data_dir}` or rebuild it with `dvc repro prepare`"
    )


def _shard_stamps(data_dir: Path, info: DatasetInfo) -> Stamp:
    """The stamps of every listed shard (base, then domains), then of the domain folders."""
    splits = [info.splits, *(domain.splits for domain in info.domains.values())]
    paths = [data_dir / name for each in splits for split in SPLITS for name in each[split].shards]
    folders = [data_dir / DOMAINS_DIR, *(data_dir / DOMAINS_DIR / name for name in info.domains)]
    return tuple(_file_stamp(path) for path in paths + folders)


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    """(size, mtime_ns, inode), or None for a missing file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _check_info(data_dir: Path, info: DatasetInfo, parts: list[_Part]) -> None:
    """info.json must agree with itself: record size, shard counts, class counts, pairing."""
    for part in parts:
        _check_part_info(data_dir, part)
        if part.paired:
            _check_paired(data_dir, info, part)


def _check_part_info(data_dir: Path, part: _Part) -> None:
    path = data_dir / INFO_FILE
    expected = record_bytes(part.image_shape, part.storage)
    if part.record_bytes != expected:
        values = "*".join(str(d) for d in part.image_shape)
        size = STORAGE_DTYPES[part.storage].itemsize
        per_value = "pixel bytes" if size == 1 else f"values of {size} bytes"
        raise PipelineError(
            f"{path}: {part.key}record_bytes is {part.record_bytes}, expected {expected} for "
            f"{part.key}image_shape {list(part.image_shape)} ({values} {per_value} + 8 label "
            f"bytes); {_fix(data_dir)}"
        )
    for name in SPLITS:
        split = part.splits[name]
        if len(split.shard_records) != len(split.shards):
            raise PipelineError(
                f"{path}: {part.key}splits.{name} lists {len(split.shards)} shards but "
                f"{len(split.shard_records)} shard_records, expected one per shard; "
                f"{_fix(data_dir)}"
            )
        found = {"shard_records": sum(split.shard_records), "class_counts": sum(split.class_counts)}
        for key, total in found.items():
            if total != split.count:
                raise PipelineError(
                    f"{path}: {part.key}splits.{name}.count is {split.count}, but its {key} sum "
                    f"to {total}; {_fix(data_dir)}"
                )


def _check_paired(data_dir: Path, info: DatasetInfo, part: _Part) -> None:
    """A paired domain has the base's examples: the same counts per split and class."""
    for name in SPLITS:
        mine, base = part.splits[name], info.splits[name]
        if (mine.count, mine.class_counts) != (base.count, base.class_counts):
            raise PipelineError(
                f"{data_dir / INFO_FILE}: {part.key}paired is true, but its splits.{name} has "
                f"{mine.count} examples (class_counts {mine.class_counts}), the base's "
                f"{base.count} ({base.class_counts}); {_fix(data_dir)}"
            )


def _check_files(data_dir: Path, info: DatasetInfo, parts: list[_Part]) -> None:
    """Every listed shard exists with the size of its records; no unlisted shard or domain."""
    listed = set()
    for part in parts:
        for name in SPLITS:
            split = part.splits[name]
            for shard, records in zip(split.shards, split.shard_records, strict=True):
                _check_shard(data_dir, data_dir / shard, records, part.record_bytes)
                listed.add(shard)
    _check_no_stray_shards(data_dir, data_dir, listed)
    _check_domain_folders(data_dir, info, listed)


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


def _check_no_stray_shards(data_dir: Path, folder: Path, listed: set[str]) -> None:
    """Reject a shard-named file in `folder` that info.json does not list.

    Readers would ignore it, but it means the directory mixes two
    preparations or was edited by hand, so the listed shards may not be the
    ones meant. Files not named like a shard are not ours and are ignored.
    """
    prefix = folder.relative_to(data_dir).as_posix() + "/" if folder != data_dir else ""
    for entry in sorted(os.listdir(folder)):
        if _SHARD_NAME.match(entry) and prefix + entry not in listed:
            raise PipelineError(
                f"{folder / entry}: a shard file that {INFO_FILE} does not list "
                f"(it lists {len(listed)}); {_fix(data_dir)}"
            )


def _check_domain_folders(data_dir: Path, info: DatasetInfo, listed: set[str]) -> None:
    """Under domains/, only the listed domains' folders, each without unlisted shards.

    A folder of a domain info.json does not list is the leftover of another
    preparation: refused like a stray shard.
    """
    domains = data_dir / DOMAINS_DIR
    if not domains.is_dir():
        return
    for entry in sorted(os.listdir(domains)):
        if entry not in info.domains:
            prepared = ", ".join(info.domains) or "none"
            raise PipelineError(
                f"{domains / entry}: a domain folder that {INFO_FILE} does not list (it lists "
                f"{prepared}); {_fix(data_dir)}"
            )
        _check_no_stray_shards(data_dir, domains / entry, listed)


def _check_content(data_dir: Path, info: DatasetInfo, parts: list[_Part]) -> None:
    """Recompute each content_hash from the files; check the labels against class_counts."""
    for part in parts:
        sizes = {name: part.splits[name].count for name in SPLITS}
        hasher = hashlib.sha256(hash_header(part.image_shape, sizes, part.storage))
        counts = {name: _hash_split(data_dir, info, part, name, hasher) for name in SPLITS}
        found = hasher.hexdigest()
        if found != part.content_hash:
            raise PipelineError(
                f"{part.where}: its shards hash to {found[:12]}, expected {part.key}content_hash "
                f"{part.content_hash[:12]} from {INFO_FILE} (the hash covers image_shape, the "
                f"split counts and every record); {_fix(data_dir)}"
            )
        for name in SPLITS:
            _check_class_counts(data_dir, info, part, name, counts[name])


def _hash_split(
    data_dir: Path, info: DatasetInfo, part: _Part, split: str, hasher: hashlib._Hash
) -> np.ndarray:
    """Feed a split's shards to `hasher`; return how many records hold each label.

    Reads whole records, about 1 MiB at a time, into one reused buffer. The
    result has num_classes + 1 bins; the last counts labels outside
    [0, num_classes).
    """
    dtype = record_dtype(part.image_shape, part.storage)
    buffer = bytearray(records_per_block(part.image_shape, part.storage) * dtype.itemsize)
    view = memoryview(buffer)
    counts = np.zeros(info.num_classes + 1, np.int64)
    for shard in part.splits[split].shards:
        with (data_dir / shard).open("rb", buffering=0) as f:
            while n := f.readinto(buffer):
                hasher.update(view[:n])
                labels = np.frombuffer(buffer, dtype, count=n // dtype.itemsize)["label"]
                inside = (labels >= 0) & (labels < info.num_classes)
                counts += np.bincount(
                    np.where(inside, labels, info.num_classes), minlength=len(counts)
                )
    return counts


def _check_class_counts(
    data_dir: Path, info: DatasetInfo, part: _Part, split: str, found: np.ndarray
) -> None:
    """The labels read must match num_classes and <part>splits.<split>.class_counts."""
    path = data_dir / INFO_FILE
    outside = int(found[-1])
    if outside:
        shards = f"{part.key}{split}" if part.key else split
        raise PipelineError(
            f"{path}: num_classes is {info.num_classes}, but the {shards} shards hold {outside} "
            f"labels outside [0, {info.num_classes}); {_fix(data_dir)}"
        )
    key = f"{part.key}splits.{split}.class_counts"
    recorded = part.splits[split].class_counts
    if len(recorded) != info.num_classes:
        raise PipelineError(
            f"{path}: {key} has {len(recorded)} entries, expected "
            f"num_classes = {info.num_classes}; {_fix(data_dir)}"
        )
    for label, (want, got) in enumerate(zip(recorded, found[:-1].tolist(), strict=True)):
        if want != got:
            raise PipelineError(
                f"{path}: {key}[{label}] is {want}, but the shards hold "
                f"{got} examples of class {label}; {_fix(data_dir)}"
            )
