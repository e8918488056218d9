"""Sentences of an abstract or an answer."""

from __future__ import annotations

import re

_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Figs|Eq|Sec|approx|resp|No|Dr|Mr|Ms|St)\.|\b[A-Z]\.)$")
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”)]*\s+(?=[\"“(\[]?(?:[A-Z0-9]|[a-z]+[A-Z]))|\n\s*\n|\n(?=\s*(?:[-*•]|\d+\.)\s)")


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract or an answer. Keeps 'e.g.', 'et al.', '3.5' and initials inside a sentence."""
    return [p.strip() for p in sentence_pieces(text) if p.strip()]


def sentence_pieces(text: str) -> list[str]:
    """The text cut after each sentence, whitespace kept: the pieces join back to the text. (llama-index's
    SentenceSplitter takes this instead of nltk's punkt, whose import costs ~3 s.)"""
    parts: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        piece = text[start : m.start()]
        if piece.strip() and (not _ABBREV.search(piece.rstrip()) or m.group(0).count("\n")):
            parts.append(text[start : m.end()])
            start = m.end()
    parts.append(text[start:])
    return [p for p in parts if p]


