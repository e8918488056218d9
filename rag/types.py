"""Our own data types, the contract between stages (seeds -> papers -> chunks -> hits)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


@dataclass
class Paper:
    """One unique paper, merged from every file it appears in (page dumps, and a user's JSONL/CSV/BibTeX/Atom)."""

    paper_id: str
    title: str
    abstract: str
    sources: list[str] = field(default_factory=list)  # "file:line" of every appearance
    authors: int | None = None  # how many (page dumps print only the count)
    organization: str | None = None
    published: date | None = None
    date_text: str | None = None  # as printed on the page, e.g. "Jun 11" or "Dec 3, 2024"
    upvotes: int | None = None
    # From a user's files (empty for page-dump papers):
    author_names: list[str] = field(default_factory=list)
    url: str | None = None
    arxiv_id: str | None = None  # without version, e.g. "2401.01234" or "hep-th/9901001"
    doi: str | None = None  # lower case, without "https://doi.org/"
    venue: str | None = None
    fields_from: dict[str, str] = field(default_factory=dict)  # field -> the file its value came from

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (what asdict gives, built directly: asdict's deep copy was most of an unchanged
        re-ingest's time at 100k papers, since every paper is hashed from it). The fields only a user's files
        fill are left out when empty, so a page-dump paper's dict (and hash) is what it always was."""
        d = {"paper_id": self.paper_id, "title": self.title, "abstract": self.abstract, "sources": list(self.sources),
             "authors": self.authors, "organization": self.organization,
             "published": self.published.isoformat() if self.published else None, "date_text": self.date_text,
             "upvotes": self.upvotes}
        for key in EXTRA_FIELDS:
            value = getattr(self, key)
            if value:
                d[key] = list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value
        return d


# Paper fields a user's files may fill (page dumps never do); kept in chunk metadata only when set.
EXTRA_FIELDS = ("author_names", "url", "arxiv_id", "doi", "venue", "fields_from")


def paper_links(url: str | None, arxiv_id: str | None, doi: str | None) -> dict[str, str]:
    """The paper's links by kind ("url", "arxiv", "doi"), each once, in that order."""
    links: dict[str, str] = {}
    if url:
        links["url"] = url
    if arxiv_id:
        links["arxiv"] = f"https://arxiv.org/abs/{arxiv_id}"
    if doi:
        links["doi"] = f"https://doi.org/{doi}"
    seen: set[str] = set()
    return {k: v for k, v in links.items() if not (v in seen or seen.add(v))}


@dataclass
class PaperRecord:
    """One indexed paper as the store knows it. The one owner of how a paper's fields are kept in chunk
    metadata (Chroma metadata cannot hold None: no upvotes is -1, no date or organization is "")."""

    paper_id: str
    title: str
    date: str | None = None  # ISO YYYY-MM-DD
    date_text: str | None = None  # as printed on the page, e.g. "Jun 11"
    authors: int | None = None
    organization: str | None = None
    upvotes: int | None = None
    files: list[str] = field(default_factory=list)  # seed files the paper appears in
    abstract: str = ""  # the whole abstract, when asked for one paper
    stored: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the metadata as stored
    author_names: list[str] = field(default_factory=list)
    url: str | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    venue: str | None = None
    fields_from: dict[str, str] = field(default_factory=dict)  # field -> the file its value came from

    @property
    def links(self) -> dict[str, str]:
        """Links to the paper by kind: "url", "arxiv", "doi" (empty for page-dump papers)."""
        return paper_links(self.url, self.arxiv_id, self.doi)

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], abstract: str = "") -> PaperRecord:
        """Decode a chunk's metadata."""
        upvotes = meta.get("upvotes", -1)
        return cls(
            paper_id=str(meta["paper_id"]),
            title=str(meta["title"]),
            date=meta.get("date") or None,
            date_text=meta.get("date_text") or None,
            authors=meta.get("authors") or None,
            organization=meta.get("organization") or None,
            upvotes=upvotes if isinstance(upvotes, int) and upvotes >= 0 else None,
            files=[f for f in str(meta.get("files") or "").split("; ") if f],
            abstract=abstract,
            stored={k: v for k, v in meta.items() if k != "chunk"},
            author_names=_json_field(meta.get("author_names"), list),
            url=meta.get("url") or None,
            arxiv_id=meta.get("arxiv_id") or None,
            doi=meta.get("doi") or None,
            venue=meta.get("venue") or None,
            fields_from=_json_field(meta.get("fields_from"), dict),
        )

    def as_stored(self) -> dict[str, Any]:
        """The stored metadata plus the abstract: the shape the app's /paper API has always returned."""
        return {**self.stored, "abstract": self.abstract}

    @classmethod
    def of_paper(cls, paper: Paper) -> PaperRecord:
        """The record of a parsed paper."""
        files = sorted({s.rsplit(":", 1)[0] for s in paper.sources})
        return cls(paper.paper_id, paper.title, paper.published.isoformat() if paper.published else None,
                   paper.date_text, paper.authors, paper.organization, paper.upvotes, files,
                   author_names=list(paper.author_names), url=paper.url, arxiv_id=paper.arxiv_id, doi=paper.doi,
                   venue=paper.venue, fields_from=dict(paper.fields_from))

    def to_metadata(self, date_int: int) -> dict[str, Any]:
        """Encode as chunk metadata (date_int: the date as YYYYMMDD, 0 for none, for range filters)."""
        return {
            "paper_id": self.paper_id,
            "title": self.title,
            "date": self.date or "",
            "date_int": date_int,
            "date_text": self.date_text or "",
            "authors": self.authors or 0,
            "organization": self.organization or "",
            "upvotes": self.upvotes if self.upvotes is not None else -1,
            "files": "; ".join(self.files),
        } | self._extra_metadata()

    def _extra_metadata(self) -> dict[str, str]:
        """The user-file fields that are set (Chroma metadata holds scalars: lists and dicts as JSON)."""
        out: dict[str, str] = {}
        for key in EXTRA_FIELDS:
            value = getattr(self, key)
            if value:
                out[key] = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
        return out


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

    @property
    def record(self) -> PaperRecord:
        """The paper's record, decoded from the chunk's metadata."""
        return PaperRecord.from_metadata({"paper_id": self.paper_id, "title": self.title, **self.metadata})

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
    count: int = 1  # how many problems this one stands for (>1: a summary of those not listed one by one)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


