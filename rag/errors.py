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
