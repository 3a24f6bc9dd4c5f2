"""The IDX format of the original MNIST files, read with numpy alone.

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

import numpy as np

from pipeline.data.sources import RawData
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


def read_idx_dir(path: str | Path, scratch: Path) -> RawData:
    """Read the four MNIST-style IDX files in `path`, both parts concatenated.

    The number of classes is the largest label + 1; a gap shows up later as
    an empty class.

    Args:
        path: the directory, as given in `prepare.idx.path`.
        scratch: a directory for decompressed files.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise PipelineError(f"prepare.idx.path: {directory} is not a directory")
    chunks, labels = [], []
    for _, image_stem, label_stem in IDX_FILES:
        image_file = find_idx_file(directory, image_stem)
        label_file = find_idx_file(directory, label_stem)
        images = read_idx(image_file, scratch)
        part_labels = read_idx(label_file, scratch)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise PipelineError(
                f"{image_file}: expected unsigned bytes of shape (N, H, W), "
                f"got {images.dtype} of shape {images.shape}"
            )
        if part_labels.ndim != 1 or part_labels.dtype.kind not in "iu":
            raise PipelineError(
                f"{label_file}: expected integers of shape (N,), "
                f"got {part_labels.dtype} of shape {part_labels.shape}"
            )
        if len(part_labels) != len(images):
            raise PipelineError(
                f"{label_file}: {len(part_labels)} labels but {image_file.name} "
                f"has {len(images)} images"
            )
        chunks.append(images[..., np.newaxis])  # a view: the memmap stays unread
        labels.append(np.asarray(part_labels, dtype=np.int64))
    all_labels = np.concatenate(labels)
    num_classes = int(all_labels.max()) + 1 if len(all_labels) else 0
    return RawData(
        source=f"idx:{path}",
        chunks=chunks,
        labels=all_labels,
        num_classes=num_classes,
    )
