"""Our own data types, the contract between stages (seeds -> papers -> chunks -> hits)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


def date_int(d: date | None) -> int:
    """A date as the sortable integer YYYYMMDD stored in chunk metadata; 0 for no date."""
    return int(d.strftime("%Y%m%d")) if d else 0


@dataclass
class Paper:
    """One unique paper, merged from every seed file it appears in."""

    paper_id: str
    title: str
    abstract: str
    sources: list[str] = field(default_factory=list)  # "file:line" of every appearance
    authors: int | None = None
    organization: str | None = None
    published: date | None = None
    date_text: str | None = None  # as printed on the page, e.g. "Jun 11" or "Dec 3, 2024"
    upvotes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        d = asdict(self)
        d["published"] = self.published.isoformat() if self.published else None
        return d


@dataclass
class Chunk:
    """A piece of one paper's abstract, the unit that is embedded and stored."""

    chunk_id: str
    paper_id: str
    index: int
    text: str  # the text that is embedded and indexed (title + chunk of abstract)
    metadata: dict[str, Any]


@dataclass
class Hit:
    """One retrieved paper: its best chunk and the fused score."""

    paper_id: str
    title: str
    score: float
    snippet: str  # the start of the best chunk, for listings
    date: str | None
    chunk_id: str
    text: str = ""  # the best chunk's full abstract text (without the title)
    metadata: dict[str, Any] = field(default_factory=dict)
    dense_rank: int | None = None  # 1-based rank of the paper in each retriever, None if absent
    bm25_rank: int | None = None
    dense_score: float | None = None  # cosine similarity of the best chunk
    bm25_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the `rag search --json` shape)."""
        return asdict(self)


@dataclass
class Problem:
    """Something in the seeds that could not be used as-is, with where it is."""

    file: str
    line: int
    message: str
    skipped: bool = True  # True when a would-be paper (or a whole file) was not ingested because of it
    whole_file: bool = False  # the file could not be read at all

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"
