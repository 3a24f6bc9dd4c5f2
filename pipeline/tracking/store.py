"""Where the MLflow store lives, and how every process opens it safely and portably.

Without `MLFLOW_TRACKING_URI`, runs go to a sqlite store at `mlflow/mlflow.db`
under the repository root, with artifacts beside it in `mlflow/artifacts/`.
The root is taken from `DVC_ROOT` when DVC sets it, so `dvc exp run --temp`
and `--queue`, which run in a copy of the repo, log to the store of the
repository they were started from.

Two properties of a plain sqlite store are fixed here:

- Portable: MLflow records a local artifact root as an absolute `file://`
  URI, so moving the repository hides every artifact. Experiments are
  created with `mlflow-artifacts:/<experiment>` roots instead, which name no
  path: `mlflow ui --artifacts-destination mlflow/artifacts` serves them,
  and this module maps them to `artifacts/` beside the sqlite file for the
  pipeline's own processes.
- Safe in parallel: the first process to open an empty store creates its
  tables (alembic migrations), and several doing so at once corrupt it. A
  file lock beside the database makes that happen once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from pipeline.errors import PipelineError

STORE_DIR = "mlflow"
DB_FILE = "mlflow.db"
ARTIFACTS_DIR = "artifacts"  # beside the sqlite file
ARTIFACT_SCHEME = "mlflow-artifacts"
# How long a tracking server may keep a request waiting, unless the user's
# environment says otherwise: MLflow's own defaults (7 retries, 120 s each)
# let a dead server hold a training silent for many minutes. These give up
# within about a minute (3 tries, 15 s each, 1 + 2 s between).
SERVER_WAITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}
# Once a server has stopped answering: the last calls (ending the run) fail at once.
GIVE_UP_WAITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}
LOCK_TIMEOUT_S = 600  # the longest a process waits for another to create the store
SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every sqlite database
SQLITE_HEADER_BYTES = 100


def repo_root() -> Path:
    """The repository root: DVC_ROOT under DVC, else the nearest folder holding `.dvc`."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return cwd


