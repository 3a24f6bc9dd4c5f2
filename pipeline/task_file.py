"""task.json: what a trained generator makes, written by train, read by evaluate and export.

Read without Keras, so that a stage can check it before anything heavy loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.fileio import read_json

# What a generator makes: images from noise (and a label), or translations of
# one prepared domain's images into another's.
GENERATION = "generation"
PAIRED_TRANSLATION = "paired_translation"
UNPAIRED_TRANSLATION = "unpaired_translation"
# Images of two domains from one z (CoGAN): the published generator makes `first`'s.
COUPLED_GENERATION = "coupled_generation"
# The keys each kind carries besides `kind`.
FIELDS: dict[str, tuple[str, ...]] = {
    GENERATION: (),
    PAIRED_TRANSLATION: ("family", "input", "target", "baseline"),
    UNPAIRED_TRANSLATION: ("family", "input", "target"),
    COUPLED_GENERATION: ("family", "first", "second"),
}
# A generator that draws codes of its own (InfoGAN) records how many continuous ones end its z.
CONTINUOUS_CODES = "continuous_codes"
_RETRAIN = "rerun its training (`dvc repro train@<model>`)"


def read_task(path: str | Path) -> dict[str, Any]:
    """The task a generator was trained on.

    Raises:
        PipelineError: the file is missing, unreadable, of an unknown kind or
            lacks a field, in one line.
    """
    try:
        task = read_json(path)
    except (OSError, ValueError):
        raise PipelineError(f"{path}: missing or unreadable; {_RETRAIN}") from None
    kind = task.get("kind") if isinstance(task, dict) else None
    if kind not in FIELDS:
        raise PipelineError(
            f"{path}: kind {str(kind)[:32]!r} is not one of {', '.join(FIELDS)}; {_RETRAIN}"
        )
    missing = [key for key in FIELDS[kind] if not isinstance(task.get(key), str)]
    if missing:
        raise PipelineError(f"{path}: {missing[0]!r} is missing; {_RETRAIN}")
    codes = task.get(CONTINUOUS_CODES, 0)
    if kind != GENERATION and CONTINUOUS_CODES in task or type(codes) is not int or codes < 0:
        raise PipelineError(
            f"{path}: {CONTINUOUS_CODES!r} is {str(codes)[:32]!r} (allowed: a count >= 0, "
            f"in a {GENERATION} task only); {_RETRAIN}"
        )
    return task


def continuous_codes(task: dict[str, Any]) -> int:
    """How many of the generator's last z entries are continuous codes (InfoGAN's); 0 for none."""
    return task.get(CONTINUOUS_CODES, 0)
