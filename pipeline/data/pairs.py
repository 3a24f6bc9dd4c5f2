"""Examples of a translation task: (input, target) image pairs from two prepared domains.

NumPy only, like `pipeline.data.stream`: every backend and the evaluation read it.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.data.info import DatasetInfo
from pipeline.data.stream import ArrayExamples, load_domain
from pipeline.data.verify import verify_prepared
from pipeline.errors import PipelineError


def domain_shape(info: DatasetInfo, domain: str) -> tuple[int, int, int]:
    """The (H, W, C) of `domain`'s images; one line naming the prepared ones if unknown."""
    if domain == "A":
        return tuple(info.image_shape)  # type: ignore[return-value]
    if domain not in info.domains:
        prepared = ", ".join(["A", *info.domains])
        raise PipelineError(
            f"domain {domain!r} is not in the prepared data (prepared: {prepared}); "
            "list it in prepare.domains and run `dvc repro prepare`"
        )
    return tuple(info.domains[domain].image_shape)  # type: ignore[return-value]


def check_paired(info: DatasetInfo, input_domain: str, target_domain: str) -> None:
    """Both domains exist and their records pair up (record i of each shows one scene)."""
    for domain in (input_domain, target_domain):
        domain_shape(info, domain)
        if domain != "A" and not info.domains[domain].paired:
            raise PipelineError(
                f"domain {domain!r} is unpaired (its images do not match A's one to one): "
                "a paired model (pix2pix) needs paired domains; CycleGAN takes unpaired ones"
            )


def paired_examples(
    data_dir: str | Path, input_domain: str, target_domain: str, split: str
) -> ArrayExamples:
    """The split's (input, target) pairs, in the split's order, as float32 in [-1, 1].

    `ArrayExamples` holds the inputs as its images and the targets as its
    second part, so a `BatchStream` over it yields (inputs, targets).
    """
    inputs, _ = load_domain(data_dir, input_domain, split)
    targets, _ = load_domain(data_dir, target_domain, split)
    return ArrayExamples(inputs, targets)


def held_out_pairs(data_dir: str | Path, input_domain: str, target_domain: str):
    """The test split's (inputs, targets), checked to be paired domains of this data."""
    info = verify_prepared(data_dir)
    check_paired(info, input_domain, target_domain)
    pairs = paired_examples(data_dir, input_domain, target_domain, "test")
    return pairs.images, pairs.labels
