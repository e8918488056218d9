"""Support checks: how well one answer sentence is backed by the abstracts it cites (lexical overlap of terms)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.text.sentences import split_sentences
from rag.text.terms import content_terms, terms_of



@dataclass
class Support:
    """How well one answer sentence is backed by the abstracts it cites."""

    score: float  # share of the sentence's content words that occur in the cited abstracts
    best: dict[int, str] = field(default_factory=dict)  # source n -> the abstract sentence that backs it most


def support(sentence: str, cited: dict[int, str]) -> Support:
    """Lexical support of sentence by the cited abstracts (n -> text). Measured against embedding
    similarity in bench/support.py: lexical overlap separates supported from miscited sentences better."""
    terms = content_terms(sentence)
    best: dict[int, str] = {}
    found: set[str] = set()
    for n, abstract in cited.items():
        sents = split_sentences(abstract) or [abstract]
        overlaps = [(len(terms & t), s) for t, s in zip(terms_of(sents), sents)]
        top = max(overlaps, key=lambda o: o[0])
        if top[0]:
            best[n] = top[1]
        found |= terms & content_terms(abstract)
    return Support(len(found) / len(terms) if terms else 1.0, best)
