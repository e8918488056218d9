"""What the page and the API endpoints do, on top of rag's answer API (never the store).

One Backend per app: it opens the index on first use (so the app starts, and says what to do, even
before `rag ingest`), turns RagError into messages a person understands, and turns the dicts the
gradio_client endpoints receive into rag's types.
"""

from __future__ import annotations

import threading
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import gradio as gr

from rag import (HISTORY_TURNS, Answer, Citation, DateRange, IndexMissingError, LLMError, PaperRecord, RagError, Turn,
                 parse_day, split_sentences, use_llm)

if TYPE_CHECKING:
    from rag import Answerer, Comparison, IngestSummary, Settings, UserSource

OFFLINE = "Offline (extractive)"


def user_error(e: RagError) -> gr.Error:
    """A RagError as the message a person sees: what went wrong, then what to do."""
    hint = e.hint
    if isinstance(e, LLMError):
        hint = "Choose the offline answer mode, or check the LLM server and ask again."
    elif isinstance(e, IndexMissingError):
        hint = "Run `rag ingest` (or `bash scripts/run.sh`), then ask again; the app picks the index up."
    # Gradio renders a toast's message as HTML, and messages quote input and servers' replies: escape them
    text = f"{render_sentence(e.message)} {render_sentence(hint)}".strip()
    return gr.Error(escape(text, quote=False), title="Could not answer")


def render_sentence(text: str) -> str:
    """'the question is empty' -> 'The question is empty.'"""
    text = text.strip()
    if not text:
        return ""
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")


def abstract_sentences(abstract: str) -> list[str]:
    """An abstract's sentences, numbered as a Comparison's cells number them (Cell.sentence)."""
    return split_sentences(abstract)


def turns_from_dicts(history: list[dict[str, Any]] | None) -> list[Turn]:
    """Earlier answers as sent by an API client (the dicts /ask returned) as rag Turns."""
    if history is not None and not isinstance(history, list):
        raise RagError("history must be a list of earlier /ask results", "pass back the dicts /ask returned")
    turns = []
    for h in (history or [])[-HISTORY_TURNS:]:  # older turns are never used: a huge history costs nothing
        if not isinstance(h, dict) or not isinstance(h.get("question"), str) or not h["question"].strip():
            raise RagError("each history item needs a 'question'", "pass back the dicts /ask returned")
        try:
            cites = [Citation(int(c["n"]), str(c["paper_id"]), str(c.get("title") or ""), c.get("date"))
                     for c in h.get("citations") or []]
        except (KeyError, TypeError, ValueError):
            raise RagError("a history item has malformed citations", "pass back the dicts /ask returned") from None
        turns.append(Turn(h["question"], str(h.get("answer") or ""), cites))
    return turns


