"""TFDS image-classification datasets as a source, failing fast when offline.

`prepare: {source: {kind: tfds, name: fashion_mnist}}` reads every split of
a dataset TFDS has prepared in `data_dir`.

TFDS retries a failed download for minutes. Two guards keep `prepare` from
hanging: with `download: false` an unprepared dataset is an error at once,
and with `download: true` the hosts TFDS would fetch from are probed first
with a short, hard-bounded TCP connect.
"""

from __future__ import annotations

import difflib
import socket
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pipeline.data.raw import RawData
from pipeline.data.sources.base import DataSource
from pipeline.errors import PipelineError, first_line

PROBE_TIMEOUT_S = 4.0
# Where TFDS keeps prepared copies; probed when a builder lists no source URLs.
GCS_HOST = ("storage.googleapis.com", 443)
_EXAMPLE_NAMES = "mnist, fashion_mnist, kmnist, emnist, cifar10, svhn_cropped"
_BATCH = 512


class Tfds(DataSource):
    """A TFDS dataset with an image and a class-label feature.

    tensorflow_datasets (and with it TensorFlow) is imported inside `read`,
    so that validating these settings loads neither.

    Attributes:
        name: `<dataset>[/<config>][:<version>]`, as `tfds.builder` takes it.
        data_dir: where TFDS keeps prepared datasets; None for its default
            (~/tensorflow_datasets).
        download: whether a dataset missing from `data_dir` may be fetched
            (needs network); without it a missing dataset fails at once.
    """

    kind: Literal["tfds"] = "tfds"
    name: str = "mnist"
    data_dir: str | None = None
    download: bool = False

    def read(self, scratch: Path) -> RawData:
        """Read every split into memory-mapped files in `scratch`.

        Raises:
            PipelineError: unknown name, no image + class-label features, data
                not prepared (download off), or the download hosts are unreachable.
        """
        import tensorflow_datasets as tfds

        builder = _builder(self.name, self.data_dir)
        image_key, label_key = _image_label_keys(self.name, builder.info.features)
        image_feature = builder.info.features[image_key]
        label_feature = builder.info.features[label_key]
        shape = tuple(image_feature.shape)
        dtype = np.dtype(image_feature.np_dtype)
        if len(shape) != 3 or None in shape or dtype != np.uint8:
            raise PipelineError(
                f"tfds dataset {self.name!r}: feature {image_key!r} is {dtype} of shape "
                f"{shape}; expected fixed-size uint8 (H, W, C) images"
            )
        datasets = _open_splits(builder, self)
        chunks, labels, counts = [], [], {}
        for split, ds in datasets.items():
            images, split_labels = _stream_split(
                tfds, ds, split, builder, image_key, label_key, shape, scratch
            )
            counts[split] = len(split_labels)
            if len(split_labels):
                chunks.append(images)
                labels.append(split_labels)
        return RawData(
            source=f"tfds:{self.name}",
            chunks=chunks,
            labels=np.concatenate(labels) if labels else np.zeros(0, np.int64),
            num_classes=int(label_feature.num_classes),
            class_names=[str(n) for n in label_feature.names],
            extra={"tfds_version": str(builder.info.version), "tfds_splits": counts},
        )


def _builder(name: str, data_dir: str | None) -> Any:
    """`tfds.builder`, with a bad name, config or version turned into a PipelineError.

    TFDS signals these with several types (DatasetNotFoundError for an unknown
    name, AssertionError for an unknown version, ValueError for an unknown
    config or a malformed name), each with a multi-line message; any of them
    becomes one line that names the value and what is allowed.
    """
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.registered import DatasetNotFoundError

    try:
        return tfds.builder(name, data_dir=data_dir)
    except DatasetNotFoundError:
        close = difflib.get_close_matches(_dataset_of(name), tfds.list_builders(), n=5, cutoff=0.6)
        hint = f"did you mean: {', '.join(close)}?" if close else f"for example: {_EXAMPLE_NAMES}"
        raise PipelineError(
            f"prepare.source.name: {name!r} is not a TFDS dataset ({hint})"
        ) from None
    except Exception as err:  # TFDS raises a different type per failure; see above
        raise PipelineError(
            f"prepare.source.name: {name!r} cannot be loaded ({_tfds_reason(err)}); "
            f"allowed: {_allowed_forms(name)}"
        ) from None


def _dataset_of(name: str) -> str:
    """The dataset part of `<dataset>[/<config>][:<version>]`."""
    return name.split(":", 1)[0].split("/", 1)[0]


def _tfds_reason(err: BaseException) -> str:
    """TFDS's own reason, first line only, without its 'Failed to construct ...' preamble."""
    lines = str(err).strip().splitlines()
    first = lines[0] if lines else type(err).__name__
    # 'Failed to construct dataset "mnist", builder_kwargs "{...}": <the reason>'
    reason = first.rsplit('": ', 1)[-1]
    # Keep the first sentence: what follows ('Here are 10 BuilderConfigs ...') spans lines.
    return reason.split(". ", 1)[0].strip().rstrip(".") or type(err).__name__


