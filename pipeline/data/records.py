"""TFRecord shards: raw uint8 images and int64 labels, read back as [-1, 1] floats."""

from __future__ import annotations

import hashlib
import math
import struct
from pathlib import Path

import numpy as np
import tensorflow as tf

from pipeline.data.info import load_info
from pipeline.data.sources import RawData
from pipeline.errors import PipelineError

_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
}


def shard_name(split: str, index: int, total: int) -> str:
    return f"{split}-{index:05d}-of-{total:05d}.tfrecord"


def write_shards(
    data: RawData,
    indices: np.ndarray,
    split: str,
    out_dir: Path,
    shard_size: int,
    hasher: hashlib._Hash,
) -> list[str]:
    """Write the examples `indices` of `data`, in that order, as TFRecord shards.

    Args:
        data: the source.
        indices: global example indices, in the order to write them.
        split: the split name, used in the file names.
        out_dir: the directory to write into.
        shard_size: examples per shard (the last one may hold fewer).
        hasher: updated with each image's bytes and its label (int64, little-endian).

    Returns:
        The shard file names, relative to `out_dir`, in order.
    """
    total = max(1, math.ceil(len(indices) / shard_size))
    names = []
    for shard in range(total):
        name = shard_name(split, shard, total)
        with tf.io.TFRecordWriter(str(out_dir / name)) as writer:
            for index in indices[shard * shard_size : (shard + 1) * shard_size]:
                image = data.image(int(index)).tobytes()
                label = int(data.labels[index])
                writer.write(_serialize(image, label))
                hasher.update(image)
                hasher.update(struct.pack("<q", label))
        names.append(name)
    return names


def _serialize(image: bytes, label: int) -> bytes:
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def load_split(data_dir: str | Path, split: str) -> tf.data.Dataset:
    """Stream one split from its shards, in written order.

    Args:
        data_dir: the directory `prepare_dataset` wrote.
        split: `train` or `test`.

    Returns:
        An unbatched, unshuffled dataset of (image float32 (H, W, C) in [-1, 1],
        label int32 scalar), with a known cardinality.

    Raises:
        PipelineError: unknown split, or missing info.json or shard.
    """
    data_dir = Path(data_dir)
    info = load_info(data_dir)
    split_info = info.split(split)
    files = [data_dir / name for name in split_info.shards]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise PipelineError(
            f"{missing[0]}: shard is missing; run `dvc repro prepare` to recreate {data_dir}"
        )
    shape = info.image_shape

    def parse(record: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        example = tf.io.parse_single_example(record, _FEATURES)
        image = tf.reshape(tf.io.decode_raw(example["image"], tf.uint8), shape)
        image = tf.cast(image, tf.float32) / 127.5 - 1.0
        return image, tf.cast(example["label"], tf.int32)

    # One reader goes through the files in order, so the order is the written one.
    ds = tf.data.TFRecordDataset([str(f) for f in files])
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.apply(tf.data.experimental.assert_cardinality(split_info.count))


def load_arrays(
    data_dir: str | Path, split: str, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The first `limit` examples of a split (all if None) as numpy arrays.

    Returns:
        float32 images (n, H, W, C) in [-1, 1] and int32 labels (n,).
    """
    if limit is not None and limit < 0:
        raise PipelineError(f"load_arrays: limit must be >= 0, got {limit}")
    ds = load_split(data_dir, split)
    count = int(ds.cardinality())
    n = count if limit is None else min(limit, count)
    images = np.empty((n, *ds.element_spec[0].shape), np.float32)
    labels = np.empty((n,), np.int32)
    filled = 0
    for batch_images, batch_labels in ds.take(n).batch(1024).as_numpy_iterator():
        end = filled + len(batch_labels)
        images[filled:end], labels[filled:end] = batch_images, batch_labels
        filled = end
    return images, labels
