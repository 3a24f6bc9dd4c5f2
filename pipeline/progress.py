"""How much Keras prints while it fits: a library concern, so no library module imports the CLI."""

from __future__ import annotations

import sys


def progress_verbosity() -> int:
    """Keras `verbose` for `fit`: the progress bar on a terminal, one line per epoch in a log.

    A progress bar redraws itself with carriage returns, which turn a DVC log
    or a CI log into one unreadable line per step.
    """
    return 1 if sys.stdout.isatty() else 2
