"""Writes that either complete or leave nothing behind.

A stage builds its outputs beside their final place and moves them there in
one step at the end, so a failure or a kill at any point leaves the last good
outputs in place (DVC does not delete them first: the outputs are declared
`persist: true`).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.interrupts import raise_if_requested

# renameat2(2): swap two paths in one atomic step (Linux 3.15+, glibc 2.28+).
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# What renameat2 answers where the kernel, libc or filesystem cannot exchange.
_NO_EXCHANGE = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a directory beside `path` and put it in place only on success.

    The old directory is replaced in one atomic step where the system can
    exchange two paths (Linux). Elsewhere it is renamed aside first; a kill
    between the two renames leaves it as `.<name>.old`, which the next
    `atomic_dir` on the same path puts back.

    Args:
        path: the directory to create or replace.

    Yields:
        A fresh temporary directory on the same filesystem. On an exception
        it is deleted and any existing `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.new.", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the result should not be
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _unless_stopped(lambda: shutil.rmtree(tmp, ignore_errors=True))
    _move_into_place(tmp, path)


def _unless_stopped(discard: Callable[[], None]) -> None:
    """Discard the staged result and raise if a stop was asked for (`pipeline.interrupts`)."""
    try:
        raise_if_requested()
    except KeyboardInterrupt:
        discard()
        raise


def recover_dir(path: str | Path) -> None:
    """Finish or undo a directory swap a kill interrupted, and drop abandoned temporaries."""
    path = Path(path)
    old = _aside(path)
    if old.exists():
        if path.exists():
            shutil.rmtree(old)  # the new copy made it into place
        else:
            os.replace(old, path)  # killed between the two renames: put the old one back
    for leftover in path.parent.glob(f".{path.name}.new.*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


def _move_into_place(new: Path, path: Path) -> None:
    if not path.exists():
        os.replace(new, path)
        return
    if exchange_paths(new, path):
        shutil.rmtree(new)  # `new` now holds the old directory
        return
    old = _aside(path)
    os.replace(path, old)
    os.replace(new, path)
    shutil.rmtree(old)


def _aside(path: Path) -> Path:
    return path.parent / f".{path.name}.old"


def exchange_paths(a: str | Path, b: str | Path) -> bool:
    """Swap two existing paths atomically; False where the system cannot.

    Raises:
        OSError: the exchange was possible but failed (e.g. permissions).
    """
    rename = _renameat2()
    if rename is None:
        return False
    done = rename(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(b))


def _renameat2() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # no such symbol: an old or non-glibc libc
        return None


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path that replaces `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.chmod(0o666 & ~_umask())
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _unless_stopped(lambda: tmp.unlink(missing_ok=True))
    os.replace(tmp, path)


def write_json(path: str | Path, data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
