"""Follow-up questions: which papers of the earlier turns a question refers to, and what to search for.

"What about [2]?" and "the second one" name a citation of the last answer; "it", "they", "this
method" point at what the last answer cited. Offline, the search query is the earlier question plus
the new one; with an LLM, the answerer condenses the conversation into a standalone question instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.text.terms import content_terms
from rag.types import Citation, Turn

_NUMBERED = re.compile(r"\[(\d{1,3})\]|\b(?:paper|source|reference|ref|citation|result)\s*(?:no\.?|number|#)?\s*(\d{1,3})\b",
                       re.IGNORECASE)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1, "former": 1, "latter": 2}
_ORDINAL = re.compile(r"\b(?:the\s+)(first|second|third|fourth|fifth|last|former|latter)\b"
                      r"(?:\s+(?:one|paper|source|result|method|approach|model|study|work|article|citation))?",
                      re.IGNORECASE)
_ORDINAL_NEEDS_NOUN = {"first", "last"}  # "the first paper to ..." is not a reference without a following noun check
_ANAPHORA = re.compile(
    r"\b(?:it|its|it's|they|them|their|these|those|both|either|"
    r"(?:this|that|the|these|those|same)\s+(?:paper|papers|method|methods|model|models|approach|work|study|"
    r"authors|system|benchmark|dataset|framework|technique|one|ones))\b|^\s*(?:and|what about|how about|"
    r"compared?|why|how so)\b",
    re.IGNORECASE,
)
SHORT_TERMS = 2  # a question this short after an answer is taken as a follow-up ("Which datasets?")
MAX_CARRIED = 4


@dataclass
class Reference:
    """What a question refers to in the conversation."""

    is_followup: bool = False
    papers: list[Citation] = field(default_factory=list)
    explicit: bool = False  # by number or ordinal, not only by a pronoun
    expanded_query: str = ""


def _last_cited(turns: list[Turn]) -> Turn | None:
    return next((t for t in reversed(turns) if t.citations), None)


def _by_number(question: str, turn: Turn) -> list[Citation]:
    by_n = {c.n: c for c in turn.citations}
    nums = [int(a or b) for a, b in _NUMBERED.findall(question)]
    return [by_n[n] for n in nums if n in by_n]


def _by_ordinal(question: str, turn: Turn) -> list[Citation]:
    out = []
    for m in _ORDINAL.finditer(question):
        word = m.group(1).lower()
        if word in _ORDINAL_NEEDS_NOUN and m.group(0).lower().split()[-1] == word:
            continue  # "the first to ...": not a reference
        i, cites = _ORDINALS[word], turn.citations  # position among the last answer's citations
        idx = i - 1 if i > 0 else len(cites) + i
        if 0 <= idx < len(cites):
            out.append(cites[idx])
    return out


def resolve(question: str, turns: list[Turn]) -> Reference:
    """The earlier papers question refers to, and a search query that carries the conversation."""
    if not turns:
        return Reference(expanded_query=question)
    turn = _last_cited(turns)
    named = (_by_number(question, turn) + _by_ordinal(question, turn)) if turn else []
    pointing = bool(_ANAPHORA.search(question)) or len(content_terms(question)) <= SHORT_TERMS
    if not named and not pointing:
        return Reference(expanded_query=question)
    papers: list[Citation] = []
    for c in named + (turn.citations if turn and pointing else []):
        if c.paper_id not in {p.paper_id for p in papers}:
            papers.append(c)
    papers = papers[:MAX_CARRIED]
    # The papers' titles carry the topic; without papers to point at, the earlier question does.
    context = [c.title for c in papers] or [turns[-1].question]
    return Reference(True, papers, bool(named), " ".join(context + [question]))
