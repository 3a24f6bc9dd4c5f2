"""`RawData`: a whole source as uint8 images with labels, before the split.

Every source (`pipeline.data.sources`) reads into one: one or more image
chunks that support random access (in-memory arrays or `np.memmap`s backed
by files in a scratch directory), so that writing the shards in a shuffled
order never needs the whole dataset in memory.

Two optional parts serve sources of two image domains (CycleGAN's and
pix2pix's folders): `split`, the train/test split the user made, kept
instead of the seeded one; and `domains`, a second domain's images, either
paired with the base (image i of each shows the same scene) or with a pool
and split of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.data.shards import PIXELS, POINTS, STORAGE_DTYPES
from pipeline.errors import PipelineError

ALLOWED_CHANNELS = (1, 3)


@dataclass
class RawData:
    """A whole source, concatenated over its own splits.

    Attributes:
        source: the name recorded in `info.json`.
        chunks: uint8 arrays of shape (n_i, H, W, C); together they hold the
            examples 0 .. N-1 in order.
        labels: int64 array of shape (N,).
        num_classes: labels must lie in [0, num_classes).
        class_names: names for the labels, if the source has them.
        extra: source details worth recording in `info.json`.
        split: the source's own split, if it has one to keep: {"train": indices,
            "test": indices} of examples, disjoint and covering all of them;
            None to split by class with the seed.
        domains: second domains the source read beside these images, by name.
        storage: `uint8` pixels, or `float32` for points: each example a
            (1, 1, D) array of coordinates (the `ring` source's), stored and
            read as they are.
    """

    source: str
    chunks: list[np.ndarray]
    labels: np.ndarray
    num_classes: int
    class_names: list[str] | None = None
    extra: dict | None = None
    split: dict[str, np.ndarray] | None = None
    domains: dict[str, SourceDomain] = field(default_factory=dict)
    storage: str = PIXELS

    def __post_init__(self) -> None:
        self._offsets = np.cumsum([0] + [len(c) for c in self.chunks])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.chunks[0].shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def image(self, index: int) -> np.ndarray:
        """The image at global `index`, as a C-contiguous uint8 array."""
        chunk = int(np.searchsorted(self._offsets, index, side="right")) - 1
        return np.ascontiguousarray(self.chunks[chunk][index - self._offsets[chunk]])

    def images(self, indices: np.ndarray) -> np.ndarray:
        """The images at global `indices`, in that order, as one (n, H, W, C) uint8 array.

        One fancy-indexing read per chunk instead of one call per image: the
        shards are written a block of records at a time.
        """
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), *self.image_shape), STORAGE_DTYPES[self.storage])
        which = np.searchsorted(self._offsets, indices, side="right") - 1
        for chunk in np.unique(which):
            rows = which == chunk
            out[rows] = self.chunks[chunk][indices[rows] - self._offsets[chunk]]
        return out

    def validate(self) -> None:
        """Check shapes, dtypes and labels; PipelineError naming the source if wrong."""
        if not self.chunks or len(self) == 0:
            raise PipelineError(f"{self.source}: the source has no examples")
        shapes = {c.shape[1:] for c in self.chunks}
        if len(shapes) != 1:
            raise PipelineError(f"{self.source}: its splits have different image shapes {shapes}")
        shape = next(iter(shapes))
        if self.storage == POINTS:
            self._validate_points(shape)
        elif len(shape) != 3 or shape[2] not in ALLOWED_CHANNELS or min(shape) < 1:
            raise PipelineError(
                f"{self.source}: image shape {shape} is not (H, W, C) with C in {ALLOWED_CHANNELS}"
            )
        for chunk in self.chunks:
            if chunk.dtype != STORAGE_DTYPES[self.storage]:
                raise PipelineError(
                    f"{self.source}: examples are {chunk.dtype}, expected {self.storage}"
                )
        if self.labels.shape != (len(self),):
            raise PipelineError(
                f"{self.source}: {self.labels.shape[0]} labels for {len(self)} images"
            )
        bad = (self.labels < 0) | (self.labels >= self.num_classes)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise PipelineError(
                f"{self.source}: label {int(self.labels[first])} at example {first} is "
                f"outside [0, {self.num_classes})"
            )
        if self.split is not None:
            self._validate_split()
        for name, domain in self.domains.items():
            domain.validate(name, self)

    def _validate_points(self, shape: tuple[int, ...]) -> None:
        """Points are (1, 1, D) finite coordinates, and come without second domains."""
        if len(shape) != 3 or shape[:2] != (1, 1) or shape[2] < 1:
            raise PipelineError(f"{self.source}: point shape {shape} is not (1, 1, D)")
        if not all(np.isfinite(chunk).all() for chunk in self.chunks):
            raise PipelineError(f"{self.source}: a point has a NaN or infinite coordinate")
        if self.domains:
            raise PipelineError(f"{self.source}: points have no second image domain")

    def _validate_split(self) -> None:
        """The source's own split must be train and test, covering each example once."""
        assert self.split is not None
        if sorted(self.split) != ["test", "train"]:
            raise PipelineError(f"{self.source}: its split has parts {sorted(self.split)}")
        together = np.concatenate([self.split["train"], self.split["test"]])
        if not np.array_equal(np.sort(together), np.arange(len(self))):
            raise PipelineError(
                f"{self.source}: its train and test parts do not cover each example once"
            )


@dataclass
class SourceDomain:
    """A second image domain read by the source (named `B` by the folder sources).

    Attributes:
        data: its images and labels, in the base's label space. A paired
            domain has exactly the base's examples in the base's order (and
            so takes the base's split); an unpaired one has its own, and its
            own `split` or a seeded one.
        paired: image i shows the same scene as the base's image i.
    """

    data: RawData
    paired: bool

    def validate(self, name: str, base: RawData) -> None:
        """Check the domain alone, then against the base; PipelineError naming both."""
        self.data.validate()
        if self.data.domains:
            raise PipelineError(f"{base.source}: domain {name!r} has domains of its own")
        if self.data.num_classes != base.num_classes:
            raise PipelineError(
                f"{base.source}: domain {name!r} has {self.data.num_classes} classes, "
                f"the base images {base.num_classes}"
            )
        if not self.paired:
            return
        if self.data.split is not None:
            raise PipelineError(f"{base.source}: paired domain {name!r} has a split of its own")
        if len(self.data) != len(base) or not np.array_equal(self.data.labels, base.labels):
            raise PipelineError(
                f"{base.source}: paired domain {name!r} has {len(self.data)} examples, "
                f"not the base's {len(base)} with the same labels"
            )
