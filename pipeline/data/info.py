"""`DatasetInfo`: what `prepare` wrote, as recorded in `info.json`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError, typed_first_line

INFO_FILE = "info.json"
FORMAT_VERSION = 2  # 2: fixed-length binary records; 1 was TFRecord protos
SPLITS = ("train", "test")
# The base images' name among the domains (CycleGAN's A); the others are `domains` keys.
BASE_DOMAIN = "A"
# Where a second domain's shards live, relative to the data directory.
DOMAINS_DIR = "domains"
# A domain's name is also its folder under domains/.
_DOMAIN_NAME = re.compile(r"[A-Za-z0-9_]+")

_RERUN_HINT = "run `dvc repro prepare` to (re)create it"


@dataclass(frozen=True)
class SplitInfo:
    """One split of a prepared dataset.

    Attributes:
        count: number of examples.
        class_counts: examples per class, indexed by label.
        shards: shard file names relative to the data directory, in read order.
        shard_records: records in each shard, in the order of `shards`; recorded
            so that a damaged shard can be named with its expected size (the
            shard size that `prepare` used is not recoverable from `count`).
    """

    count: int
    class_counts: list[int]
    shards: list[str]
    shard_records: list[int]

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "class_counts": self.class_counts,
            "shards": self.shards,
            "shard_records": self.shard_records,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SplitInfo:
        return cls(
            count=int(d["count"]),
            class_counts=[int(c) for c in d["class_counts"]],
            shards=[str(s) for s in d["shards"]],
            shard_records=[int(n) for n in d["shard_records"]],
        )


@dataclass(frozen=True)
class DomainInfo:
    """A second image domain stored beside the base images, under `domains/<name>/`.

    Its records have the base's format (pixels, then the int64 label) and
    share its label space (`num_classes`, `class_names`).

    Attributes:
        image_shape: (H, W, C) of this domain's images.
        record_bytes: bytes per record, as for the base.
        paired: record i of each split shows the same scene as the base's
            record i (same counts, same labels); unpaired domains have their
            own counts and order.
        splits: `train` and `test`; shard names are relative to the data
            directory (`domains/<name>/train-00000-of-00001.bin`).
        content_hash: sha256 of this domain alone, defined as the base's.
        extra: details a user of the domain needs (the masked domain's hole).
    """

    image_shape: tuple[int, int, int]
    record_bytes: int
    paired: bool
    splits: dict[str, SplitInfo]
    content_hash: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "image_shape": list(self.image_shape),
            "record_bytes": self.record_bytes,
            "paired": self.paired,
            "splits": {name: split.to_json() for name, split in self.splits.items()},
            "content_hash": self.content_hash,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DomainInfo:
        paired = d["paired"]
        if not isinstance(paired, bool):
            raise TypeError(f"paired is {paired!r}, expected true or false")
        return cls(
            image_shape=_image_shape(d["image_shape"]),
            record_bytes=int(d["record_bytes"]),
            paired=paired,
            splits={str(k): SplitInfo.from_json(v) for k, v in d["splits"].items()},
            content_hash=str(d["content_hash"]),
            extra=dict(d.get("extra") or {}),
        )


def _image_shape(value: Any) -> tuple[int, int, int]:
    shape = tuple(int(v) for v in value)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape {list(shape)} is not (H, W, C) of positive sizes")
    return shape  # type: ignore[return-value]


def _domains_from_json(raw: Any) -> dict[str, DomainInfo]:
    """The `domains` mapping; names must be folder names and must not be the base's."""
    domains = {}
    for name, entry in dict(raw or {}).items():
        if not _DOMAIN_NAME.fullmatch(str(name)) or name == BASE_DOMAIN:
            raise ValueError(
                f"domain name {name!r} is not letters, digits and '_' other than {BASE_DOMAIN!r}"
            )
        domains[str(name)] = DomainInfo.from_json(entry)
    return domains


@dataclass(frozen=True)
class DatasetInfo:
    """A prepared dataset: where it came from, its shape, splits and content hash.

    Attributes:
        source: `mnist5k`, `tfds:<name>` or `idx:<path as given in params>`.
        image_shape: (H, W, C).
        record_bytes: bytes per record in the shards: H * W * C pixels, then
            the label as int64 little-endian (8 bytes). Recorded so that a
            reader needs nothing but this file to cut the shards into records.
        num_classes: labels are in [0, num_classes).
        splits: `train` and `test`.
        content_hash: sha256 (hex) of the image shape, split sizes, and every
            image's bytes and label of both splits in written order (train,
            then test): the same bytes as the shard files, so it can be
            rechecked from them.
        source_hash: sha256 (hex) of the source as read, before the split:
            every image's bytes in source order, then every label as int64
            little-endian. It tells a changed source from a changed split.
        seed: the seed that chose the split.
        test_fraction: the requested fraction of each class put in `test`.
        class_names: the source's names for the labels, when it has them.
        pixel_range: the range the readers (`pipeline.data.stream`) scale pixels to.
        storage: the dtype the pixels are stored as in the shards.
        domains: the second image domains beside the base ("A"), by name, in
            the order they were written; written to info.json only when
            there are any, so a dataset without them has the same file as
            before domains existed.
    """

    source: str
    image_shape: tuple[int, int, int]
    record_bytes: int
    num_classes: int
    splits: dict[str, SplitInfo]
    content_hash: str
    source_hash: str
    seed: int
    test_fraction: float
    class_names: list[str] | None = None
    pixel_range: tuple[float, float] = (-1.0, 1.0)
    storage: str = "uint8"
    split_method: str = "stratified"
    extra: dict[str, Any] = field(default_factory=dict)
    domains: dict[str, DomainInfo] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = {
            "format_version": FORMAT_VERSION,
            "source": self.source,
            "source_hash": self.source_hash,
            "image_shape": list(self.image_shape),
            "record_bytes": self.record_bytes,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "splits": {name: split.to_json() for name, split in self.splits.items()},
            "content_hash": self.content_hash,
            "seed": self.seed,
            "test_fraction": self.test_fraction,
            "split_method": self.split_method,
            "pixel_range": [int(v) if float(v).is_integer() else v for v in self.pixel_range],
            "storage": self.storage,
            "extra": self.extra,
        }
        if self.domains:
            d["domains"] = {name: domain.to_json() for name, domain in self.domains.items()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DatasetInfo:
        """Inverse of `to_json`. Raises KeyError/TypeError/ValueError on a bad dict."""
        version = d.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"format_version is {version!r}, expected {FORMAT_VERSION}")
        shape = _image_shape(d["image_shape"])
        names = d.get("class_names")
        return cls(
            source=str(d["source"]),
            image_shape=shape,
            record_bytes=int(d["record_bytes"]),
            num_classes=int(d["num_classes"]),
            splits={str(k): SplitInfo.from_json(v) for k, v in d["splits"].items()},
            content_hash=str(d["content_hash"]),
            source_hash=str(d["source_hash"]),
            seed=int(d["seed"]),
            test_fraction=float(d["test_fraction"]),
            class_names=None if names is None else [str(n) for n in names],
            pixel_range=tuple(float(v) for v in d["pixel_range"]),  # type: ignore[arg-type]
            storage=str(d["storage"]),
            split_method=str(d.get("split_method", "stratified")),
            extra=dict(d.get("extra") or {}),
            domains=_domains_from_json(d.get("domains")),
        )

    @property
    def examples(self) -> str:
        """What an example is, for people: `28x28x1 images`, or `2-D points` (float32 storage)."""
        if self.storage == "float32":
            return f"{self.image_shape[-1]}-D points"
        return "x".join(str(d) for d in self.image_shape) + " images"

    def split(self, name: str) -> SplitInfo:
        """The split called `name`; PipelineError listing the allowed names if unknown."""
        if name not in self.splits:
            raise PipelineError(
                f"unknown split {name!r} (allowed: {', '.join(sorted(self.splits))})"
            )
        return self.splits[name]

    def domain_names(self) -> list[str]:
        """`A` (the base images), then the second domains in the order written."""
        return [BASE_DOMAIN, *self.domains]

    def domain_split(self, domain: str, split: str) -> tuple[tuple[int, int, int], SplitInfo]:
        """The image shape and split `split` of `domain` (`A`: the base images).

        Raises:
            PipelineError: an unknown domain (naming the ones prepared) or split.
        """
        if domain == BASE_DOMAIN:
            return self.image_shape, self.split(split)
        if domain not in self.domains:
            raise PipelineError(
                f"unknown domain {domain!r} (prepared: {', '.join(self.domain_names())}); "
                "list it in prepare.domains, or pick a source with a second domain"
            )
        self.split(split)  # the same split names as the base's (load_info checks)
        found = self.domains[domain]
        return found.image_shape, found.splits[split]


def load_info(data_dir: str | Path) -> DatasetInfo:
    """Read `info.json` from a prepared data directory.

    Args:
        data_dir: the directory `prepare_dataset` wrote.

    Raises:
        PipelineError: the file is missing, unreadable or not a valid info record.
    """
    path = Path(data_dir) / INFO_FILE
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; {_RERUN_HINT}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PipelineError(
            f"{path}: unreadable ({typed_first_line(err)}); {_RERUN_HINT}"
        ) from None
    try:
        if not isinstance(raw, dict):
            raise TypeError(f"expected an object, got {type(raw).__name__}")
        info = DatasetInfo.from_json(raw)
    except (KeyError, TypeError, ValueError) as err:
        raise PipelineError(
            f"{path}: not a valid info record ({typed_first_line(err)}); {_RERUN_HINT}"
        ) from None
    _check_split_names(path, "splits", info.splits)
    for name, domain in info.domains.items():
        _check_split_names(path, f"domains.{name}.splits", domain.splits)
    return info


def _check_split_names(path: Path, key: str, splits: dict[str, SplitInfo]) -> None:
    """Exactly `train` and `test`: only these are covered by content_hash."""
    missing = [s for s in SPLITS if s not in splits]
    if missing:
        where = "" if key == "splits" else f" of {key}"
        raise PipelineError(f"{path}: split {missing[0]!r}{where} is missing; {_RERUN_HINT}")
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        where = "" if key == "splits" else f" in {key}"
        raise PipelineError(
            f"{path}: unknown split {unknown[0]!r}{where} (allowed: {', '.join(SPLITS)}); "
            f"{_RERUN_HINT}"
        )