def local_store_uri() -> str:
    """The repository's own sqlite store."""
    return f"sqlite:///{repo_root() / STORE_DIR / DB_FILE}"


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` if set, else the repository's sqlite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or local_store_uri()


def sqlite_file(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI; None for any other store."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    return Path(unquote(parsed.path)).resolve()


def is_server(uri: str) -> bool:
    """Whether `uri` names a tracking server, which keeps its own artifact root."""
    return urlparse(uri).scheme in ("http", "https")


def store_exists(uri: str | None = None) -> bool:
    """Whether the store holds anything; connecting to a missing sqlite file would create it."""
    uri = uri or tracking_uri()
    database = sqlite_file(uri)
    return database is None or database.is_file()


def connect_store() -> str:
    """Point MLflow at the store, creating it once under a lock; returns the tracking URI.

    A sqlite store is checked first (`check_sqlite_store`); a read-only
    checkout's is read without the lock. Also
    makes the store's `mlflow-artifacts:/` URIs readable and writable in
    this process (see the module's docstring). Call it before any MLflow use,
    including loading a `models:/` or `runs:/` URI.
    """
    import mlflow

    uri = tracking_uri()
    database = sqlite_file(uri)
    # MLflow logs each database error with its traceback before raising it;
    # the stage reports the raised error itself, in one line (pipeline.faults).
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    if database is not None:
        _open_once(uri, database)
    if is_server(uri):
        for name, value in SERVER_WAITS.items():
            os.environ.setdefault(name, value)
    serve_artifacts_locally()
    mlflow.set_tracking_uri(uri)
    return uri


def stop_waiting_for_server() -> None:
    """Make every later request to the tracking server fail at once (it has stopped answering)."""
    os.environ.update(GIVE_UP_WAITS)


def _open_once(uri: str, database: Path) -> None:
    """Check the sqlite store and open it under a lock, creating it if it is missing.

    Several processes may find it missing at once, and two creating it
    corrupt it, hence the lock; the check comes under it too, so a store
    another process is creating is not taken for a damaged one. Where the
    lock cannot be written (a read-only checkout) an existing store is
    checked and read as it is.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(f"{database}.lock")
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        with lock.acquire(timeout=LOCK_TIMEOUT_S):
            check_sqlite_store(database)
            _open(uri)  # the first open creates and migrates the tables
    except Timeout:
        raise PipelineError(
            f"{database}: another process has been creating the MLflow store for "
            f"{LOCK_TIMEOUT_S} s; if none is running, delete {lock.lock_file} and run again"
        ) from None
    except OSError as err:
        if not database.is_file():
            raise PipelineError(
                f"{database}: cannot create the MLflow store ({err.strerror}); run this in a "
                "writable checkout, or set MLFLOW_TRACKING_URI to a store you can write"
            ) from None
        check_sqlite_store(database)  # read-only: read it as it is


def check_store() -> None:
    """Check a sqlite store's file before any work (`check_sqlite_store`); not a server."""
    database = sqlite_file(tracking_uri())
    if database is not None:
        check_sqlite_store(database)


def check_sqlite_store(database: Path) -> None:
    """Refuse, in one line, a store file that is empty, not sqlite, cut short or unreadable.

    Cheap (its first 100 bytes and its size), so every process does it before
    any work; damage deeper in the file surfaces when sqlite reads it, and the
    stage turns that into one line too (`pipeline.errors.environment_error`).
    A missing file is fine: it is created on first use.

    Raises:
        PipelineError: the file is damaged or cannot be read.
    """
    try:
        size = database.stat().st_size
        with database.open("rb") as file:
            header = file.read(SQLITE_HEADER_BYTES)
    except FileNotFoundError:
        return
    except OSError as err:
        raise PipelineError(f"{database}: cannot read the MLflow store ({err.strerror})") from None
    problem = _sqlite_damage(header, size)
    if problem:
        raise PipelineError(
            f"{database}: the MLflow store is damaged ({problem}); nothing was written. "
            "Restore it from a backup, or move it aside to start an empty store and retrain "
            "every model into it (dvc repro --force --downstream train)"
        )


def _sqlite_damage(header: bytes, size: int) -> str | None:
    """What is wrong with a sqlite file, from its header and size; None if nothing shows."""
    if size == 0:
        return "it is empty, 0 bytes: its runs are gone"
    if not header.startswith(SQLITE_MAGIC):
        return "it does not start as a sqlite database does: its first bytes were overwritten"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count in the header is valid only while these two counters agree.
    if header[24:28] == header[92:96] and pages * page_size > size:
        return f"it is cut short: {size} of its {pages * page_size} bytes"
    return None


def _open(uri: str) -> None:
    """Open the sqlite store once, which creates its tables and its Default experiment.

    Opened here with a portable artifact root, or MLflow would give the
    Default experiment an absolute `./mlruns` path under the working folder.
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(uri, f"{ARTIFACT_SCHEME}:/")


def experiment_artifact_root(name: str) -> str | None:
    """The artifact root to create experiment `name` with: none for a server, which has its own."""
    return None if is_server(tracking_uri()) else f"{ARTIFACT_SCHEME}:/{name}"


def local_artifact_dir(artifact_uri: str, uri: str | None = None) -> Path:
    """The folder an `mlflow-artifacts:/` URI of a local store names."""
    database = sqlite_file(uri or tracking_uri())
    if database is None:
        raise PipelineError(
            f"{artifact_uri}: an mlflow-artifacts URI needs the tracking server that serves it "
            "(set MLFLOW_TRACKING_URI to it) or a sqlite store"
        )
    relative = unquote(urlparse(artifact_uri).path).lstrip("/")
    root = database.parent / ARTIFACTS_DIR
    folder = (root / relative).resolve()
    if not folder.is_relative_to(root.resolve()):
        raise PipelineError(f"{artifact_uri}: points outside {root}")
    return folder


def serve_artifacts_locally() -> None:
    """Resolve `mlflow-artifacts:/` URIs to local folders unless a server is in use.

    MLflow's own repository for the scheme only talks to a tracking server;
    with a sqlite store the pipeline is its own artifact server, with the same
    layout `mlflow ui --artifacts-destination` reads.
    """
    from mlflow.store.artifact.artifact_repository_registry import (
        _artifact_repository_registry as registry,
    )
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    def repository(artifact_uri: str, tracking_uri: str | None = None, registry_uri=None):
        import mlflow

        current = tracking_uri or mlflow.get_tracking_uri()
        if is_server(current):
            return MlflowArtifactsRepository(artifact_uri, current, registry_uri)
        return LocalArtifactRepository(str(local_artifact_dir(artifact_uri, current)))

    registry.register(ARTIFACT_SCHEME, repository)
