"""One writer per model: the lock a stage holds while it writes a model's files.

Two processes writing one model at once (`dvc repro`, and the stage's
command from `dvc.yaml` run by hand) would resume the same checkpoint into
the same MLflow run and replace each other's outputs. So `train`, `evaluate`
and `export` each hold the model's lock file (`checkpoints/<model>.lock`,
named in dvc.yaml) from before they touch anything until they end, and a
second one is refused in one line naming the holder.

The lock is `flock` on the file: the kernel releases it when its process
ends however it ends (a SIGKILL or a lost process included), so a lock left
by a dead process is free for the next one, with no stale-lock guesswork.
The file is never deleted (deleting a locked file lets a third process lock
a new one beside it); it holds the holder's host and pid for the message.
`flock` excludes processes on one machine; on a network file system shared
by several machines it may not.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import PipelineError

HOLDER_BYTES = 256  # enough for "host <name> pid <n>"


@contextmanager
def model_lock(path: str | Path, model: str) -> Iterator[None]:
    """Hold model `model`'s lock file at `path` for the block.

    Raises:
        PipelineError: another process holds it (exit 2: nothing was done),
            or the file cannot be created (a read-only checkout).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise PipelineError(
            f"{path}: cannot create {model}'s lock ({err.strerror}); this stage writes "
            "the model, so it needs a writable checkout"
        ) from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PipelineError(
                f"{model} is being written by {_holder(descriptor)} (it holds {path}); "
                "wait for that stage to end or stop it, then run this again"
            ) from None
        _record_holder(descriptor)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _record_holder(descriptor: int) -> None:
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"host {socket.gethostname()} pid {os.getpid()}".encode(), 0)


def _holder(descriptor: int) -> str:
    """Who holds the lock, as its holder wrote it; it may not have written it yet."""
    text = os.pread(descriptor, HOLDER_BYTES, 0).decode(errors="replace").strip()
    return text.splitlines()[0] if text else "another process"
