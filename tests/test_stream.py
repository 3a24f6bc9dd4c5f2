"""The one batch stream: every pass a permutation, fixed by the seed, resumable by arithmetic,
and the same batches on TensorFlow (tf.data) as on JAX (a NumPy generator)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.data.stream import ArrayExamples, BatchStream, training_stream

COUNT = 50


def numbered(count: int = COUNT) -> ArrayExamples:
    """Examples whose label is their index, so a batch says which examples it holds."""
    images = np.arange(count, dtype=np.float32).reshape(count, 1, 1, 1)
    return ArrayExamples(images, np.arange(count, dtype=np.int32))


def indices_of(stream: BatchStream, batches: int) -> list[np.ndarray]:
    return [labels for _, labels in itertools.islice(iter(stream), batches)]


def test_every_pass_shows_each_example_once_and_batches_run_across_passes():
    # 7 does not divide 50: batch 7 holds the end of pass 0 and the start of pass 1.
    seen = np.concatenate(indices_of(BatchStream(numbered(), 7, seed=3, labels=True), 22))
    passes = seen[: 3 * COUNT].reshape(3, COUNT)
    for one_pass in passes:
        assert sorted(one_pass) == list(range(COUNT))
    assert not np.array_equal(passes[0], passes[1]), "each pass is shuffled anew"


def test_the_seed_fixes_the_order():
    first = indices_of(BatchStream(numbered(), 8, seed=1, labels=True), 10)
    again = indices_of(BatchStream(numbered(), 8, seed=1, labels=True), 10)
    other = indices_of(BatchStream(numbered(), 8, seed=2, labels=True), 10)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("start", [0, 5, 6, 13])
def test_a_resumed_stream_is_the_rest_of_the_whole_one(start):
    whole = indices_of(BatchStream(numbered(), 8, seed=4, labels=True), 20)
    resumed = indices_of(
        BatchStream(numbered(), 8, seed=4, start_batch=start, labels=True), 20 - start
    )
    for ours, theirs in zip(resumed, whole[start:], strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_images_alone_come_as_one_element_tuples():
    (images,) = next(iter(BatchStream(numbered(), 4, seed=0)))
    assert images.shape == (4, 1, 1, 1) and images.dtype == np.float32


@pytest.mark.parametrize("labels", [True, False])
def test_tensorflow_fits_on_the_same_batches_as_jax(mnist5k_dir, labels):
    from pipeline.backend.jax import training_batches as jax_batches
    from pipeline.backend.tensorflow import training_batches as tf_batches

    dataset = tf_batches(training_stream(mnist5k_dir, 64, seed=5, start_batch=60, labels=labels))
    generator = jax_batches(training_stream(mnist5k_dir, 64, seed=5, start_batch=60, labels=labels))
    # 70 batches from batch 60: across the end of the first pass (62 batches).
    ours_first = itertools.islice(dataset.as_numpy_iterator(), 70)
    for ours, theirs in zip(ours_first, itertools.islice(generator, 70), strict=True):
        ours = ours if labels else (ours,)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_training_stream_reads_the_prepared_split(mnist5k_dir):
    stream = training_stream(mnist5k_dir, 100, seed=0, start_batch=0, labels=True)
    images, labels = next(iter(stream))
    assert images.shape == (100, 28, 28, 1) and labels.shape == (100,)
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert set(labels) <= set(range(10))
