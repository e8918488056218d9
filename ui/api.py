"""Endpoints for programs (gradio_client, and MCP tools when the MCP server is on): /ask, /search, /paper, /compare.

They take and return plain JSON, so a client needs no Gradio component: /ask streams
{"answer": text so far, "done": false} while the answer is written, then the whole answer
(the `rag ask --json` shape) with "done": true. Pass earlier /ask results as `history` for follow-ups.
"""

from __future__ import annotations

from html import escape
from typing import Any, Iterator

import gradio as gr

from rag import Answer, RagError, references_bibtex, references_markdown
from ui.backend import Backend, turns_from_dicts, user_error

CONCURRENCY = 4  # answers in flight at once (2 cores: retrieval is a few ms, more only queues in threads)


def register(backend: Backend) -> None:
    """Add the endpoints to the Blocks being built."""

    def ask(question: str, k: int = 0, since: str = "", until: str = "", mode: str = "",
            history: list[dict] | None = None) -> Iterator[dict]:
        """Answer a question about the indexed research papers, with numbered citations [n].

        Args:
            question: the question, in plain words.
            k: number of papers given as sources (0: the default, RAG_ANSWER_K).
            since: only papers published on or after this date, YYYY-MM-DD (empty: no limit).
            until: only papers published on or before this date, YYYY-MM-DD (empty: no limit).
            mode: "extractive" (offline, the abstracts' own sentences), "llm", or empty for the default.
            history: earlier results of this endpoint, oldest first, for follow-up questions ("what about [2]?").
        Returns:
            partial results {"answer", "done": false}, then the answer: text, citations (n, paper_id, title,
            date), sources with their abstracts (and author_names, links), abstained, nearest papers, flags,
            timings_ms, usage, the cited papers' references as "bibtex" and "references_markdown", "done": true.
        """
        try:
            turns = turns_from_dicts(history)
            for text, final in backend.stream(question, turns, k or None, since, until, mode):
                yield {"answer": text, "done": False} if final is None else {**answer_dict(final), "done": True}
        except RagError as e:
            raise user_error(e) from None

    def answer_dict(answer: Answer) -> dict[str, Any]:
        """The answer as JSON (the `rag ask --json` shape) with each source's author names and links, and the
        cited papers' references ("" for an answer that cites none)."""
        out = answer.to_dict()
        by_n = {s.n: s.record for s in answer.sources}
        for src in out["sources"]:
            src["author_names"], src["links"] = by_n[src["n"]].author_names, by_n[src["n"]].links
        out["bibtex"] = references_bibtex(answer, backend.paper)
        out["references_markdown"] = references_markdown(answer, backend.paper)
        return out

    def search(query: str, k: int = 10, since: str = "", until: str = "") -> list[dict]:
        """Search the indexed research papers (hybrid BM25 + embeddings); an empty query lists every paper.

        Args:
            query: words describing what you are looking for.
            k: number of papers to return for a query.
            since: only papers published on or after this date, YYYY-MM-DD (empty: no limit).
            until: only papers published on or before this date, YYYY-MM-DD (empty: no limit).
        Returns:
            papers, best first: paper_id, title, date, upvotes (and score for a query).
        """
        try:
            return backend.search(query, k, since, until)
        except RagError as e:
            raise user_error(e) from None

    def paper(paper_id: str) -> dict:
        """One indexed paper: title, date, authors, organization, upvotes and the whole abstract.

        Args:
            paper_id: the id /search or /ask returned (e.g. "p616113816500").
        Returns:
            the paper's record, with its abstract under "abstract".
        """
        try:
            rec = backend.paper(paper_id)
        except RagError as e:
            raise user_error(e) from None
        if rec is None:
            raise gr.Error(escape(f"No paper with id {paper_id!r} is indexed. Use /search to find its id.", quote=False),
                           title="Unknown paper")
        return rec.as_stored()

    def compare(question: str, k: int = 0, since: str = "", until: str = "") -> dict:
        """A table of the papers that answer a question about several papers: one row per paper, with what it
        proposes, its task or data and what it reports, each cell a sentence of that paper's own abstract.

        Args:
            question: a question about several papers, e.g. "Which papers ..., and what does each report?".
            k: number of papers to consider (0: as /ask chooses).
            since: only papers published on or after this date, YYYY-MM-DD (empty: no limit).
            until: only papers published on or before this date, YYYY-MM-DD (empty: no limit).
        Returns:
            question, rows (n, paper_id, title, date, proposes/setting/results: {text, sentence}),
            papers_searched, abstained, and text (the abstention with the nearest papers, when abstained).
        """
        try:
            return backend.compare(question, k or None, since, until).to_dict()
        except RagError as e:
            raise user_error(e) from None

    gr.api(ask, api_name="ask", concurrency_limit=CONCURRENCY, concurrency_id="answer")
    gr.api(compare, api_name="compare", concurrency_limit=CONCURRENCY, concurrency_id="answer")
    gr.api(search, api_name="search", concurrency_limit=CONCURRENCY)
    gr.api(paper, api_name="paper", concurrency_limit=CONCURRENCY)
