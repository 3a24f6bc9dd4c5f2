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
from pipeline.data.domains import DOMAINS, Domain
from pipeline.data.info import DOMAINS_DIR, INFO_FILE, SPLITS, DatasetInfo, DomainInfo, SplitInfo
from pipeline.data.raw import RawData, SourceDomain
from pipeline.data.shards import hash_header, record_bytes, source_hash, write_shards
from pipeline.data.sources.base import DataSource
from pipeline.errors import PipelineError
from pipeline.fileio import atomic_dir, write_json
from pipeline.params import PrepareParams

# Images a derived domain transforms at a time: fixed, because a seeded domain
# (`colour`) draws per block, so its bytes must not depend on anything else.
DOMAIN_BLOCK = 4096


def prepare_dataset(params: PrepareParams, seed: int, out_dir: str | Path) -> DatasetInfo:
    """Prepare the dataset chosen by `params` into `out_dir`, atomically.

    Each class is split on its own, so both splits keep the source's class
    balance: `round(test_fraction * n_c)` of the `n_c` examples of class `c`,
    picked by a permutation drawn from `seed`, go to `test`. A source with a
    split of its own (a `testA/` folder) keeps it instead. Each split is
    then written in an order shuffled by the same generator, so the first
    examples of a split are a fair sample of it.

    Second domains follow under `domains/<name>/`: the source's own (a
    folder source's `B`), then the derived ones `params.domains` lists (see
    `_write_derived`), each with its own content hash. Without them the
    files are exactly those of a dataset of one domain.

    Args:
        params: the `prepare` section of the params.
        seed: seeds the split and the written order; the same seed gives the
            same shards and the same `content_hash`.
        out_dir: the directory to create or replace. On any error it is left
            as it was (absent, or with its old content).

    Returns:
        The info also written to `out_dir/info.json`.

    Raises:
        PipelineError: a source problem, an empty class, a split left empty,
            or a derived domain that cannot take the source's images.
    """
    with atomic_dir(out_dir) as tmp:
        scratch = tmp / "_scratch"
        scratch.mkdir()
        data = read_source(params, scratch)
        _check_derived(params.domains, data)
        info = _write_dataset(data, params, seed, tmp, scratch)
        del data  # release the memmaps before their files go
        shutil.rmtree(scratch)
        write_json(tmp / INFO_FILE, info.to_json())
    return info


def check_watched(source: DataSource, watched: Path) -> None:
    """A source's own files must lie under `watched`, the folder the prepare stage depends on.

    Otherwise `dvc status` would call the prepared data up to date after the
    files changed. Symbolic links are followed first: DVC hashes what lies
    under `watched` itself.

    Raises:
        PipelineError: the source's `path` resolves outside `watched`.
    """
    path = getattr(source, "path", None)  # the sources that read a user's files have one
    if path is None or Path(path).resolve().is_relative_to(watched.resolve()):
        return
    raise PipelineError(
        f"prepare.source.path: {path} is outside {watched}/, the folder the prepare stage "
        f"depends on, so DVC would not see its files change (allowed: a path under "
        f"{watched}/; move or copy the files there, then `dvc add` them)"
    )


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


def _check_derived(names: list[str], data: RawData) -> None:
    """Every listed derived domain must take the source's images, before anything is written."""
    for name in names:
        if name in data.domains:
            raise PipelineError(
                f"prepare.domains: {name!r} is also a domain of {data.source} (allowed: "
                f"names other than {', '.join(data.domains)})"
            )
        DOMAINS[name].output_shape(data.image_shape)


def _write_dataset(
    data: RawData, params: PrepareParams, seed: int, out_dir: Path, scratch: Path
) -> DatasetInfo:
    """Split `data`, write the base's and every domain's shards into `out_dir`, describe them.

    Every split is made (and checked) before the first shard is written.
    """
    splits = _split(data, params.test_fraction, seed)
    source_splits = {
        name: splits if domain.paired else _unpaired_split(name, domain, params, seed)
        for name, domain in data.domains.items()
    }
    split_infos, content_hash = _write_splits(data, splits, out_dir, "", params.shard_size)
    domains = {}
    for name, domain in data.domains.items():
        domains[name] = _write_source_domain(name, domain, source_splits[name], params, out_dir)
    # In the registry's order, so the same set of names gives the same info.json.
    for name in (name for name in DOMAINS if name in params.domains):
        domains[name] = _write_derived(name, data, splits, params, seed, out_dir, scratch)
    return DatasetInfo(
        source=data.source,
        image_shape=data.image_shape,
        record_bytes=record_bytes(data.image_shape, data.storage),
        num_classes=data.num_classes,
        splits=split_infos,
        content_hash=content_hash,
        source_hash=source_hash(data),
        seed=seed,
        test_fraction=params.test_fraction,
        class_names=data.class_names,
        storage=data.storage,
        split_method="stratified" if data.split is None else "source",
        extra=dict(data.extra or {}),
        domains=domains,
    )


def _split(data: RawData, test_fraction: float, seed: int | list[int]) -> dict[str, np.ndarray]:
    """The source's own split or a seeded stratified one, each part in a seeded order."""
    if data.split is None:
        splits = split_indices(data.labels, data.num_classes, test_fraction, seed)
    else:
        rng = np.random.default_rng(seed)
        splits = {name: rng.permutation(data.split[name]) for name in SPLITS}
    counts = {name: _class_counts(data, idx) for name, idx in splits.items()}
    _check_classes(data, counts, test_fraction)
    return splits


