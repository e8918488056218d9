"""One ingest at a time per index: an OS file lock (flock) under the data home.

The lock is per collection and per Chroma server (named like its side index, rag/store/paths.py), so ingests of
different indexes never wait for each other. flock belongs to the open file: the OS releases it
when its process dies, even by SIGKILL, so a crashed ingest never leaves a lock that blocks the next.
The holder's pid is written beside the lock only to tell a waiting user who holds it.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from rag.errors import RagError
from rag.faultpoints import checkpoint
from rag.store.faults import data_home_error
from rag.store.paths import Paths


Notify = Callable[[str], None]  # told once, when the ingest starts to wait


class IngestBusyError(RagError):
    """Another ingest holds the index's lock and did not finish within RAG_INGEST_LOCK_TIMEOUT."""


def holder(paths: Paths, patience: float = 0.5) -> str:
    """Who holds the lock, for messages: 'pid N' of a live process, else 'pid unknown'.

    Called only while the lock is held; the holder writes its pid just after taking the lock (and a
    SIGKILLed one leaves its own behind), so wait a moment for a pid that names a live process.
    """
    pid_file = paths.ingest_lock.with_suffix(".pid")
    deadline = time.monotonic() + patience
    while True:
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
            return f"pid {pid}"
        except PermissionError:  # it exists, under another user
            return f"pid {pid}"
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                return "pid unknown"
            time.sleep(0.02)


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _acquired(lock: Any, timeout: float) -> bool:
    """Try to take the lock for up to timeout seconds (0: one try)."""
    from filelock import Timeout

    try:
        lock.acquire(timeout=timeout, poll_interval=0.05)
    except Timeout:
        return False
    return True


@contextmanager
def ingest_lock(paths: Paths, timeout: float, notify: Notify | None = None) -> Iterator[None]:
    """Hold the index's ingest lock for the block: wait up to ingest_lock_timeout seconds, then refuse."""
    from filelock import FileLock


    path = paths.ingest_lock
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path))
        if not _acquired(lock, 0):
            limit, where = timeout, paths.where()
            if limit > 0:
                (notify or _to_stderr)(f"waiting for another ingest ({holder(paths)}) of the index at {where} "
                                       f"to finish (up to {limit:g} s, RAG_INGEST_LOCK_TIMEOUT)")
            if limit <= 0 or not _acquired(lock, limit):
                raise IngestBusyError(
                    f"another ingest ({holder(paths)}) is writing the index at {where}"
                    + (f"; gave up after waiting {limit:g} s" if limit > 0 else ""),
                    "let it finish, then run `rag ingest` again (it will find the work done); "
                    "or set RAG_INGEST_LOCK_TIMEOUT to the seconds to wait for it",
                )
    except OSError as e:
        raise data_home_error(e, paths.home) or RagError(
            f"cannot create the ingest lock {path}: {e}", "check that RAG_HOME is writable") from e
    pid_file = path.with_suffix(".pid")
    try:
        pid_file.write_text(f"{os.getpid()}\n")
        checkpoint("ingest:locked")
        yield
    finally:
        pid_file.unlink(missing_ok=True)  # before the release, so it never removes the next holder's pid
        lock.release()
