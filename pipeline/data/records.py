"""Streaming a prepared split: fixed-length records read back as [-1, 1] floats.

The shards are cut into records by the stock `tf.data.FixedLengthRecordDataset`;
no protobuf is involved (see `pipeline.data.shards` for the layout). Every
read is preceded by `verify_prepared`, so a damaged or edited directory fails
with one line before TensorFlow touches it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from pipeline.data.shards import LABEL_BYTES
from pipeline.data.verify import verify_prepared


def load_split(data_dir: str | Path, split: str) -> tf.data.Dataset:
    """Stream one split from its shards, in written order.

    Args:
        data_dir: the directory `prepare_dataset` wrote.
        split: `train` or `test`.

    Returns:
        An unbatched, unshuffled dataset of (image float32 (H, W, C) in [-1, 1],
        label int32 scalar), with a known cardinality.

    Raises:
        PipelineError: unknown split, or a missing, damaged or edited
            info.json or shard (from `verify_prepared`).
    """
    data_dir = Path(data_dir)
    info = verify_prepared(data_dir)
    split_info = info.split(split)
    files = [str(data_dir / name) for name in split_info.shards]
    # One reader goes through the files in order, so the order is the written one.
    ds = tf.data.FixedLengthRecordDataset(files, record_bytes=info.record_bytes)
    ds = ds.map(
        _record_parser(info.image_shape), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return ds.apply(tf.data.experimental.assert_cardinality(split_info.count))


def _record_parser(
    shape: tuple[int, int, int],
) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A map function from one record's bytes to (image in [-1, 1], int32 label)."""
    pixels = math.prod(shape)

    def parse(record: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.io.decode_raw(tf.strings.substr(record, 0, pixels), tf.uint8)
        image = tf.cast(tf.reshape(image, shape), tf.float32) / 127.5 - 1.0
        label = tf.io.decode_raw(
            tf.strings.substr(record, pixels, LABEL_BYTES), tf.int64, little_endian=True
        )
        return image, tf.cast(tf.reshape(label, []), tf.int32)

    return parse
