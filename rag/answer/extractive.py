"""The offline answerer: picks the abstract sentences that best answer the question and cites each one.

No model writes anything: every sentence of the answer is a sentence of a cited abstract (turned
from "we" to "the authors"), so the answer cannot say what the papers do not. Deterministic.
Sentences are scored by the question's rare words they contain (idf-weighted), their embedding
similarity to the question, and what kind of sentence they are (the contribution, a result).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from rag.text.cites import strip_citation_marks
from rag.text.sentences import split_sentences
from rag.text.terms import question_terms, terms_of
from rag.types import Source

if TYPE_CHECKING:
    import numpy as np

    from rag.embed.base import Embedder

CONTRIBUTION = re.compile(r"\b(?:we|this (?:paper|work|study)|the authors)\b[^.]{0,80}?\b(?:propos|introduc|present|develop|"
                          r"design|build|release|creat|offer)\w*", re.IGNORECASE)
# Measured with bench/answers.py on the golden set: 5 sentences of the top paper (of ~9) carry the
# asked facts for 70% of single-paper questions, 3 for 55%.
MAX_SENTENCES = 8  # the whole answer
PER_PAPER = 5  # sentences from the top paper; others give their best one
DENSE_WEIGHT = 0.5  # weight of the sentence's embedding similarity to the question, next to its idf-weighted word overlap
OTHER_PAPER_RATIO = 0.8  # another paper's best sentence must score this share of the top paper's best
PER_PAPER_MANY = 2  # sentences from each paper when the question asks about several (rag/answer/many.py)


@dataclass
class Pick:
    """A sentence chosen for the answer."""

    n: int  # source number
    order: int  # position of the sentence in its abstract
    sentence: str
    score: float
    terms: frozenset[str] = frozenset()  # the question terms it contains


def third_person(sentence: str) -> str:
    """'We propose ... our model' -> 'The authors propose ... their model', so the answer reads as a report."""
    subs = [(r"^We\b", "The authors"), (r"^Our\b", "Their"), (r"\bwe\b", "they"), (r"\bour\b", "their"),
            (r"\bours\b", "theirs"), (r"\bus\b", "them"), (r"\bourselves\b", "themselves"),
            (r"^In this (paper|work|study), we\b", r"In this \1, the authors")]
    for pat, rep in sorted(subs, key=lambda s: -len(s[0])):
        sentence = re.sub(pat, rep, sentence)
    return sentence


def with_citation(sentence: str, n: int) -> str:
    """The sentence with [n] placed before its final punctuation."""
    m = re.search(r"([.!?]+[\"'”)]*)$", sentence)
    return f"{sentence[: m.start()]} [{n}]{m.group(1)}" if m else f"{sentence} [{n}]."


def pick_sentences(question: str, sources: list[Source], embedder: Embedder,
                   idf: Callable[[frozenset[str]], dict[str, float]], question_vector: np.ndarray | None = None,
                   many: bool = False) -> list[Pick]:
    """The sentences that best answer the question: up to PER_PAPER from the top source, the best one of
    each other source that comes close, at most MAX_SENTENCES, in source order then abstract order.
    many: the question asks about several papers: every source gets its own PER_PAPER_MANY sentences (the
    caller chose the sources). question_vector: the question's embedding when the caller has it."""
    q_terms = question_terms(question)
    weights = idf(q_terms)
    total = sum(weights.values()) or 1.0
    table = [(src.n, i, s) for src in sources for i, s in enumerate(split_sentences(src.text))]
    if not table:
        return []
    if question_vector is None:
        vecs = embedder.embed([question] + [s for _, _, s in table])
        question_vector, vecs = vecs[0], vecs[1:]
    else:
        vecs = embedder.embed([s for _, _, s in table])
    scored: dict[int, list[Pick]] = {}
    for (n, i, sent), cos, terms in zip(table, (vecs @ question_vector).tolist(), terms_of([s for _, _, s in table])):
        hit = q_terms & terms
        scored.setdefault(n, []).append(Pick(n, i, sent, sum(weights[t] for t in hit) / total + DENSE_WEIGHT * cos, hit))
    rank = {src.n: i for i, src in enumerate(sources)}
    if many:
        chosen = [p for src in sources for p in _each(scored.get(src.n, []))]
        return sorted(chosen, key=lambda p: (rank[p.n], p.order))
    top_n = sources[0].n
    chosen = _from_top(scored.get(top_n, []), weights, total)
    bar = OTHER_PAPER_RATIO * max((p.score for p in chosen), default=0.0)
    for src in sources[1:]:
        best = max(scored.get(src.n, []), key=lambda p: p.score, default=None)
        if best is not None and best.score >= bar and len(chosen) < MAX_SENTENCES:
            chosen.append(best)
    return sorted(chosen, key=lambda p: (rank[p.n], p.order))


