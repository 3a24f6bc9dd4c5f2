"""The original MNIST files (or any four alike) as a source, read with numpy alone.

`prepare: {source: {kind: idx, path: data/raw/mnist}}` reads the train and
t10k images and labels in that folder: full MNIST, offline.

An IDX file is: two zero bytes, a dtype code, the number of dimensions `n`,
then `n` big-endian uint32 sizes, then the data in C order, big-endian.
Plain files are memory-mapped; gzipped ones are first streamed into a
scratch directory and then mapped, so neither is read into memory whole.
"""

from __future__ import annotations

import gzip
import math
import shutil
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from pipeline.data.raw import RawData
from pipeline.data.sources.base import DataSource
from pipeline.errors import PipelineError

# IDX dtype codes -> numpy dtypes (the data is big-endian).
_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# (our split part, file stem); the source's own train/t10k split is discarded.
IDX_FILES = (
    ("train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("t10k", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)


class Idx(DataSource):
    """Four MNIST-style IDX files in one folder, both parts pooled.

    The number of classes is the largest label + 1; a gap shows up later as
    an empty class.

    Attributes:
        path: the folder holding `train-images-idx3-ubyte`,
            `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
            `t10k-labels-idx1-ubyte`, each plain or `.gz`, with `-idx` or
            `.idx` in the name. Recorded in info.json as given.
    """

    kind: Literal["idx"] = "idx"
    path: str = "data/raw/mnist"

    def read(self, scratch: Path) -> RawData:
        """Map the four files (decompressing any `.gz` into `scratch`) and check they agree."""
        directory = Path(self.path)
        if not directory.is_dir():
            raise PipelineError(f"prepare.source.path: {directory} is not a directory")
        chunks, labels = [], []
        for _, image_stem, label_stem in IDX_FILES:
            images, part_labels = _read_part(directory, image_stem, label_stem, scratch)
            chunks.append(images[..., np.newaxis])  # a view: the memmap stays unread
            labels.append(np.asarray(part_labels, dtype=np.int64))
        all_labels = np.concatenate(labels)
        num_classes = int(all_labels.max()) + 1 if len(all_labels) else 0
        return RawData(
            source=f"idx:{self.path}",
            chunks=chunks,
            labels=all_labels,
            num_classes=num_classes,
        )


def _read_part(
    directory: Path, image_stem: str, label_stem: str, scratch: Path
) -> tuple[np.ndarray, np.ndarray]:
    """One part's (train or t10k) images (N, H, W) and labels (N,), checked against each other."""
    image_file = find_idx_file(directory, image_stem)
    label_file = find_idx_file(directory, label_stem)
    images = read_idx(image_file, scratch)
    labels = read_idx(label_file, scratch)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise PipelineError(
            f"{image_file}: expected unsigned bytes of shape (N, H, W), "
            f"got {images.dtype} of shape {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise PipelineError(
            f"{label_file}: expected integers of shape (N,), "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    if len(labels) != len(images):
        raise PipelineError(
            f"{label_file}: {len(labels)} labels but {image_file.name} has {len(images)} images"
        )
    return images, labels


def read_idx(path: str | Path, scratch: Path) -> np.ndarray:
    """Read one IDX file, gzipped (`.gz`) or plain, as a read-only array.

    Args:
        path: the file.
        scratch: a directory to decompress a `.gz` file into.

    Returns:
        An array (usually an `np.memmap`) with the shape and dtype in its header.

    Raises:
        PipelineError: one line naming the file and the problem.
    """
    path = Path(path)
    if path.suffix != ".gz":
        return _map_idx(path, shown=path)
    fd, name = tempfile.mkstemp(prefix=f"{path.stem}.", dir=scratch)
    plain = Path(name)
    try:
        with open(fd, "wb") as dst, gzip.open(path, "rb") as src:
            shutil.copyfileobj(src, dst, length=1 << 20)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise PipelineError(f"{path}: not a complete gzip file ({err})") from None
    return _map_idx(plain, shown=path)


def _map_idx(path: Path, shown: Path) -> np.ndarray:
    """Validate the header of the plain IDX file `path` and map its data."""
    size = path.stat().st_size
    with path.open("rb") as f:
        magic = f.read(4)
        if len(magic) < 4:
            raise PipelineError(f"{shown}: truncated ({size} bytes, shorter than an IDX header)")
        code, ndim = magic[2], magic[3]
        if magic[:2] != b"\0\0" or code not in _DTYPES or ndim == 0:
            raise PipelineError(f"{shown}: bad magic number 0x{magic.hex()} (not an IDX file)")
        raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise PipelineError(f"{shown}: truncated inside its header ({size} bytes)")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = _DTYPES[code]
    offset = 4 + 4 * ndim
    expected = offset + math.prod(dims) * dtype.itemsize
    if size < expected:
        raise PipelineError(
            f"{shown}: truncated: its header declares shape {dims} ({expected} bytes) "
            f"but it has {size} bytes"
        )
    if size > expected:
        raise PipelineError(
            f"{shown}: {size - expected} unexpected bytes after the data of shape {dims}"
        )
    if math.prod(dims) == 0:
        return np.zeros(dims, dtype)  # mmap cannot map zero bytes
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=dims)


def find_idx_file(directory: Path, stem: str) -> Path:
    """The file for `stem` in `directory`: plain or `.gz`, `-idx` or `.idx` spelling."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, f"{stem}.gz", dotted, f"{dotted}.gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    expected = ", ".join(f"{s}[.gz]" for _, *stems in IDX_FILES for s in stems)
    raise PipelineError(f"{directory}: {stem}[.gz] is missing (expected: {expected})")
