"""Run a snippet in a fresh interpreter that must not import project code.

Saved `.keras` models are meant to load with Keras alone; this is how the
tests prove it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

_GUARD = """
import sys as _sys
_project = [m for m in _sys.modules if m.split(".")[0] in ("pipeline", "stages")]
assert not _project, f"project code was imported: {_project}"
"""


def run_standalone(script: str, cwd: Path) -> str:
    """Run `script` from `cwd`, fail unless it succeeds without project imports.

    Returns:
        What the script printed.
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script) + _GUARD],
        cwd=cwd,  # not the repo root, so the project is not importable from the cwd
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