def _each(picks: list[Pick]) -> list[Pick]:
    """One paper's two sentences in an answer about several: what it proposes, then what it reports. First its
    contribution sentence ("we propose / introduce ...") that best matches the question (a paper may state
    several), else its best sentence; then the sentence that reports the most measures (numbers with units or
    metric names), else its best remaining contribution sentence, else its next best sentence. (Its best-matching
    sentence first, as before, often restated the question's topic from the abstract's opening.)"""
    if not picks:
        return []
    from rag.answer.compare import MEASURE

    contributions = [p for p in picks if CONTRIBUTION.search(p.sentence)]
    first = max(contributions or picks, key=lambda p: (p.score, -p.order))
    rest = [p for p in picks if p is not first]
    measured = [p for p in rest if MEASURE.search(p.sentence)]
    if measured:
        return [first, max(measured, key=lambda p: (len(MEASURE.findall(p.sentence)), p.score))]
    second = max([p for p in contributions if p is not first] or rest, key=lambda p: (p.score, -p.order), default=None)
    return [first] + ([second] if second is not None else [])


def _from_top(picks: list[Pick], weights: dict[str, float], total: float, limit: int = PER_PAPER) -> list[Pick]:
    """From one paper (the top one): its best sentence, the sentence that states its contribution, then the
    sentences that add the most question words not covered yet (ties: the best scored), limit in all."""
    if not picks:
        return []
    chosen = [max(picks, key=lambda p: (p.score, -p.order))]
    contribution = next((p for p in picks if CONTRIBUTION.search(p.sentence)), None)
    if contribution is not None and contribution not in chosen and len(chosen) < limit:
        chosen.append(contribution)
    while len(chosen) < limit:
        covered = set().union(*(p.terms for p in chosen))
        rest = [p for p in picks if p not in chosen]
        if not rest:
            break
        chosen.append(max(rest, key=lambda p: (sum(weights[t] for t in p.terms - covered) / total, p.score)))
    return chosen

def with_sentence(picks: list[Pick], source: Source, order: int, sentence: str, ranked: list[Source]) -> list[Pick]:
    """picks with one more sentence of source (its order-th), kept in source then abstract order: a sentence that
    states the asked fact is in the answer even when it scored below the others."""
    if any(p.n == source.n and p.order == order for p in picks):
        return picks
    rank = {src.n: i for i, src in enumerate(ranked)}
    return sorted(picks + [Pick(source.n, order, sentence, 0.0)], key=lambda p: (rank.get(p.n, len(rank)), p.order))


def compose(picks: list[Pick], sources: list[Source]) -> list[str]:
    """The answer as paragraphs, one per paper: 'Title (date): sentence [n]. sentence [n].'"""
    by_n = {s.n: s for s in sources}
    paragraphs: list[str] = []
    current, parts = None, []
    for p in picks + [None]:  # type: ignore[list-item]
        if p is None or p.n != current:
            if parts:
                src = by_n[current]  # type: ignore[index]
                title = strip_citation_marks(src.title)  # a title cannot cite either
                lead = f"{title} ({src.date})" if src.date else title
                paragraphs.append(f"{lead}: " + " ".join(parts))
            if p is None:
                break
            current, parts = p.n, []
        parts.append(with_citation(third_person(strip_citation_marks(p.sentence)), p.n))
    return paragraphs
