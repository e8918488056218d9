"""BM25 terms: lower-cased, stop-word-free, stemmed tokens of a text, the same for documents and questions.

The BM25 side index, the abstention check, the offline answerer and the support check all use these, so a
word means the same thing everywhere.
"""

from __future__ import annotations

import logging
import threading
from functools import cache, lru_cache
from typing import Any

from rag.text.cites import CITE_MARK


def load_bm25s() -> Any:
    import bm25s

    # bm25s sets its logger to DEBUG on import and logs every index build; keep output clean.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens, the same for documents and queries."""
    return load_bm25s().tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


def bigrams(tokens: list[str]) -> list[str]:
    """Adjacent token pairs ("mixtur_expert"): phrase evidence that single terms miss."""
    return [f"{a}_{b}" for a, b in zip(tokens, tokens[1:])]



_TERMS: dict[str, frozenset[str]] = {}  # text -> its terms; abstracts recur across questions
_TERMS_MAX = 50_000
_TERMS_LOCK = threading.Lock()


def terms_of(texts: list[str]) -> list[frozenset[str]]:
    """Stemmed, stop-word-free terms of each text, without citation marks (tokenised in one batch).

    The answer is built from what this call found or computed, never read back from the cache: another
    call (or this one) may clear the cache in between once it is full.
    """
    found: dict[str, frozenset[str]] = {}
    missing: list[str] = []
    for text in dict.fromkeys(texts):
        terms = _TERMS.get(text)
        if terms is None:
            missing.append(text)
        else:
            found[text] = terms
    if missing:
        for text, toks in zip(missing, tokenize([CITE_MARK.sub(" ", t) for t in missing])):
            found[text] = frozenset(toks)
        with _TERMS_LOCK:
            if len(_TERMS) + len(missing) > _TERMS_MAX:
                _TERMS.clear()
            _TERMS.update((t, found[t]) for t in missing)
    return [found[t] for t in texts]


def content_terms(text: str) -> frozenset[str]:
    """Stemmed, stop-word-free terms of one text."""
    return terms_of([text])[0]


# Words that say what kind of answer is wanted, not what it is about; they do not count as evidence.
QUESTION_WORDS = (
    "paper papers work works study studies propose proposes proposed introduce introduced present presented "
    "method methods approach approaches technique model models describe described explain tell show shows "
    "find found use used using way ways new recent author authors research researchers someone"
)


@cache
def _question_words_terms() -> frozenset[str]:
    """QUESTION_WORDS as terms; made on first use, not at import, because stemming loads bm25s and the stemmer."""
    return frozenset(content_terms(QUESTION_WORDS))


def question_terms(question: str) -> frozenset[str]:
    """The question's content terms that carry evidence (without words like 'paper' or 'propose')."""
    terms = content_terms(question)
    return (terms - _question_words_terms()) or terms


def covered_share(terms: frozenset[str], weights: dict[str, float], texts: list[str]) -> float:
    """The largest weighted share of terms that one of the texts contains (weights: term -> weight, e.g. idf)."""
    total = sum(weights.values()) or 1.0
    return max((sum(weights[t] for t in terms & content_terms(text)) / total for text in texts), default=0.0)
