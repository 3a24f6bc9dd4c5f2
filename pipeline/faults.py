"""Faults of the machine, not the code, as one line: a full disk, a read-only file, a bad store.

They can strike anywhere a file is written (a checkpoint, an output, the
MLflow store) and reach the stage wrapped in other libraries' errors
(SQLAlchemy's, MLflow's), so the stage's entry point looks through the
chain of causes for one of these; anything else is a bug, and keeps its
traceback.
"""

from __future__ import annotations

import errno
import sqlite3
import sys
from collections.abc import Iterator

from pipeline.errors import PipelineError, RunFailed, first_line, typed_first_line

NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}
RESUMES = "free some space and run it again (a training resumes from its last checkpoint)"


def machine_fault(err: BaseException) -> PipelineError | None:
    """The one-line error for `err` if a fault of the machine caused it; else None."""
    unreachable = server_unreachable(err)
    if unreachable is not None:
        return RunFailed(
            f"the MLflow tracking server {_store()} does not answer "
            f"({typed_first_line(unreachable, 160)}); start it again and run this again "
            "(a training resumes from its last checkpoint, in the same run)"
        )
    for cause in _causes(err):
        if isinstance(cause, OSError) and cause.errno in NO_SPACE:
            return RunFailed(f"{_where(cause)}: no space left on the device; {RESUMES}")
        if isinstance(cause, OSError) and cause.errno in NOT_WRITABLE:
            return PipelineError(
                f"{_where(cause)}: cannot be written ({cause.strerror}); this command writes "
                "there, so it needs a writable checkout"
            )
        if isinstance(cause, sqlite3.DatabaseError):
            return _store_fault(cause)
    return None


def server_unreachable(err: BaseException) -> BaseException | None:
    """The connection error behind `err` if a tracking server could not be reached; else None."""
    import requests

    for cause in _causes(err):
        if isinstance(cause, requests.ConnectionError | requests.Timeout):
            return cause
    return None


def _store_fault(err: sqlite3.DatabaseError) -> PipelineError:
    """The MLflow store's sqlite error as one line (the store is MLflow's only database here)."""
    message = first_line(err)
    store = _store()
    if "full" in message:
        return RunFailed(f"the MLflow store {store}: {message}; {RESUMES}")
    if "readonly" in message or "read-only" in message:
        return PipelineError(
            f"the MLflow store {store} is read-only ({message}); this command records runs, "
            "so it needs a writable store"
        )
    return PipelineError(
        f"the MLflow store {store} is damaged ({message}); restore it from a backup, or move "
        "it aside to start an empty store and retrain every model into it "
        "(dvc repro --force --downstream train)"
    )


def _store() -> str:
    """The tracking URI in use, for the message.

    Looked up, not imported: MLflow is in use only after `pipeline.tracking.store`
    has connected it, and a stage that never tracks must not depend on tracking
    (dvc.yaml lists the code each stage imports).
    """
    store = sys.modules.get("pipeline.tracking.store")
    return store.tracking_uri() if store is not None else "in use"


def _where(err: OSError) -> str:
    return str(err.filename) if err.filename else "a file"


def _causes(err: BaseException) -> Iterator[BaseException]:
    """`err` and every exception it was raised from or while handling, once each."""
    seen: set[int] = set()
    pending: list[BaseException] = [err]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
