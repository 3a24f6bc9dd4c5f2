"""A model's scores over several seeds: each metric's mean and standard deviation.

The `seeds` stage writes this summary to `metrics/seeds/<model>.json` (a DVC
metrics file), the report shows it as mean ± std, and MLflow keeps it on the
model's training run. The standard deviation is the sample one (n - 1 in the
denominator), an estimate of the spread a further seed would show; with one
seed there is none, and the summary holds no `std`.
"""

from __future__ import annotations

import math

Scores = dict[str, float | int]


def summarise(per_seed: dict[int, Scores]) -> dict:
    """`{"seeds": [...], "n": n, "mean": {metric: ...}, "std": {metric: ...}}`.

    Args:
        per_seed: each seed's metrics, the training's own seed first. A metric
            is summarised when every seed has it.
    """
    seeds = list(per_seed)
    runs = list(per_seed.values())
    keys = [key for key in runs[0] if all(key in run for run in runs)]
    mean, std = {}, {}
    for key in keys:
        values = [float(run[key]) for run in runs]
        mean[key] = math.fsum(values) / len(values)
        if len(values) > 1:
            squares = math.fsum((value - mean[key]) ** 2 for value in values)
            std[key] = math.sqrt(squares / (len(values) - 1))
    summary: dict = {"seeds": seeds, "n": len(seeds), "mean": mean}
    if std:
        summary["std"] = std
    return summary


def mean_and_std(summary: dict, key: str, digits: int = 4) -> str | None:
    """`12.3 ± 0.4` (or the mean alone for one seed); None when the summary lacks `key`."""
    if key not in summary.get("mean", {}):
        return None
    mean = f"{summary['mean'][key]:.{digits}g}"
    spread = summary.get("std", {}).get(key)
    return mean if spread is None else f"{mean} ± {spread:.2g}"