class Backend:
    """The app's link to rag: one Answerer (thread-safe for reading), opened when first needed."""

    def __init__(self, settings: Settings, ingest_wait: float = 0.0) -> None:
        self.settings = settings
        # seconds an upload waits for another process's ingest of the index (0: it says so at once; a page should
        # not hang for RAG_INGEST_LOCK_TIMEOUT's ten minutes)
        self.ingest_wait = ingest_wait
        self._answerer: Answerer | None = None
        self._lock = threading.Lock()
        self._adding = threading.Lock()  # one upload of this app at a time

    def answerer(self) -> Answerer:
        """The Answerer; raises IndexMissingError (etc.) until there is an index, and tries again next time."""
        if self._answerer is None:
            with self._lock:
                if self._answerer is None:
                    from rag import Answerer

                    self._answerer = Answerer(self.settings)
        return self._answerer

    def reopen(self) -> None:
        """Forget the open index: the next question opens it again, so it searches what an ingest just wrote
        (a question already being answered finishes on the index it started with)."""
        with self._lock:
            self._answerer = None

    def warm(self) -> str | None:
        """Open the index now (so the first question is fast); the problem as text if there is none yet."""
        try:
            self.answerer().ask("warm up the search and the sentence scorer", mode="extractive")
        except RagError as e:
            return str(e)
        return None

    # ------------------------------------------------------------------ answer modes

    def llm_available(self) -> bool:
        """Whether an LLM is configured (OPENAI_API_KEY / OPENAI_BASE_URL, or RAG_LLM=openai)."""
        return use_llm(self.settings)

    def mode_choices(self) -> list[str]:
        """The answer modes the page offers: offline always, the LLM when one is configured."""
        return [self.llm_label(), OFFLINE] if self.llm_available() else [OFFLINE]

    def llm_label(self) -> str:
        return f"LLM ({self.settings.llm_model})"

    def mode_value(self, label: str | None) -> str | None:
        """A mode label of the page (or 'llm' / 'extractive' from an API client) as rag's mode; None: the default."""
        if not label:
            return None
        if label in (OFFLINE, "extractive", "offline"):
            return "extractive"
        if label in (self.llm_label(), "llm"):
            if not self.llm_available():
                raise RagError("no LLM is configured", "set OPENAI_BASE_URL (or OPENAI_API_KEY) and restart the app")
            return "llm"
        raise RagError(f"unknown answer mode {label!r}", "use 'extractive' or 'llm'")

    # ------------------------------------------------------------------ the work

    def stream(self, question: str, history: list[Answer | Turn], k: int | None, since: str | None,
               until: str | None, mode: str | None) -> Iterator[tuple[str, Answer | None]]:
        """(text so far, None) as the answer is written, then (full text, Answer). Raises RagError."""
        if not (question or "").strip():  # before the index is opened: an empty question needs none
            raise RagError("the question is empty", "type a question about the papers")
        lo, hi = parse_day(since, "the start date"), parse_day(until, "the end date")
        answerer = self.answerer()
        text = ""
        for item in answerer.stream(question, history, k=k or None, since=lo, until=hi,
                                    mode=self.mode_value(mode)):
            if isinstance(item, Answer):
                yield item.text, item
                return
            text += item
            yield text, None

    def records(self, query: str, k: int, since: str | None, until: str | None) -> list[tuple[PaperRecord, float | None]]:
        """(paper, score) for a query, best first; for an empty query every paper (no score), most upvoted first."""
        retriever = self.answerer().retriever
        if not (query or "").strip():
            dates = DateRange(parse_day(since, "the start date"), parse_day(until, "the end date"))
            recs = [rec for rec in retriever.papers() if dates.contains(rec.date)]
            # most upvoted first, then the newest, then by title (stable sorts, last key first)
            recs.sort(key=lambda r: r.date or "", reverse=True)
            recs.sort(key=lambda r: -(r.upvotes if r.upvotes is not None else -1))
            return [(rec, None) for rec in recs]
        hits = retriever.search(query, k=k, since=parse_day(since, "the start date"), until=parse_day(until, "the end date"))
        return [(h.record, h.score) for h in hits]

    def search(self, query: str, k: int, since: str | None, until: str | None) -> list[dict[str, Any]]:
        """Papers for a query (one row per paper, best first), or every paper for an empty query (the /search shape)."""
        return [_row(rec) if score is None else {**_row(rec), "score": round(score, 3)}
                for rec, score in self.records(query, k, since, until)]

    def paper(self, paper_id: str) -> PaperRecord | None:
        """One paper's record with its whole abstract, or None."""
        return self.answerer().retriever.paper((paper_id or "").strip())

    def compare(self, question: str, k: int | None, since: str | None, until: str | None) -> Comparison:
        """The comparison table for a question (cells written by the LLM and checked when one is configured, else
        the abstracts' sentences; no rows when the corpus does not answer it)."""
        from rag import compare_papers

        if not (question or "").strip():
            raise RagError("the question is empty", "ask about several papers, e.g. 'Which papers ...?'")
        lo, hi = parse_day(since, "the start date"), parse_day(until, "the end date")
        return compare_papers(self.answerer(), question, k=k or None, since=lo, until=hi)


    # ------------------------------------------------------------------ the user's own papers

    def add_files(self, files: list[Path], progress: Callable[[int, int], None] | None = None) -> IngestSummary:
        """Keep the files as sources and ingest them with the seeds and earlier sources; the next question searches
        the new papers. Raises RagError: CorpusError when no file holds a paper (nothing is added), or another ingest
        of the index is running."""
        from rag import ingest

        if not self._adding.acquire(blocking=False):
            raise RagError("another upload is being added to the index", "wait for it to finish, then upload again")
        try:
            settings = self.settings.model_copy(update={"ingest_lock_timeout": self.ingest_wait})
            return ingest(settings, add=list(files), uploaded=True, progress=progress)
        finally:
            self.reopen()  # even after a failure part-way: whatever was written is searched
            self._adding.release()

    def remove_files(self, names: list[str]) -> IngestSummary:
        """Forget added sources (papers found only in them leave the index); the next question no longer sees them.
        Raises RagError for an unknown name (nothing removed) or a busy index."""
        from rag import remove_sources

        if not self._adding.acquire(blocking=False):
            raise RagError("an upload is being added to the index", "wait for it to finish, then remove the file")
        try:
            settings = self.settings.model_copy(update={"ingest_lock_timeout": self.ingest_wait})
            return remove_sources(settings, names)
        finally:
            self.reopen()
            self._adding.release()

    def sources(self) -> list[UserSource]:
        """The files added so far, in the order added."""
        from rag import list_sources

        return list_sources(self.settings)


def _row(rec: PaperRecord) -> dict[str, Any]:
    return {"paper_id": rec.paper_id, "title": rec.title, "date": rec.date, "upvotes": rec.upvotes}
