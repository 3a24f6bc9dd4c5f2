"""The command's --out: what it may replace (checked before any work), and the atomic writes.

A folder of PNG files is built beside --out and swapped in at the end, and
an .npz is written to a temporary file and renamed, so a failure or a kill
leaves the old --out or nothing. An existing --out is replaced only with
--overwrite, and only when it holds nothing but what this command writes,
so a mistyped --out cannot delete other work.

numpy and Pillow are imported inside the writes: the checks run while the
command line is checked, before anything heavy loads.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pipeline.errors import PipelineError

if TYPE_CHECKING:
    import numpy as np

Format = Literal["png", "npz"]

MAX_NPZ_BYTES = 4 * 2**30  # an archive is built in memory
LABELS_FILE = "labels.csv"
# What a folder of generated images holds; --overwrite replaces nothing else.
GENERATED_FILE = re.compile(r"\d+(_label\d+)?\.png|" + re.escape(LABELS_FILE))
# What a folder of translated images holds: one <stem>.png per input.
TRANSLATED_FILE = re.compile(r"[^/]+\.png")


def output_format(out: Path, requested: Format | None) -> Format:
    """The output format: --format if given, else npz for a path ending in .npz."""
    is_npz = out.suffix.lower() == ".npz"
    if requested is None:
        return "npz" if is_npz else "png"
    if requested == "npz" and not is_npz:
        raise PipelineError(f"--out {out}: --format npz needs a file name ending in .npz")
    if requested == "png" and is_npz:
        raise PipelineError(
            f"--out {out}: --format png writes a folder, not an .npz file "
            "(allowed: a folder name, or drop --format)"
        )
    return requested


def check_output(
    out: Path, out_format: Format, overwrite: bool, written: re.Pattern = GENERATED_FILE
) -> None:
    """Refuse an output that would destroy something, before any work is done.

    Args:
        out: the --out path.
        out_format: what will be written there.
        overwrite: whether --overwrite was given.
        written: the names of the files this command writes in a folder; with
            --overwrite, a folder holding anything else is refused.
    """
    resolved = out.resolve()
    if Path.cwd().resolve().is_relative_to(resolved):
        raise PipelineError(
            f"--out {out}: is the current folder or one above it (allowed: a new folder)"
        )
    if out_format == "npz":
        _check_npz_target(out, overwrite)
    else:
        _check_png_target(out, overwrite, written)
    parent = _nearest_existing(resolved.parent)
    if not parent.is_dir() or not _can_create_in(parent):
        raise PipelineError(f"--out {out}: cannot be created in {parent} (not a writable folder)")


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be made in `folder`, by trying: permissions alone miss /proc,
    a read-only mount, or a root user's rights."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _check_npz_target(out: Path, overwrite: bool) -> None:
    if out.is_dir():
        raise PipelineError(f"--out {out}: is a folder (allowed: a file name ending in .npz)")
    if out.exists() and not overwrite:
        raise PipelineError(f"--out {out}: exists (allowed: a new file, or --overwrite)")
    if out.exists() and not out.is_file():
        raise PipelineError(f"--out {out}: exists and is not a regular file")


def _check_png_target(out: Path, overwrite: bool, written: re.Pattern) -> None:
    if out.exists() and not out.is_dir():
        raise PipelineError(f"--out {out}: exists and is not a folder (allowed: a folder)")
    if not out.is_dir():
        return
    entries = sorted(entry.name for entry in out.iterdir())
    if not entries:
        return
    if not overwrite:
        raise PipelineError(
            f"--out {out}: folder exists and is not empty (allowed: a new or empty folder, "
            "or --overwrite to replace images generated before)"
        )
    # --overwrite swaps the whole folder: refuse one that holds anything this
    # command did not write, so a mistyped --out cannot delete other work.
    foreign = [
        name for name in entries if not written.fullmatch(name) or not (out / name).is_file()
    ]
    if foreign:
        raise PipelineError(
            f"--out {out}: holds files this command does not write (e.g. {foreign[0]!r}); "
            "--overwrite replaces only a folder of generated images"
        )


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_npz_size(needed: int, what: str, flag: str) -> None:
    """Refuse an archive that would need more than MAX_NPZ_BYTES of memory to build.

    Args:
        needed: its bytes.
        what: what it would hold, for the message (`6 images of shape (8, 8, 1)`).
        flag: the option to change, for the message (`-n 6`, `--input x`).
    """
    if needed > MAX_NPZ_BYTES:
        raise PipelineError(
            f"{flag}: an .npz of {what} needs {needed / 2**30:.1f} GiB of memory "
            f"(allowed: up to {MAX_NPZ_BYTES / 2**30:.0f} GiB; write PNGs or fewer images)"
        )


def write_png_folder(
    out: Path,
    names: Sequence[str],
    batches: Iterable[np.ndarray],
    labels: np.ndarray | None = None,
) -> None:
    """Write one PNG per image into a staging folder that replaces `out` at the end.

    Args:
        out: the folder.
        names: each image's file name, in order.
        batches: uint8 NHWC batches of the images, in order; consumed one at a
            time, so they may be made lazily.
        labels: each image's class, written with its name to `labels.csv`; None: no file.
    """
    from pipeline.fileio import atomic_dir
    from pipeline.images import save_png

    with atomic_dir(out) as staging:
        images = (image for batch in batches for image in batch)
        for name, image in zip(names, images, strict=True):
            save_png(image, staging / name)
        if labels is not None:
            with open(staging / LABELS_FILE, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["file", "label"])
                writer.writerows(zip(names, map(int, labels), strict=True))


def write_npz(out: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write one compressed archive in a single atomic step."""
    import numpy as np

    from pipeline.fileio import atomic_file

    with atomic_file(out) as tmp:
        np.savez_compressed(tmp, **arrays)


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """Map [-1, 1] to float32 [0, 1], clipping values outside.

    A generator need not end in tanh, and float32 tanh can overshoot by an
    ulp; clipping keeps the promised range exact.
    """
    import numpy as np

    return np.clip((np.asarray(images, dtype=np.float64) + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


def clipped(images: np.ndarray) -> np.ndarray:
    """`images` as float32 clipped to [-1, 1], for the same reason as `to_unit_range`."""
    import numpy as np

    return np.clip(np.asarray(images, dtype=np.float32), -1.0, 1.0)
