"""A comparison table of the papers that answer a question (`rag compare`): one row per paper the answer cites,
each cell a sentence of that paper's own abstract (never another paper's), chosen by its role: what the paper
proposes, its task or data, what it reports (numbers with their units or metric names). Offline and
deterministic; a cell is empty when the abstract has no sentence in that role.

With an LLM (mode "llm", the default when one is configured) the rows are the same papers, and the model writes
the cells, each naming the sentence of its own paper's abstract that states it; a cell is kept only when that
sentence backs it (rag/answer/compare_llm.py), else the extracted sentence stays. Every cell records its origin.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from rag.answer.extractive import CONTRIBUTION, third_person
from rag.errors import RagError
from rag.text.cites import strip_citation_marks
from rag.text.sentences import split_sentences
from rag.text.terms import question_terms, terms_of

if TYPE_CHECKING:
    from rag.answer.answerer import Answerer

COLUMNS = ("proposes", "setting", "results")
ROW_TOKENS = 160  # reply tokens the LLM mode allows per row (RAG_LLM_MAX_TOKENS when that is more)
# A reported number: a figure with a unit, a multiplier or a metric name near it.
MEASURE = re.compile(
    r"\b\d[\d,]*(?:\.\d+)?\s*(?:%|\\%|×|x\b|times\b|-?fold\b|pp\b|points?\b|ms\b|s\b|seconds?\b|hours?\b|days?\b|"
    r"[KMGT]B\b|[kKMB]\b|tokens?/s\b|FLOPs?\b|GPUs?\b|fps\b|images\b|samples\b|steps\b)"
    r"|\b(?:accuracy|F1|BLEU|ROUGE|pass@\d+|perplexity|speed-?ups?|throughput|latency|win rate|success rate|"
    r"state-of-the-art|SOTA)\b[^.]{0,40}?\d", re.IGNORECASE)
PROPOSE = re.compile(r"\b(?:we|this (?:paper|work)|the authors)\b[^.]{0,60}?\b(?:propos|introduc)\w*", re.IGNORECASE)
RESULT_WORDS = re.compile(r"\b(?:outperform|improv|achiev|reduc|speed|faster|surpass|match|gain|boost|cut)\w*", re.IGNORECASE)
SETTING_WORDS = re.compile(r"\b(?:benchmarks?|datasets?|corpus|corpora|tasks?|evaluat\w*|experiments?|trained on|tested on|"
                           r"domains?|settings?|applications?)\b", re.IGNORECASE)


@dataclass
class Cell:
    """One cell: a sentence of the row's own abstract (its position there, for highlighting), or empty; or the
    LLM's words for it, checked against the sentence of the row's abstract it quotes (`sentence`)."""

    text: str = ""
    sentence: int | None = None  # index of the sentence in the abstract (the extracted or the quoted one)
    origin: str = "extracted"  # "extracted": the abstract's own sentence; "llm": the model's text, checked


@dataclass
class Row:
    """One paper of the comparison."""

    n: int  # its citation number in the answer
    paper_id: str
    title: str
    date: str | None
    proposes: Cell = field(default_factory=Cell)
    setting: Cell = field(default_factory=Cell)
    results: Cell = field(default_factory=Cell)


@dataclass
class Comparison:
    """The table for a question, or the answerer's abstention (no rows) when the corpus does not answer it."""

    question: str
    rows: list[Row]
    papers_searched: int
    abstained: bool = False
    text: str = ""  # the abstention with the nearest papers, when abstained
    mode: str = "extractive"  # "llm" when the model's reply was used (its checked cells have origin "llm")
    model: str | None = None  # the LLM asked, in mode "llm"
    note: str = ""  # what happened to the LLM's cells (how many kept), or why the table is extracted after all
    rejected: list[dict[str, Any]] = field(default_factory=list)  # the LLM's cells not kept: {n, column, reason}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    def to_csv(self) -> str:
        """One line per paper: n, title, date, then the three cells."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["n", "title", "date", *COLUMNS])
        for r in self.rows:
            writer.writerow([r.n, r.title, r.date or "", *(getattr(r, c).text for c in COLUMNS)])
        return out.getvalue()

    def to_markdown(self) -> str:
        """A Markdown table (pipes in cells escaped), or the abstention text."""
        if self.abstained:
            return self.text

        def cell(text: str) -> str:
            return " ".join(text.split()).replace("|", "\\|") or "–"

        lines = ["| [n] | paper | proposes | task or data | reports |", "|---|---|---|---|---|"]
        for r in self.rows:
            paper = cell(r.title) + (f" ({r.date})" if r.date else "")
            lines.append(f"| [{r.n}] | {paper} | " + " | ".join(cell(getattr(r, c).text) for c in COLUMNS) + " |")
        return "\n".join(lines)


def cells(abstract: str, question: frozenset[str] = frozenset()) -> dict[str, Cell]:
    """The abstract's sentence for each role (each sentence used once): its contribution ("we propose ..."), the
    sentence that reports the most measures, the one that names the task or data. question: the question's terms;
    among the sentences of a role, the one holding more of them comes first (an abstract may propose, measure or
    evaluate several things; the question says which it is asked about)."""
    sentences = split_sentences(abstract)
    out: dict[str, Cell] = {c: Cell() for c in COLUMNS}
    used: set[int] = set()
    asked = [len(question & t) for t in terms_of(sentences)] if question and sentences else [0] * len(sentences)

    def take(role: str, i: int | None) -> None:
        if i is not None:
            out[role] = Cell(third_person(strip_citation_marks(sentences[i])), i)
            used.add(i)

    proposes = [i for i, s in enumerate(sentences) if PROPOSE.search(s) or CONTRIBUTION.search(s)]
    take("proposes", max(proposes, key=lambda i: (asked[i], bool(PROPOSE.search(sentences[i])), -i)) if proposes
         else 0 if sentences else None)
    scored = [(len(MEASURE.findall(s)) + 0.5 * bool(RESULT_WORDS.search(s)) + asked[i], -i, i)
              for i, s in enumerate(sentences) if i not in used and MEASURE.search(s)]
    take("results", max(scored)[2] if scored else None)
    setting = [i for i, s in enumerate(sentences) if i not in used and SETTING_WORDS.search(s)]
    take("setting", max(setting, key=lambda i: (asked[i], -i)) if setting else None)
    return out


def compare(answerer: Answerer, question: str, k: int | None = None, since: date | None = None,
            until: date | None = None, mode: str | None = None) -> Comparison:
    """The papers the offline answer to the question cites (for a question about several papers, every paper
    close to the top one), one row each, in citation order. mode: "extractive" (each cell its abstract's
    sentence) or "llm" (the model writes the cells, each checked against the sentence of its own paper it
    quotes); default: the answerer's default mode. An LLM that fails leaves the extracted table, with a note."""
    mode = mode or answerer.default_mode()
    if mode not in ("llm", "extractive"):
        raise RagError(f"unknown compare mode {mode!r}", "use 'llm' or 'extractive'")
    llm = answerer.llm if mode == "llm" else None  # a missing configuration is said before any work
    answer = answerer.ask(question, k=k, since=since, until=until, mode="extractive")
    if answer.abstained:
        return Comparison(answer.question, [], answer.papers_searched, True, answer.text)
    by_n = {s.n: s for s in answer.sources}
    asked = question_terms(answer.question)
    rows = []
    abstracts: dict[int, str] = {}
    for c in answer.citations:
        src = by_n[c.n]
        record = answerer.retriever.paper(src.paper_id)
        abstracts[c.n] = record.abstract if record is not None and record.abstract else src.text
        rows.append(Row(c.n, src.paper_id, strip_citation_marks(src.title), src.date,
                        **cells(abstracts[c.n], asked)))
    table = Comparison(answer.question, rows, answer.papers_searched)
    if llm is not None and rows:
        from rag.answer.compare_llm import fill

        s = answerer.settings
        # a row of three cells and their sentence numbers takes ~110-150 tokens of reply
        fill(table, abstracts, llm, max(s.llm_max_tokens, ROW_TOKENS * len(rows)), s.llm_context_window)
    return table
