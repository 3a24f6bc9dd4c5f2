"""A stop request (Ctrl-C, SIGTERM) that no library in between can swallow.

Python raises a signal's `KeyboardInterrupt` in whatever code runs when it
arrives. When that is a finaliser (`__del__`, of which TensorFlow has many),
Python only reports it as "Exception ignored" and carries on, so a stage
stopped that way trained to the end and published, its run FINISHED. So the
request is also remembered: a training checks it after every batch, and
every atomic write (`pipeline.fileio`) checks it before it moves its result
into place. A stopped stage therefore never publishes, whichever frame the
exception first landed in.

A second signal more than `REPEAT_GRACE_S` after the first ends the process
at once (exit 130), for a clean-up that hangs; the run it leaves open is
marked KILLED by the next pipeline process. Signals closer together are one
request: a terminal's Ctrl-C can reach a stage both directly and through
`dvc`.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

EXIT_CODE = 130  # what a shell reports for a process stopped by Ctrl-C
REPEAT_GRACE_S = 2.0

_requested_at: float | None = None
_signal_number: int | None = None


def install() -> None:
    """Turn SIGINT and SIGTERM into a remembered stop request (stage processes only)."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    default_hook = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        # The request is remembered and acted on; the report would break the one-line error.
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            default_hook(unraisable)

    sys.unraisablehook = hook


def requested() -> bool:
    """Whether a stop was asked for in this process."""
    return _requested_at is not None


def raise_if_requested() -> None:
    """Raise `KeyboardInterrupt` if a stop was asked for, wherever the first one went."""
    if _requested_at is not None:
        raise KeyboardInterrupt(f"stopped by signal {_signal_number}")


def _on_signal(signum: int, frame: Any) -> None:
    global _requested_at, _signal_number
    now = time.monotonic()
    if _requested_at is not None:
        if now - _requested_at > REPEAT_GRACE_S:
            os.write(2, b"error: stopped again during clean-up; exiting now\n")
            os._exit(EXIT_CODE)
        return
    _requested_at, _signal_number = now, signum
    raise KeyboardInterrupt(f"stopped by signal {signum}")
