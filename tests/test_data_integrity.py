"""The prepared data's bytes, and `verify_prepared` catching every kind of damage.

Golden values pin the default dataset (mnist5k, seed 42, test_fraction 0.2,
one shard per split) byte for byte, so the DVC hash of `data/prepared` is the
same on every machine. The shard bytes are also rebuilt with plain numpy from
the source, independently of the writer. Then a table of damaged copies
checks that each is refused with one line naming the file or info.json key,
by `verify_prepared` and by both readers, before anything is read.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gzip  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from pipeline.data import (  # noqa: E402
    SplitRecords,
    load_arrays,
    load_info,
    verify_prepared,
)
from pipeline.data.prepare import prepare_dataset, split_indices  # noqa: E402
from pipeline.data.sources import Idx, Mnist5k  # noqa: E402
from pipeline.errors import PipelineError  # noqa: E402
from pipeline.params import PrepareParams  # noqa: E402

# The default dataset, `dvc repro prepare` with the committed params.
CONTENT_HASH = "b53e0d1ab018b010637b0ef29b5cab52ea98ae4f59e17583b7ac1ff9e83609d5"
SOURCE_HASH = "1f75c140503b3082c96134f5593303f3133e59989a92e21f060c644c655c3722"
FILE_MD5 = {
    "info.json": "94a06187946c0981ad01a5c6221835da",
    "test-00000-of-00001.bin": "161c2573fae9bf64a9762e4a3d6aaf33",
    "train-00000-of-00001.bin": "f2e311bd9bed7609a7dcec4d1c5c3d72",
}
# What DVC records for the directory in dvc.lock (checked once against `dvc add`).
DIR_MD5 = "e7f1c5c63338d6abde878b0572aac3dc.dir"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _dvc_dir_md5(directory: Path) -> str:
    """DVC 3's directory hash: md5 of the sorted JSON list of {md5, relpath} entries."""
    entries = [{"md5": _md5(p), "relpath": p.name} for p in sorted(directory.iterdir())]
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def _expected_bytes(images: np.ndarray, labels: np.ndarray, order: np.ndarray) -> bytes:
    """The records of `order`, built with numpy alone: pixels, then int64 LE label."""
    pixels = images[order].reshape(len(order), -1)
    label_bytes = labels[order].astype("<i8").view(np.uint8).reshape(len(order), 8)
    return np.concatenate([pixels, label_bytes], axis=1).tobytes()


def _split_bytes(data_dir: Path, split: str) -> bytes:
    info = load_info(data_dir)
    return b"".join((data_dir / shard).read_bytes() for shard in info.splits[split].shards)


# --- golden bytes ------------------------------------------------------------


@pytest.fixture(scope="module")
def default_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("default") / "prepared"
    prepare_dataset(PrepareParams(), seed=42, out_dir=out)
    return out


def test_default_dataset_golden_hashes(default_dir):
    info = load_info(default_dir)
    assert info.content_hash == CONTENT_HASH
    assert info.source_hash == SOURCE_HASH
    assert {p.name: _md5(p) for p in default_dir.iterdir()} == FILE_MD5
    assert _dvc_dir_md5(default_dir) == DIR_MD5


def test_shards_are_the_source_records_rebuilt_with_numpy(default_dir, tmp_path):
    source = Mnist5k().read(tmp_path)
    images, labels = source.chunks[0], source.labels
    splits = split_indices(labels, 10, 0.2, seed=42)
    header = json.dumps(
        {"image_shape": [28, 28, 1], "splits": {"train": 4000, "test": 1000}}, sort_keys=True
    ).encode()
    hasher = hashlib.sha256(header)
    for split in ("train", "test"):
        expected = _expected_bytes(images, labels, splits[split])
        assert _split_bytes(default_dir, split) == expected
        hasher.update(expected)
    assert hasher.hexdigest() == CONTENT_HASH


def test_source_hash_is_the_source_before_the_split(default_dir, tmp_path):
    source = Mnist5k().read(tmp_path)
    plain = hashlib.sha256(source.chunks[0].tobytes() + source.labels.astype("<i8").tobytes())
    assert plain.hexdigest() == SOURCE_HASH
    other = prepare_dataset(PrepareParams(), seed=7, out_dir=tmp_path / "seed7")
    assert other.source_hash == SOURCE_HASH  # another split of the same source
    assert other.content_hash != CONTENT_HASH