@dataclass
class Citation:
    """A paper an answer cites as [n]."""

    n: int
    paper_id: str
    title: str
    date: str | None = None


@dataclass
class Source:
    """A paper given to the answerer as source [n], with the text it was shown."""

    n: int
    paper_id: str
    title: str
    date: str | None
    text: str  # the abstract as shown (cut to the token budget when needed)
    score: float = 0.0  # retrieval score (fused); 0.0 for papers carried over from earlier turns
    metadata: dict[str, Any] = field(default_factory=dict)
    supporting: list[str] = field(default_factory=list)  # sentences of text that support the answer's claims
    cited: bool = False
    truncated: bool = False

    @property
    def record(self) -> PaperRecord:
        """The paper's record, decoded from the metadata it was retrieved with."""
        return PaperRecord.from_metadata({"paper_id": self.paper_id, "title": self.title, "date": self.date or "",
                                          **self.metadata})

    def citation(self) -> Citation:
        """This source as a citation."""
        return Citation(self.n, self.paper_id, self.title, self.date)


@dataclass
class Flag:
    """An answer sentence the validator could not match to its cited abstracts (or that cites nothing)."""

    sentence: str
    citations: list[int]
    reason: str  # "unsupported" | "uncited" | "fact" (states numbers or hardware its cited abstracts do not)
    support: float  # share of the sentence's content words found in the cited abstracts
    detail: str = ""  # for "fact": the facts the cited abstracts lack ("4 GPUs" -> "4")


@dataclass
class Usage:
    """LLM tokens of one answer; `counted_by` says whether the server reported them or tiktoken counted them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    counted_by: str = "none"  # "server" | "tiktoken" | "none" (no LLM was used)

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> Usage:
        """The sum of two usages (e.g. condensing a follow-up plus answering it)."""
        kinds = {self.counted_by, other.counted_by} - {"none"}
        by = "none" if not kinds else kinds.pop() if len(kinds) == 1 else "mixed"
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens, by)


@dataclass
class Turn:
    """One earlier exchange of a conversation: what was asked, what was answered, what it cited."""

    question: str
    answer: str = ""
    citations: list[Citation] = field(default_factory=list)


@dataclass
class Answer:
    """A cited answer: the text, the citations in it, the sources shown, and how it was made."""

    question: str
    text: str
    mode: str  # "extractive" | "llm"
    citations: list[Citation] = field(default_factory=list)  # exactly the papers cited in text, by first use
    sources: list[Source] = field(default_factory=list)
    abstained: bool = False
    nearest: list[Citation] = field(default_factory=list)  # nearest papers, listed when abstaining
    flags: list[Flag] = field(default_factory=list)
    removed_citations: int = 0  # citations to numbers that were not among the sources, removed
    truncated: bool = False  # the LLM stopped at RAG_LLM_MAX_TOKENS: the text is cut off
    search_query: str = ""  # the standalone query retrieval used (differs from question for follow-ups)
    papers_searched: int = 0
    model: str | None = None
    evidence: dict[str, float] = field(default_factory=dict)  # retrieval evidence behind the abstain decision
    timings_ms: dict[str, float] = field(default_factory=dict)  # retrieve, generate, total (+ first_token)
    usage: Usage = field(default_factory=Usage)
    notices: list[str] = field(default_factory=list)  # what was done to the input (a long question shortened, ...)
    # what the reader must know before trusting the answer: a name no paper mentions or is about, an asked fact
    # the abstract does not state (shown above the answer)
    caveats: list[str] = field(default_factory=list)
    not_stated: str = ""  # the asked fact (how many, which hardware, ...) the top paper's abstract does not state
    missing_terms: list[str] = field(default_factory=list)  # names asked about that no paper mentions
    passing_terms: list[str] = field(default_factory=list)  # names papers only mention in passing (none is about them)
    also_searched: list[str] = field(default_factory=list)  # the corpus's names for what the question described in plain words
    # no paper matched the question closely (the search was unsure: rag/search/retriever.py is_unsure), so the sources
    # are the nearest by meaning: the corpus may not cover what the question describes (said in caveats)
    weak_match: bool = False

    def as_turn(self) -> Turn:
        """This answer as history for a follow-up question."""
        return Turn(self.question, self.text, list(self.citations))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the `rag ask --json` shape)."""
        d = asdict(self)
        d["answer"] = d.pop("text")
        d["usage"]["total_tokens"] = self.usage.total_tokens
        return d


def _json_field(raw: Any, kind: type) -> Any:
    """A list or dict kept in metadata as JSON; empty when absent or unreadable."""
    if isinstance(raw, kind):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw else kind()
    except ValueError:
        return kind()
    return value if isinstance(value, kind) else kind()
