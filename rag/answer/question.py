"""Questions as people type (or paste) them -> text the pipeline can use, with notices for what changed.

Control characters, bidirectional overrides and lone surrogates are removed (they cannot be printed,
and hide text); compatibility forms are folded (NFKC: full-width letters, ligatures) so BM25 sees the
words; a question longer than the token budget keeps its beginning and its end (where pasted text
usually puts the actual question) and says so in a notice, instead of failing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from rag.errors import RagError

# Cut before tokenising: counting tokens of a pasted book would cost seconds for text that is dropped anyway.
PRE_CUT_CHARS = 64_000
HEAD_SHARE = 0.75  # of the token budget: the start of a long question; the rest is its end
# Also a character budget: a token can be long ("aaaa…"), and a follow-up's search adds up to four titles,
# which must stay under the retriever's MAX_QUERY_CHARS (4000).
MAX_CHARS = 3000
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}  # controls, format (bidi, zero-width), surrogates, private, unassigned
_KEEP = {"\u200d"}  # zero-width joiner: part of emoji sequences


class QuestionError(RagError):
    """The question cannot be answered as given (empty, or nothing left once unprintable characters go)."""


@dataclass
class Question:
    """The question as the pipeline uses it, and what was done to it."""

    text: str
    notices: list[str] = field(default_factory=list)


def clean_text(text: str) -> tuple[str, int]:
    """(printable NFKC text with whitespace collapsed, number of characters removed)."""
    text = unicodedata.normalize("NFKC", text)
    kept = [ch if ch.isspace() or ch in _KEEP or unicodedata.category(ch) not in _DROP_CATEGORIES else ""
            for ch in text]
    removed = sum(1 for ch, k in zip(text, kept) if not k)
    return " ".join("".join(kept).split()), removed


def prepare(raw: str, max_tokens: int) -> Question:
    """The cleaned question, fitted to max_tokens (cl100k) tokens; raises QuestionError when nothing is left."""
    from rag.text.llm_tokens import count_tokens, encoding

    if not isinstance(raw, str):
        raise QuestionError("the question must be text", "type a question about the papers")
    notices: list[str] = []
    chars = len(raw)
    if chars > PRE_CUT_CHARS:
        head = int(PRE_CUT_CHARS * HEAD_SHARE)
        raw = raw[:head] + " … " + raw[-(PRE_CUT_CHARS - head):]
    text, removed = clean_text(raw)
    if not text:
        why = " (it had only control or invisible characters)" if removed else ""
        raise QuestionError(f"the question is empty{why}", "type a question about the papers")
    if removed:
        notices.append(f"{removed} control or invisible character{'s' * (removed > 1)} removed from the question")
    n = count_tokens(text)
    if n > max_tokens:
        enc = encoding()
        tokens = enc.encode_ordinary(text)
        head = int(max_tokens * HEAD_SHARE)
        text = _join(enc.decode(tokens[:head]), enc.decode(tokens[len(tokens) - (max_tokens - head):]))
        size = f"{chars:,} characters" + (f" ({n:,} tokens)" if chars <= PRE_CUT_CHARS else "")
        notices.append(f"the question was {size} long; only its first {head} and last {max_tokens - head} tokens "
                       f"were used (RAG_MAX_QUESTION_TOKENS={max_tokens})")
    if len(text) > MAX_CHARS:
        head = int(MAX_CHARS * HEAD_SHARE)
        text = _join(text[:head], text[-(MAX_CHARS - head):])
        if not any("long;" in notice for notice in notices):
            notices.append(f"the question was {chars:,} characters long; only its first {head} and last "
                           f"{MAX_CHARS - head} characters were used")
    return Question(text, notices)


def _join(head: str, tail: str) -> str:
    return head.rstrip() + " … " + tail.lstrip()