def _write_splits(
    data: RawData, splits: dict[str, np.ndarray], out_dir: Path, folder: str, shard_size: int
) -> tuple[dict[str, SplitInfo], str]:
    """Write both splits of `data` into `out_dir/folder`; their infos and content hash.

    Shard names in the infos are relative to `out_dir` (`folder` + name).
    """
    sizes = {name: len(splits[name]) for name in SPLITS}
    # content_hash covers the header, then exactly the bytes written, train then test.
    hasher = hashlib.sha256(hash_header(data.image_shape, sizes, data.storage))
    infos = {}
    for name in SPLITS:
        shards, records = write_shards(
            data, splits[name], name, out_dir / folder, shard_size, hasher
        )
        counts = _class_counts(data, splits[name])
        infos[name] = SplitInfo(sizes[name], counts, [folder + s for s in shards], records)
    return infos, hasher.hexdigest()


def _domain_folder(out_dir: Path, name: str) -> str:
    """Create `domains/<name>/` in `out_dir`; its path as shard names start (POSIX)."""
    (out_dir / DOMAINS_DIR / name).mkdir(parents=True)
    return f"{DOMAINS_DIR}/{name}/"


def _name_key(name: str) -> int:
    """A stable number for a domain's name, to seed its generators (not Python's `hash`)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def _unpaired_split(
    name: str, domain: SourceDomain, params: PrepareParams, seed: int
) -> dict[str, np.ndarray]:
    """An unpaired domain's own split, drawn from a generator of its own (seed, name)."""
    return _split(domain.data, params.test_fraction, [seed, _name_key(name)])


def _write_source_domain(
    name: str,
    domain: SourceDomain,
    splits: dict[str, np.ndarray],
    params: PrepareParams,
    out_dir: Path,
) -> DomainInfo:
    """A source's second domain (a folder source's `B`), written in `splits`' order."""
    folder = _domain_folder(out_dir, name)
    infos, content_hash = _write_splits(domain.data, splits, out_dir, folder, params.shard_size)
    extra = {}
    if not domain.paired:
        extra["split_method"] = "stratified" if domain.data.split is None else "source"
    shape = domain.data.image_shape
    return DomainInfo(shape, record_bytes(shape), domain.paired, infos, content_hash, extra)


def _write_derived(
    name: str,
    data: RawData,
    splits: dict[str, np.ndarray],
    params: PrepareParams,
    seed: int,
    out_dir: Path,
    scratch: Path,
) -> DomainInfo:
    """A derived domain, paired with the base: its transform of each split in written order.

    Split s (0 train, 1 test) is transformed with its own generator,
    `default_rng([seed, key of the name, s])`, a block of `DOMAIN_BLOCK`
    images at a time: its bytes follow from the base split and the seed
    alone, whichever other domains are listed, in any order, and whatever
    the shard size. The labels are the base records'.
    """
    domain = DOMAINS[name]
    shape = domain.output_shape(data.image_shape)
    chunks, labels = [], []
    for number, split in enumerate(SPLITS):
        rng = np.random.default_rng([seed, _name_key(name), number])
        path = scratch / f"{name}-{split}.u8"
        chunks.append(_derive(domain, data, splits[split], shape, rng, path))
        labels.append(data.labels[splits[split]])
    derived = RawData(name, chunks, np.concatenate(labels), data.num_classes)
    n_train = len(splits["train"])
    in_order = {"train": np.arange(n_train), "test": n_train + np.arange(len(splits["test"]))}
    folder = _domain_folder(out_dir, name)
    infos, content_hash = _write_splits(derived, in_order, out_dir, folder, params.shard_size)
    extra = domain.extra(data.image_shape)
    return DomainInfo(shape, record_bytes(shape), True, infos, content_hash, extra)


def _derive(
    domain: Domain,
    data: RawData,
    indices: np.ndarray,
    shape: tuple[int, int, int],
    rng: np.random.Generator,
    path: Path,
) -> np.ndarray:
    """`domain`'s images of `data`'s `indices`, in order, in a memmap at `path` (flat memory)."""
    out = np.memmap(path, np.uint8, mode="w+", shape=(len(indices), *shape))
    for start in range(0, len(indices), DOMAIN_BLOCK):
        block = domain.transform(data.images(indices[start : start + DOMAIN_BLOCK]), rng)
        if block.dtype != np.uint8 or block.shape[1:] != shape:
            raise TypeError(
                f"a domain gave {block.dtype} {block.shape[1:]}, expected uint8 {shape}"
            )
        out[start : start + len(block)] = block
    out.flush()
    return out


def split_indices(
    labels: np.ndarray, num_classes: int, test_fraction: float, seed: int | list[int]
) -> dict[str, np.ndarray]:
    """A seeded, per-class split into `train` and `test`, each in shuffled order.

    Args:
        labels: int labels of all examples.
        num_classes: labels lie in [0, num_classes).
        test_fraction: the fraction of each class that goes to `test`.
        seed: seeds the permutations (a list: `np.random.default_rng`'s entropy).

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
                cause = (
                    f"prepare.test_fraction = {test_fraction}"
                    if data.split is None
                    else "the source's own split"
                )
                raise PipelineError(
                    f"{data.source}: {name} has {total} example(s) and {cause} leaves none "
                    f"in {split}"
                )
