"""Reading a prepared split with NumPy alone: memory-mapped shards, a seeded batch stream.

The shards are fixed-length records (`pipeline.data.shards`), so a shard is
an array of `record_dtype` on disk: memory-mapped, any example is one index
away, and nothing but NumPy is needed (a JAX process never loads
TensorFlow). Training's batches come from `BatchStream`: each pass over
the split is shuffled by a generator seeded with (run seed, pass number),
never NumPy's global generator, which Keras uses for array inputs; so the
batch at any position of the stream follows from the seed alone, and a
resumed run starts at a position by arithmetic instead of replaying the
stream.

A dataset with second domains (`prepare.domains`, or a folder source's `B`)
is read the same way, by domain name: `A` is the base images, and
`SplitRecords.open(data_dir, split, domain)` or `load_domain` read any
other. A paired domain's record i shows the base's record i, so the same
indices give matching examples from both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from pipeline.data.info import BASE_DOMAIN, DatasetInfo
from pipeline.data.shards import PIXELS, record_dtype
from pipeline.data.verify import verify_prepared
from pipeline.errors import PipelineError

PIXEL_SCALE = np.float32(127.5)


def scaled(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels as float32 in [-1, 1] (the same operations as every other reader);
    float32 points as they are."""
    if pixels.dtype != np.uint8:
        return pixels.astype(np.float32)
    return pixels.astype(np.float32) / PIXEL_SCALE - np.float32(1.0)


@dataclass(frozen=True)
class SplitRecords:
    """One split's records, memory-mapped, shard after shard in written order.

    Attributes:
        shards: one structured array (`image`, `label`) per shard file.
    """

    shards: tuple[np.ndarray, ...]

    @classmethod
    def open(cls, data_dir: str | Path, split: str, domain: str = BASE_DOMAIN) -> SplitRecords:
        """Map a split's shards after checking the directory against its info.json.

        Args:
            data_dir: the prepared dataset.
            split: `train` or `test`.
            domain: `A` (the base images) or a name from `domain_names`.

        Raises:
            PipelineError: an unknown split or domain, or a damaged or edited directory.
        """
        data_dir = Path(data_dir)
        info = verify_prepared(data_dir)
        image_shape, split_info = info.domain_split(domain, split)
        dtype = record_dtype(image_shape, info.storage if domain == BASE_DOMAIN else PIXELS)
        shards = tuple(
            np.memmap(data_dir / name, dtype=dtype, mode="r") for name in split_info.shards
        )
        return cls(shards)

    def __len__(self) -> int:
        return sum(len(shard) for shard in self.shards)

    @cached_property
    def _starts(self) -> np.ndarray:
        """Each shard's first index in the split (and the split's length last): asked per batch."""
        return np.cumsum([0, *(len(shard) for shard in self.shards)])

    def take(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The examples at `indices` of the split: float32 images in [-1, 1], int32 labels."""
        starts = self._starts
        shard_of = np.searchsorted(starts, indices, side="right") - 1
        first = self.shards[0]
        pixels = np.empty((len(indices), *first.dtype["image"].shape), first.dtype["image"].base)
        labels = np.empty(len(indices), np.int64)
        for shard_index in np.unique(shard_of):
            chosen = shard_of == shard_index
            records = self.shards[shard_index][indices[chosen] - starts[shard_index]]
            pixels[chosen], labels[chosen] = records["image"], records["label"]
        return scaled(pixels), labels.astype(np.int32)

    def head(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The first `count` examples, in written order."""
        return self.take(np.arange(min(count, len(self))))


def load_arrays(
    data_dir: str | Path, split: str, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The first `limit` examples of a split (all if None) as NumPy arrays.

    Returns:
        float32 images (n, H, W, C) in [-1, 1] and int32 labels (n,).
    """
    if limit is not None and limit < 0:
        raise PipelineError(f"load_arrays: limit must be >= 0, got {limit}")
    records = SplitRecords.open(data_dir, split)
    return records.head(len(records) if limit is None else limit)


def domain_names(info: DatasetInfo) -> list[str]:
    """The domains of a prepared dataset: `A` (the base images), then its second domains."""
    return info.domain_names()


def load_domain(data_dir: str | Path, domain: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A whole split of one domain, in written order; `A` gives exactly `load_arrays`.

    Args:
        data_dir: the prepared dataset.
        domain: `A` or a name from `domain_names(info)`.
        split: `train` or `test`.

    Returns:
        float32 images (n, H, W, C) in [-1, 1] and int32 labels (n,), the
        dtypes of every other reader.

    Raises:
        PipelineError: an unknown domain (naming the ones prepared) or split,
            or a damaged directory.
    """
    records = SplitRecords.open(data_dir, split, domain)
    return records.head(len(records))


class Examples(Protocol):
    """What a `BatchStream` draws from: a split on disk, or arrays in memory."""

    def __len__(self) -> int: ...

    def take(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class ArrayExamples:
    """Examples held in memory: float32 images in [-1, 1] and int32 labels."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.images[indices], self.labels[indices]


class BatchStream:
    """An endless stream of shuffled batches, the same for the same seed, from any position.

    Pass p over the split visits the examples in the order of
    `np.random.default_rng([seed, p]).permutation(n)`; the passes follow
    each other and batches run across their boundaries, so no example is
    skipped. Batch b of the stream holds positions [b * size, (b + 1) * size)
    of that sequence: a resumed run starts at batch b directly.

    Args:
        records: the examples (a split's `SplitRecords`, or `ArrayExamples`).
        batch_size: examples per batch (the global batch, all replicas).
        seed: fixes the order of every pass.
        start_batch: the first batch to yield (the batches consumed before a resume).
        labels: yield (images, labels); otherwise images alone.
    """

    def __init__(
        self,
        records: Examples,
        batch_size: int,
        seed: int,
        start_batch: int = 0,
        labels: bool = False,
    ):
        self.records = records
        self.batch_size = batch_size
        self.seed = seed
        self.position = start_batch * batch_size
        self.labels = labels
        self._order: tuple[int, np.ndarray] | None = None

    def pass_order(self, number: int) -> np.ndarray:
        """The order in which pass `number` visits the examples."""
        if self._order is None or self._order[0] != number:
            rng = np.random.default_rng([self.seed, number])
            self._order = (number, rng.permutation(len(self.records)))
        return self._order[1]

    def indices(self, start: int, count: int) -> np.ndarray:
        """The example indices at stream positions [start, start + count)."""
        size = len(self.records)
        parts = []
        while count:
            number, offset = divmod(start, size)
            taken = min(count, size - offset)
            parts.append(self.pass_order(number)[offset : offset + taken])
            start, count = start + taken, count - taken
        return np.concatenate(parts)

    def __iter__(self) -> Iterator:
        """The batches from the current position on (a generator, as `fit` takes one)."""
        while True:
            images, labels = self.records.take(self.indices(self.position, self.batch_size))
            self.position += self.batch_size
            yield (images, labels) if self.labels else (images,)


def training_stream(
    data_dir: str | Path, batch_size: int, seed: int, start_batch: int, labels: bool
) -> BatchStream:
    """The batches a training fits on, from batch `start_batch` on (both backends use it).

    Args:
        data_dir: the prepared dataset (its training split).
        batch_size: examples per batch, across all replicas.
        seed: fixes the order of every pass.
        start_batch: batches already consumed before a resume.
        labels: batches are (images, labels); otherwise (images,).
    """
    return BatchStream(SplitRecords.open(data_dir, "train"), batch_size, seed, start_batch, labels)