# --- the same for a memory-mapped IDX source of two parts --------------------


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _idx_source(directory: Path, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    """60 random 7x5 images, balanced labels, as train (40) and t10k (20) IDX files."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(60, 7, 5), dtype=np.uint8)
    labels = np.arange(60) % 10
    directory.mkdir()
    suffix = ".gz" if gz else ""
    for prefix, part in (("train", slice(0, 40)), ("t10k", slice(40, 60))):
        _write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images[part])
        _write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels[part])
    return images[..., None], labels


@pytest.mark.parametrize("gz", [False, True])
def test_idx_shards_and_source_hash_rebuilt_with_numpy(tmp_path, gz):
    images, labels = _idx_source(tmp_path / "raw", gz)
    params = PrepareParams(source=Idx(path=str(tmp_path / "raw")), test_fraction=0.5, shard_size=7)
    info = prepare_dataset(params, seed=3, out_dir=tmp_path / "out")
    splits = split_indices(labels, 10, 0.5, seed=3)
    for split in ("train", "test"):
        assert _split_bytes(tmp_path / "out", split) == _expected_bytes(
            images, labels, splits[split]
        )
    plain = hashlib.sha256(images.tobytes() + labels.astype("<i8").tobytes())
    assert info.source_hash == plain.hexdigest()


# --- damaged copies ----------------------------------------------------------


@pytest.fixture(scope="module")
def sharded_dir(tmp_path_factory) -> Path:
    """mnist5k at 1500 per shard: train in 3 shards (1500, 1500, 1000), test in 1."""
    out = tmp_path_factory.mktemp("sharded") / "prepared"
    prepare_dataset(PrepareParams(shard_size=1500), seed=42, out_dir=out)
    return out


def _truncate(name: str, by: int) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[:-by])

    return damage


def _append(name: str, extra: bytes) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        with (d / name).open("ab") as f:
            f.write(extra)

    return damage


def _flip_byte(name: str, offset: int) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        data = bytearray((d / name).read_bytes())
        data[offset] ^= 0x01
        (d / name).write_bytes(bytes(data))

    return damage


def _delete(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).unlink()


def _copy_as(name: str, new: str) -> Callable[[Path], None]:
    return lambda d: shutil.copyfile(d / name, d / new)


def _edit_info(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        raw = json.loads((d / "info.json").read_text())
        edit(raw)
        (d / "info.json").write_text(json.dumps(raw, indent=2))

    return damage


def _set(raw: dict, path: str, value: object) -> None:
    *parents, last = path.split(".")
    for key in parents:
        raw = raw[key]
    raw[last] = value


def _shift_class(raw: dict) -> None:
    counts = raw["splits"]["train"]["class_counts"]
    counts[3], counts[4] = counts[3] + 1, counts[4] - 1  # the total still matches


# Each case: a way to damage a copy, and what the one-line message must contain.
DAMAGE = [
    pytest.param(
        _truncate("train-00001-of-00003.bin", 100),
        "train-00001-of-00003.bin: 1187900 bytes, expected 1188000 (1500 records of 792 bytes)",
        id="truncated train shard",
    ),
    pytest.param(
        _truncate("test-00000-of-00001.bin", 792),
        "test-00000-of-00001.bin: 791208 bytes, expected 792000 (1000 records of 792 bytes)",
        id="truncated test shard, by a whole record",
    ),
    pytest.param(
        _append("train-00002-of-00003.bin", b"\0" * 792),
        "train-00002-of-00003.bin: 792792 bytes, expected 792000",
        id="bytes appended to a shard",
    ),
    pytest.param(
        _flip_byte("train-00002-of-00003.bin", 792 * 500 + 300),
        "its shards hash to ",
        id="one flipped pixel byte",
    ),
    pytest.param(
        _flip_byte("test-00000-of-00001.bin", 792 * 7 + 784),
        "expected content_hash b53e0d1ab018",
        id="one flipped label byte",
    ),
    pytest.param(
        _delete("test-00000-of-00001.bin"), "test-00000-of-00001.bin: shard is", id="shard deleted"
    ),
    pytest.param(
        _edit_info(lambda r: _set(r, "splits.test.count", 999)),
        "info.json: splits.test.count is 999",
        id="wrong count",
    ),
    pytest.param(
        _edit_info(lambda r: _set(r, "image_shape", [28, 28, 3])),
        "info.json: record_bytes is 792, expected 2360 for image_shape [28, 28, 3]",
        id="wrong image_shape",
    ),
    pytest.param(
        _edit_info(lambda r: _set(r, "image_shape", [784, 1, 1])),
        "(the hash covers image_shape, the split counts and every record)",
        id="image_shape of the same size",
    ),
    pytest.param(
        _edit_info(lambda r: _set(r, "image_shape", [28, 28])),
        "info.json: not a valid info record (ValueError: image_shape [28, 28] is not (H, W, C)",
        id="image_shape not (H, W, C)",
    ),
    pytest.param(
        _edit_info(lambda r: _set(r, "splits.valid", r["splits"]["test"])),
        "info.json: unknown split 'valid' (allowed: train, test)",
        id="a split content_hash does not cover",
    ),
    pytest.param(
        _edit_info(lambda r: _set(r, "format_version", 1)),
        "info.json: not a valid info record (ValueError: format_version is 1, expected 2)",
        id="the TFRecord format of before",
    ),
    pytest.param(
        _edit_info(lambda r: _set(r, "record_bytes", 800)),
        "info.json: record_bytes is 800, expected 792",
        id="wrong record_bytes",
    ),
    pytest.param(
        _edit_info(_shift_class),
        "info.json: splits.train.class_counts[3] is 401, but the shards hold 400",
        id="wrong class_counts",
    ),
    pytest.param(
        _edit_info(lambda r: _set(r, "num_classes", 9)),
        "info.json: num_classes is 9, but the train shards hold 400 labels outside [0, 9)",
        id="wrong num_classes",
    ),
    pytest.param(
        _copy_as("test-00000-of-00001.bin", "test-00001-of-00002.bin"),
        "test-00001-of-00002.bin: a shard file that info.json does not list",
        id="extra shard file, not listed",
    ),
    pytest.param(
        _copy_as("test-00000-of-00001.bin", "train-00000-of-00001.tfrecord"),
        "train-00000-of-00001.tfrecord: a shard file that info.json does not list",
        id="leftover TFRecord shard of the old format",
    ),
]


@pytest.mark.parametrize(("damage", "expected"), DAMAGE)
def test_damaged_directory_is_refused_in_one_line(sharded_dir, tmp_path, damage, expected):
    data_dir = tmp_path / "prepared"
    shutil.copytree(sharded_dir, data_dir)
    verify_prepared(data_dir)  # the intact copy passes (and is now cached)
    damage(data_dir)
    with pytest.raises(PipelineError) as err:
        verify_prepared(data_dir)
    message = str(err.value)
    assert "\n" not in message
    assert expected in message
    assert "dvc repro prepare" in message
    # Both readers refuse with the same line, before reading anything.
    readers = (lambda: SplitRecords.open(data_dir, "test"), lambda: load_arrays(data_dir, "test"))
    for read in readers:
        with pytest.raises(PipelineError) as again:
            read()
        assert str(again.value) == message


def test_an_unrelated_file_is_ignored(sharded_dir, tmp_path):
    data_dir = tmp_path / "prepared"
    shutil.copytree(sharded_dir, data_dir)
    (data_dir / "README.txt").write_text("notes")
    assert verify_prepared(data_dir) == load_info(sharded_dir)


# --- the per-process cache ---------------------------------------------------


def test_verification_is_cached_until_a_file_changes(sharded_dir, tmp_path):
    data_dir = tmp_path / "prepared"
    shutil.copytree(sharded_dir, data_dir)
    first = verify_prepared(data_dir)
    assert verify_prepared(data_dir) is first
    assert verify_prepared(str(data_dir)) is first  # the key is the resolved directory
    shard = data_dir / "train-00002-of-00003.bin"
    stat = shard.stat()
    _flip_byte(shard.name, 1000)(data_dir)
    # Same size, inode and mtime: the cache answers, so nothing was hashed again.
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert verify_prepared(data_dir) is first
    # A later mtime changes the key: the flip is found.
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(PipelineError, match="its shards hash to"):
        verify_prepared(data_dir)
    with pytest.raises(PipelineError, match="its shards hash to"):
        SplitRecords.open(data_dir, "train")


def test_a_restored_directory_verifies_again(sharded_dir, tmp_path):
    data_dir = tmp_path / "prepared"
    shutil.copytree(sharded_dir, data_dir)
    _truncate("test-00000-of-00001.bin", 10)(data_dir)
    with pytest.raises(PipelineError, match="expected 792000"):
        verify_prepared(data_dir)
    shutil.copyfile(sharded_dir / "test-00000-of-00001.bin", data_dir / "test-00000-of-00001.bin")
    assert verify_prepared(data_dir).content_hash == CONTENT_HASH
