"""`ScratchImages`: uint8 images of one shape appended to a file, read back by index.

A source too large for memory writes its decoded images here, one at a
time, and `prepare` reads them back in the shuffled order of the shards.
Reads go through `os.pread`, not `np.memmap`: every page of a memory map
that is touched counts in the process's resident memory until the map is
closed, so writing 2 GB of shards from a map grows the RSS by 2 GB; with
`pread` the pages live in the kernel's page cache, which the kernel
reclaims, and the process holds one block at a time.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np


class ScratchImages:
    """An append-only file of uint8 images of `image_shape`, indexable like an array.

    Supports what `RawData` and the shard writer ask of a chunk: `len`,
    `shape`, `dtype`, and indexing by an int, a slice with step 1, or an
    array of ints (a copy in each case, never a view).
    """

    dtype = np.dtype(np.uint8)

    def __init__(self, path: Path, image_shape: tuple[int, int, int]) -> None:
        self.image_shape = tuple(image_shape)
        self._record = math.prod(self.image_shape)
        self._count = 0
        # Open for the chunk's lifetime; closed by close() or when it is collected.
        self._file = open(path, "w+b")  # noqa: SIM115

    def append(self, image: np.ndarray) -> None:
        """Write one image (uint8, `image_shape`) after the others."""
        if image.dtype != self.dtype or image.shape != self.image_shape:
            raise ValueError(f"expected uint8 {self.image_shape}, got {image.dtype} {image.shape}")
        self._file.write(np.ascontiguousarray(image).tobytes())
        self._count += 1

    def finish(self) -> ScratchImages:
        """Flush what was appended, so that reads see it; returns self."""
        self._file.flush()
        return self

    def close(self) -> None:
        self._file.close()

    def __len__(self) -> int:
        return self._count

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._count, *self.image_shape)

    def __getitem__(self, key: int | slice | np.ndarray) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(self._count)
            if step != 1:
                raise IndexError("ScratchImages slices take no step")
            return self._read_run(start, max(0, stop - start))
        if isinstance(key, (int, np.integer)):
            index = int(key) + (self._count if key < 0 else 0)
            if not 0 <= index < self._count:
                raise IndexError(f"index {int(key)} out of range for {self._count} images")
            return self._read_run(index, 1)[0]
        indices = np.asarray(key, dtype=np.int64)
        out = np.empty((len(indices), *self.image_shape), self.dtype)
        for row, index in enumerate(indices):
            out[row] = self[int(index)]
        return out

    def _read_run(self, start: int, count: int) -> np.ndarray:
        """`count` consecutive images from `start`, in one read."""
        size = count * self._record
        data = os.pread(self._file.fileno(), size, start * self._record)
        if len(data) != size:
            raise OSError(f"{self._file.name}: short read ({len(data)} of {size} bytes)")
        return np.frombuffer(data, self.dtype).reshape(count, *self.image_shape).copy()
