"""Errors that carry a remedy: every RagError has a message and a hint for the user."""

from __future__ import annotations


class RagError(Exception):
    """Base error: `message` says what went wrong, `hint` says how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class CorpusError(RagError):
    """The seed files cannot be read at all (missing path, nothing parseable)."""


class IndexMissingError(RagError):
    """There is no index yet, or it is empty."""


class IndexMismatchError(RagError):
    """The index was built with other embedding or chunking settings than the current ones."""


class ConfigError(RagError):
    """A setting is missing or invalid."""


class StoreUnavailableError(RagError):
    """The Chroma server (RAG_CHROMA_URL) cannot be reached or refused the request."""


class DataHomeError(RagError):
    """The data home cannot be written: its disk is full, it is mounted read-only, or it is not ours to write."""


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
