"""The on-disk format of a prepared split: fixed-length binary records, numpy only.

A record is an image's uint8 pixels (H * W * C bytes, row-major HWC) followed
by its label as int64 little-endian (8 bytes); a shard is records back to
back, with no header and no framing (CIFAR-10's binary layout). A dataset of
points (the `ring` source's 2-D samples) stores float32 coordinates instead
of pixels (`storage` "float32", shape (1, 1, D)), little-endian, the same way. Every byte is
fixed by the pixels and labels alone, so the same data gives the same files
on every machine; a protobuf-based format does not, because protobuf
versions serialize a map's entries in different orders.

`content_hash` is sha256 over `hash_header` followed by the train shards and
then the test shards, byte for byte, so it can be rechecked from the files
without parsing them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only a type here: readers of shards must not depend on the sources
    from pipeline.data.raw import RawData

LABEL_DTYPE = np.dtype("<i8")
LABEL_BYTES = LABEL_DTYPE.itemsize
# What a record's values are stored as: pixels, or a point's coordinates (read as they are).
PIXELS = "uint8"
POINTS = "float32"
STORAGE_DTYPES = {PIXELS: np.dtype(np.uint8), POINTS: np.dtype("<f4")}
# Read, write and hash in blocks of about this size, so memory stays flat.
BLOCK_BYTES = 1 << 20


def shard_name(split: str, index: int, total: int) -> str:
    """The file name of shard `index` (0-based) of `total` of `split`."""
    return f"{split}-{index:05d}-of-{total:05d}.bin"


def record_bytes(image_shape: tuple[int, ...], storage: str = PIXELS) -> int:
    """Bytes per record: the values, then the 8-byte label."""
    return math.prod(image_shape) * STORAGE_DTYPES[storage].itemsize + LABEL_BYTES


def record_dtype(image_shape: tuple[int, ...], storage: str = PIXELS) -> np.dtype:
    """A numpy record type with exactly the on-disk layout of one record.

    numpy packs the fields (no alignment padding) unless asked otherwise, so
    an array of these is byte for byte a shard.
    """
    return np.dtype([("image", STORAGE_DTYPES[storage], image_shape), ("label", LABEL_DTYPE)])


def records_per_block(image_shape: tuple[int, ...], storage: str = PIXELS) -> int:
    """Whole records in about `BLOCK_BYTES` (at least one)."""
    return max(1, BLOCK_BYTES // record_bytes(image_shape, storage))


def hash_header(
    image_shape: tuple[int, ...], split_sizes: Mapping[str, int], storage: str = PIXELS
) -> bytes:
    """The bytes that start `content_hash`.

    Shape and split sizes go into the hash: the same bytes cut differently
    differ. So does the storage of points (pixels leave it out, so their
    hashes are those from before points existed).
    """
    header: dict = {"image_shape": list(image_shape), "splits": dict(split_sizes)}
    if storage != PIXELS:
        header["storage"] = storage
    return json.dumps(header, sort_keys=True).encode()


def write_shards(
    data: RawData,
    indices: np.ndarray,
    split: str,
    out_dir: Path,
    shard_size: int,
    hasher: hashlib._Hash,
) -> tuple[list[str], list[int]]:
    """Write the examples `indices` of `data`, in that order, as record shards.

    Args:
        data: the source.
        indices: global example indices, in the order to write them.
        split: the split name, used in the file names.
        out_dir: the directory to write into.
        shard_size: examples per shard (the last one may hold fewer).
        hasher: updated with exactly the bytes written, in order.

    Returns:
        The shard file names relative to `out_dir`, and the records in each.
    """
    total = max(1, math.ceil(len(indices) / shard_size))
    names, counts = [], []
    for shard in range(total):
        shard_indices = indices[shard * shard_size : (shard + 1) * shard_size]
        name = shard_name(split, shard, total)
        with (out_dir / name).open("wb") as f:
            for block in _record_blocks(data, shard_indices):
                f.write(block)
                hasher.update(block)
        names.append(name)
        counts.append(len(shard_indices))
    return names, counts


def _record_blocks(data: RawData, indices: np.ndarray) -> Iterator[bytes]:
    """The records of `indices`, as bytes, a block of about `BLOCK_BYTES` at a time."""
    dtype = record_dtype(data.image_shape, data.storage)
    step = records_per_block(data.image_shape, data.storage)
    for start in range(0, len(indices), step):
        chunk = indices[start : start + step]
        block = np.empty(len(chunk), dtype)
        block["image"] = data.images(chunk)
        block["label"] = data.labels[chunk]
        yield block.tobytes()


def source_hash(data: RawData) -> str:
    """sha256 (hex) of the source as read: all images in source order, then all labels.

    Labels are hashed as int64 little-endian. Images are hashed in slices of
    about `BLOCK_BYTES`, so a memory-mapped source is never read in whole.
    A source with its own split or second domains (the folder sources) adds
    them after that, so a file moved between `trainA/` and `testA/`, or a
    changed `B`, changes the hash too; a source without them hashes as before.
    """
    hasher = hashlib.sha256()
    _hash_source_part(data, hasher)
    for name in sorted(data.domains):
        hasher.update(name.encode())
        _hash_source_part(data.domains[name].data, hasher)
    return hasher.hexdigest()


def _hash_source_part(data: RawData, hasher: hashlib._Hash) -> None:
    """Images, labels, then the source's own split (as sorted int64 indices) if it has one."""
    step = records_per_block(data.image_shape)
    for chunk in data.chunks:
        for start in range(0, len(chunk), step):
            hasher.update(np.ascontiguousarray(chunk[start : start + step]))
    hasher.update(np.ascontiguousarray(data.labels, dtype=LABEL_DTYPE))
    if data.split is not None:
        for name in ("train", "test"):
            hasher.update(np.ascontiguousarray(np.sort(data.split[name]), dtype=LABEL_DTYPE))
