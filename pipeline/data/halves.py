"""Unpaired examples of two paired domains: each from its own half of the training split.

A derived domain's record i shows the base's record i, so training two GANs
on both splits whole would let them see the same scenes in both domains.
CoGAN's claim is that it learns the correspondence without that: as in the
paper, the first domain's images come from one half of the training split
and the second's from the other, the halves a fixed seeded split of the
indices. NumPy only, like `pipeline.data.pairs`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.data.stream import ArrayExamples, load_domain

# Names the split into halves apart from every other use of the run's seed.
HALVES_STREAM = 0xC06A


def split_halves(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sets of indices of equal size (an odd last one is left out), each sorted."""
    order = np.random.default_rng([seed, HALVES_STREAM]).permutation(count)
    half = count // 2
    return np.sort(order[:half]), np.sort(order[half : 2 * half])


def unpaired_halves(data_dir: str | Path, first: str, second: str, seed: int) -> ArrayExamples:
    """The training split's `first` images from one half and `second`'s from the other.

    As `ArrayExamples(first images, second images)`, so a `BatchStream` over it
    yields (first batch, second batch), seeded and resumable at any batch.
    Example i pairs two different scenes, never a scene with itself.
    """
    first_images, _ = load_domain(data_dir, first, "train")
    second_images, _ = load_domain(data_dir, second, "train")
    one, other = split_halves(len(first_images), seed)
    return ArrayExamples(first_images[one], second_images[other])
