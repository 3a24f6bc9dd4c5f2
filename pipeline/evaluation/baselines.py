"""The baselines a translation model is compared with: what a user gets without a GAN.

Each is a function of the test inputs and what the training split tells
(`BaselineData`), named in `BASELINES`; a translation model's task names its
own (`baseline` in its params section, recorded in task.json).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.evaluation.pixel_metrics import bicubic_upsample, mean_fill


@dataclass(frozen=True)
class BaselineData:
    """What a baseline may know besides the input.

    Args:
        target_mean: the per-pixel mean of the training targets, (H, W, C).
        mask: the pixels the task fills (an inpainting hole), (H, W) bool; or None.
    """

    target_mean: np.ndarray
    mask: np.ndarray | None = None


def mean_target(inputs: np.ndarray, data: BaselineData) -> np.ndarray:
    """The training targets' mean image, whatever the input: what ignoring it scores."""
    return np.broadcast_to(data.target_mean, (len(inputs), *data.target_mean.shape)).astype(
        np.float32
    )


def bicubic(inputs: np.ndarray, data: BaselineData) -> np.ndarray:
    """Bicubic upsampling to the target's size: the super-resolution papers' baseline."""
    return bicubic_upsample(inputs, data.target_mean.shape[:2])


def mean_fill_of_hole(inputs: np.ndarray, data: BaselineData) -> np.ndarray:
    """The hole filled with the training targets' mean there: the inpainting baseline."""
    if data.mask is None:
        raise ValueError("the mean fill needs the hole's mask")
    return mean_fill(inputs, data.mask, data.target_mean)


BASELINES: dict[str, Callable[[np.ndarray, BaselineData], np.ndarray]] = {
    "mean_target": mean_target,
    "bicubic": bicubic,
    "mean_fill": mean_fill_of_hole,
}
