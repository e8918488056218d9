"""Named points where a crash test stops or kills an ingest; a no-op unless a test sets RAG_TEST_KILL_AT/PAUSE_AT.

A crash test that kills at a computed time fails on a busy machine (the ingest may finish first). A process
started with RAG_TEST_KILL_AT=<point>[:<nth>] SIGKILLs itself the nth time (default 1) it reaches that point,
so it dies at the same place on any machine. RAG_TEST_PAUSE_AT=<point>[:<nth>] with RAG_TEST_PAUSE_FILE=<path>
makes it wait there until <path> exists (it says so on stderr first): a test can hold an ingest inside its lock
as long as it likes. Points are named `stage:event` (POINTS lists them); nothing here runs unless one is set.
It lives at the top of rag/ (like errors.py) because the store (side index) and the ingest both call it.
"""

from __future__ import annotations

import os
import signal
import sys
import time

KILL_AT = "RAG_TEST_KILL_AT"
PAUSE_AT = "RAG_TEST_PAUSE_AT"
PAUSE_FILE = "RAG_TEST_PAUSE_FILE"

# Every point the code calls, in the order an ingest reaches them (the batch point repeats once a batch).
POINTS = (
    "ingest:locked",  # the ingest lock is held and its pid written; nothing else done
    "sources:copied",  # `rag ingest FILE`: the file's copy is under RAG_HOME/sources, the manifest does not name it yet
    "sources:listed",  # the manifest names the new source; nothing indexed yet
    "store:rebuild-dropped",  # --rebuild: the old collection is deleted, the new one not yet created
    "ingest:marker-cleared",  # the collection's content marker is cleared, nothing written yet
    "ingest:batch-stored",  # a batch of chunks is upserted (the nth time: after the nth batch)
    "ingest:stale-delete",  # new versions are written; the old versions' extra chunks are not deleted yet
    "ingest:removed-delete",  # papers gone from the seeds are about to be deleted
    "side-index:before-switch",  # a new side index version is written, `current` does not point at it yet
    "ingest:before-marker",  # the side index is saved; the marker is about to be set
    "ingest:marker-set",  # everything is done, the lock is still held
)

_reached: dict[str, int] = {}


def _armed(spec: str | None, name: str) -> bool:
    """Whether spec (`point` or `point:nth`) names this point and this is its nth arrival."""
    if not spec:
        return False
    head, _, tail = spec.rpartition(":")
    point, nth = (head, int(tail)) if tail.isdigit() else (spec, 1)
    return point == name and _reached[name] == nth


def checkpoint(name: str) -> None:
    """Reaching a named point: SIGKILL this process or pause here if a test asked for it, else nothing."""
    kill, pause = os.environ.get(KILL_AT), os.environ.get(PAUSE_AT)
    if not kill and not pause:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _armed(kill, name):
        os.kill(os.getpid(), signal.SIGKILL)
    if _armed(pause, name):
        go = os.environ[PAUSE_FILE]
        print(f"{PAUSE_AT}: paused at {name} (pid {os.getpid()}) until {go} exists", file=sys.stderr, flush=True)
        while not os.path.exists(go):
            time.sleep(0.02)