def _allowed_forms(name: str) -> str:
    """What `prepare.source.name` may be for the dataset named in `name`."""
    import tensorflow_datasets as tfds

    dataset = _dataset_of(name)
    try:
        cls = tfds.builder_cls(dataset)
    except Exception:  # an unparsable name: only the grammar can be shown
        return "<dataset>[/<config>][:<version>], e.g. mnist or mnist:3.0.1"
    versions = [str(cls.VERSION), *(str(v) for v in cls.SUPPORTED_VERSIONS)]
    configs = [c.name for c in cls.BUILDER_CONFIGS or []]
    spelled = f"{dataset}/<config>[:<version>]" if configs else f"{dataset}[:<version>]"
    forms = f"{spelled} with version {' or '.join(dict.fromkeys(versions))}"
    return forms + (f" and config one of {', '.join(configs)}" if configs else "")


def _image_label_keys(name: str, features: Any) -> tuple[str, str]:
    """The keys of the image and class-label features: `image`/`label` or the only ones."""
    import tensorflow_datasets as tfds

    items = dict(features.items()) if hasattr(features, "items") else {}
    images = [k for k, f in items.items() if isinstance(f, tfds.features.Image)]
    labels = [k for k, f in items.items() if isinstance(f, tfds.features.ClassLabel)]
    image_key = "image" if "image" in images else (images[0] if len(images) == 1 else None)
    label_key = "label" if "label" in labels else (labels[0] if len(labels) == 1 else None)
    if image_key is None or label_key is None:
        raise PipelineError(
            f"tfds dataset {name!r} has no image + class-label feature pair "
            f"(its features: {', '.join(items) or type(features).__name__}); "
            "pick an image-classification dataset"
        )
    return image_key, label_key


def _open_splits(builder: Any, source: Tfds) -> dict[str, Any]:
    """`as_dataset` for every split; downloads first only if allowed and reachable."""
    try:
        return _as_datasets(builder)
    except AssertionError:
        # TFDS's "could not find data in <data_dir>"; anything else is a real bug.
        if builder.is_prepared():
            raise
    if not source.download:
        raise PipelineError(
            f"tfds dataset {source.name!r} is not in {builder.data_dir_root}; set "
            "prepare.source.download: true to fetch it (needs network), or use "
            "prepare.source.kind: idx / mnist5k offline"
        )
    check_reachable(download_hosts(builder))
    import tensorflow_datasets as tfds

    # GCS copies are skipped: checking for one is a second, unprobed network path.
    config = tfds.download.DownloadConfig(try_download_gcs=False)
    try:
        builder.download_and_prepare(download_config=config)
    except Exception as err:  # any failure of the third-party download, as one line
        raise PipelineError(
            f"tfds dataset {source.name!r}: download failed: {first_line(err)}"
        ) from err
    return _as_datasets(builder)


def _as_datasets(builder: Any) -> dict[str, Any]:
    # A builder restored from prepared files always lists its splits; code-only
    # info (nothing prepared, or tfds.testing.mock_data) lists none, so ask for
    # the usual two and let TFDS say whether the data is there.
    names = sorted(builder.info.splits) or ["train", "test"]
    return {name: builder.as_dataset(split=name, shuffle_files=False) for name in names}


def _stream_split(
    tfds: Any,
    ds: Any,
    split: str,
    builder: Any,
    image_key: str,
    label_key: str,
    shape: tuple[int, ...],
    scratch: Path,
) -> tuple[np.ndarray, np.ndarray]:
    """Copy one split's images into a memmap in `scratch`, batch by batch."""
    count = int(ds.cardinality())
    if count < 0:  # unknown cardinality: trust the recorded split size
        count = int(builder.info.splits[split].num_examples)
    labels = np.empty(count, np.int64)
    if count == 0:
        return np.zeros((0, *shape), np.uint8), labels
    images = np.memmap(scratch / f"tfds-{split}.u8", np.uint8, mode="w+", shape=(count, *shape))
    ds = ds.map(lambda ex: (ex[image_key], ex[label_key])).batch(_BATCH)
    filled = 0
    for batch_images, batch_labels in tfds.as_numpy(ds):
        end = filled + len(batch_labels)
        if end > count:
            raise PipelineError(f"tfds split {split!r} has more than its {count} declared examples")
        images[filled:end] = batch_images
        labels[filled:end] = batch_labels
        filled = end
    if filled != count:
        raise PipelineError(f"tfds split {split!r} has {filled} examples, {count} declared")
    images.flush()
    return images, labels


def download_hosts(builder: Any) -> list[tuple[str, int]]:
    """The (host, port) pairs of the builder's recorded download URLs, or GCS."""
    hosts = set()
    for url in builder.url_infos or {}:
        parts = urllib.parse.urlsplit(url)
        if parts.hostname:
            default_port = 80 if parts.scheme == "http" else 443
            hosts.add((parts.hostname, parts.port or default_port))
    return sorted(hosts) or [GCS_HOST]


def check_reachable(hosts: list[tuple[str, int]], timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise PipelineError unless a TCP connection to every host opens in `timeout` s.

    The connects run in daemon threads joined with a deadline, because the DNS
    lookup inside `socket.create_connection` ignores the socket timeout.
    """
    results: dict[tuple[str, int], str | None] = {}

    def probe(host: str, port: int) -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                results[(host, port)] = None
        except OSError as err:
            results[(host, port)] = str(err) or type(err).__name__

    threads = [threading.Thread(target=probe, args=h, daemon=True) for h in hosts]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for host, port in hosts:
        problem = results.get((host, port), f"no answer in {timeout:g} s")
        if problem is not None:
            raise PipelineError(
                f"cannot reach {host}:{port} to download ({problem}); prepare.source.download "
                "needs network: use prepare.source.kind: idx / mnist5k offline"
            )
