"""Examples of an unpaired translation task (CycleGAN): images of two domains that never pair up.

NumPy only, like `pipeline.data.pairs`. Where the two domains are derived
from the same images (the digits and their negatives), record i of each
shows one scene; so the training split is cut in two by a fixed, seeded
permutation, A is read from one half and B from the other, and no pair is
ever seen. A folder source's unpaired `B` is read whole beside the whole of A.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data.info import DatasetInfo
from pipeline.data.pairs import domain_shape
from pipeline.data.stream import load_domain
from pipeline.data.verify import verify_prepared

# Names the generator of the halves and of B's order, apart from every other use of the seed.
SPLIT_STREAM = 0x0C7C1E


def domains_pair_up(info: DatasetInfo, first: str, second: str) -> bool:
    """Whether record i of both domains shows the same scene (A and its derived domains)."""
    for domain in (first, second):
        domain_shape(info, domain)
        if domain != "A" and not info.domains[domain].paired:
            return False
    return True


@dataclass(frozen=True)
class UnpairedExamples:
    """Images of domain A and of domain B, drawn together but never as pairs.

    `take(indices)` gives (A[indices mod nA], B[order[indices] mod nB]) with
    `order` a fixed permutation of the stream's range, so a `BatchStream`
    over it stays seeded and resumable at any batch; its length is the larger
    domain's, so a pass shows every image of both.
    """

    a: np.ndarray
    b: np.ndarray
    order: np.ndarray

    def __len__(self) -> int:
        return len(self.order)

    def take(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.a[indices % len(self.a)], self.b[self.order[indices] % len(self.b)]


def unpaired_examples(
    data_dir: str | Path, info: DatasetInfo, source: str, target: str, seed: int
) -> UnpairedExamples:
    """The training split's images of `source` (A) and `target` (B), unpaired.

    Domains that pair up are read from the two halves of a seeded
    permutation of the split; otherwise each is read whole.
    """
    a, _ = load_domain(data_dir, source, "train")
    b, _ = load_domain(data_dir, target, "train")
    rng = np.random.default_rng([seed, SPLIT_STREAM])
    if domains_pair_up(info, source, target):
        halves = np.array_split(rng.permutation(len(a)), 2)
        a, b = a[np.sort(halves[0])], b[np.sort(halves[1])]
    return UnpairedExamples(a, b, rng.permutation(max(len(a), len(b))))


def held_out_images(data_dir: str | Path, domain: str, count: int | None = None) -> np.ndarray:
    """The first `count` test images of a domain (all if None), in the split's order."""
    images, _ = load_domain(data_dir, domain, "test")
    return images if count is None else images[:count]


def held_out_unpaired(
    data_dir: str | Path, source: str, target: str
) -> tuple[np.ndarray, np.ndarray]:
    """The test inputs, and what export shows beside their translations: the true targets
    where the domains pair up, else the target domain's first test images (examples of
    what it looks like, not of what each input should become)."""
    info = verify_prepared(data_dir)
    inputs, targets = held_out_images(data_dir, source), held_out_images(data_dir, target)
    if not domains_pair_up(info, source, target):
        count = min(len(inputs), len(targets))
        inputs, targets = inputs[:count], targets[:count]
    return inputs, targets
