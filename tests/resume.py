"""The bit-identical resume check that every stateful model's tests share.

Two epochs straight, or one, the checkpointed state (`state_variables`)
restored into a fresh model, and one more: every variable must come out
the same, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from pipeline.callbacks import state_variables

Fit = Callable[..., object]  # fit(model, epochs, start_epoch=0)


def check_resume(build: Callable[[], keras.Model], fit: Fit) -> tuple[keras.Model, ...]:
    """Assert the resume is bit-identical; returns (straight, first, resumed) for more checks.

    Args:
        build: a fresh model, seeded the same each call.
        fit: trains a model for `epochs` from `start_epoch` (the data stream
            continuing where that epoch starts).
    """
    straight = build()
    fit(straight, 2)
    first = build()
    fit(first, 1)
    saved = [np.array(variable) for variable in state_variables(first)]
    resumed = build()
    for variable, value in zip(state_variables(resumed), saved, strict=True):
        variable.assign(value)
    fit(resumed, 1, start_epoch=1)
    for a, b in zip(state_variables(straight), state_variables(resumed), strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b), err_msg=a.path)
    return straight, first, resumed
