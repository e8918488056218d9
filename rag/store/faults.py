"""The one owner of fault mapping: an unreachable or refusing Chroma server, and a full, read-only or
forbidden data home (as OSError errno, sqlite's text or Chroma's errors), each as a RagError with a remedy.

Every writer under RAG_HOME (the store, the side index, the ingest lock, the embedding cache) and the
CLI's last-resort handler map disk faults through `data_home_error` here."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from rag.errors import DataHomeError, RagError, StoreUnavailableError

if TYPE_CHECKING:
    from pathlib import Path

# How each fault shows up: OSError errno, and the text sqlite and Chroma (Rust) put in their own errors.
_FULL = (28, 122)  # ENOSPC, EDQUOT
_READ_ONLY = (30,)  # EROFS
_DENIED = (13, 1)  # EACCES, EPERM
_FULL_TEXT = ("database or disk is full", "no space left on device", "os error 28", "disk quota exceeded")
_READ_ONLY_TEXT = ("readonly database", "read-only file system", "os error 30")
_DENIED_TEXT = ("permission denied", "os error 13")


def data_home_error(e: BaseException, home: object) -> DataHomeError | None:
    """e as a DataHomeError naming the home when a full, read-only or forbidden disk caused it, else None."""
    code = getattr(e, "errno", None)
    text = " ".join(str(e).split()).lower()
    detail = " ".join(str(e).split())[:160]
    if code in _FULL or any(t in text for t in _FULL_TEXT):
        return DataHomeError(f"no space left on the data home {home} ({detail})",
                             "free some space there (or set RAG_HOME to a bigger disk) and run the command again; "
                             "the index keeps what was finished")
    if code in _READ_ONLY or any(t in text for t in _READ_ONLY_TEXT):
        return DataHomeError(f"the data home {home} is read-only ({detail})",
                             "remount it read-write, or set RAG_HOME to a writable folder")
    if code in _DENIED or (any(t in text for t in _DENIED_TEXT) and not isinstance(e, RagError)):
        return DataHomeError(f"no permission to write in the data home {home} ({detail})",
                             "run as the user who owns it, fix its permissions, or set RAG_HOME to a folder of yours")
    return None


SERVER_HINT = "start the server with `chroma run --path DIR --host HOST --port PORT`, or unset RAG_CHROMA_URL"


@contextmanager
def reachable(url: str | None) -> Iterator[None]:
    """Turn a Chroma server's connection and auth failures into a StoreUnavailableError naming the URL."""
    if not url:
        yield
        return
    import httpx
    from chromadb.errors import AuthorizationError, ChromaAuthError

    try:
        yield
    except httpx.TransportError as e:  # refused, reset, timed out: the server is down or unreachable
        raise StoreUnavailableError(
            f"cannot reach the Chroma server at {url} ({type(e).__name__}: {e})",
            SERVER_HINT,
        ) from e
    except (ChromaAuthError, AuthorizationError) as e:
        raise StoreUnavailableError(
            f"the Chroma server at {url} refused the request: {e}",
            "set RAG_CHROMA_TOKEN (and RAG_CHROMA_TOKEN_HEADER) to the server's token",
        ) from e


@contextmanager
def on_disk(home: Path | None) -> Iterator[None]:
    """Turn a full, read-only or forbidden data home (as OSError, sqlite's or Chroma's error) into a DataHomeError."""
    if home is None:
        yield
        return
    try:
        yield
    except RagError:
        raise
    except Exception as e:  # noqa: BLE001  chromadb reports these as InternalError, with sqlite's text or none
        from chromadb.errors import ChromaError

        fault = data_home_error(e, home) or (_disk_fault(e, home) if isinstance(e, ChromaError) else None)
        if fault is not None:
            raise fault from e
        if isinstance(e, ChromaError):
            detail = " ".join(str(e).split())[:160]
            raise RagError(f"Chroma failed on the index at {home} ({type(e).__name__}: {detail})",
                           "run the command again; if it keeps failing, rebuild with `rag ingest --rebuild`") from e
        raise


def _existing(folder: Path) -> Path:
    """folder, or the nearest parent that exists (the data home may not be made yet)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


LOW_SPACE = 64 * 2**20  # a Chroma write step needs a few MB (documents, vectors, full-text index, sqlite journal)


def _disk_fault(e: Exception, home: Path) -> RagError | None:
    """Chroma's error when its disk fills often names no cause ("Error in compaction: Failed to apply logs to
    the metadata segment"), and the failed write gives its space back: ask the file system instead."""
    import os

    try:
        st = os.statvfs(_existing(home))
    except OSError:
        return None
    detail = f"Chroma: {' '.join(str(e).split())[:160]}"
    if st.f_flag & os.ST_RDONLY:
        return data_home_error(OSError(30, detail), home)
    free = st.f_bavail * st.f_frsize
    if free < LOW_SPACE:
        return data_home_error(OSError(28, f"only {free // 1024} kB free; {detail}"), home)
    return None


def read_only_note(home: Path) -> str:
    """A hint's tail when the data home (or the folder it would be made in) is read-only: ingest would fail too."""
    import os

    folder = _existing(home)
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return ""
    return f" (but {folder} is on a read-only file system: remount it read-write, or set RAG_HOME)" if read_only else ""
