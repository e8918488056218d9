"""Is there enough evidence to answer? Features of the retrieval result, and the calibrated rule.

Measured on the golden set (bench/answers.py; numbers in docs/evaluation.md and docs/embedders.md): questions the
corpus cannot answer use words the corpus never uses (recipes, sports, medicine) and their best
chunk is far in meaning. Answerable questions that are paraphrased share few words with their paper
but use the corpus's vocabulary. The rule below abstains on 88% of off-topic and absent-topic
questions at 3% false abstention. Questions about a paper that is in the corpus but whose abstract
does not state the asked fact ("near misses") look answerable to retrieval; in the LLM mode the
model's abstain phrase catches them, offline they are answered with the closest sentences.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

from rag.text.terms import covered_share
from rag.types import Hit

MAX_UNKNOWN = 0.2  # share of the question's idf weight on words no indexed chunk contains
MIN_DENSE = 0.35  # best dense cosine below which the meaning does not match either (WordLlama's scale)
# Cosine scales differ between models, so the rule's thresholds are calibrated per embedder
# (python -m bench.answers with RAG_EMBEDDER=...); other models get the defaults above.
THRESHOLDS: dict[str, tuple[float, float]] = {  # embedder name -> (max unknown, min dense)
    "wordllama-l2_supercat-256": (MAX_UNKNOWN, MIN_DENSE),
    # MiniLM, recalibrated for the default (bench/answers.py, on the golden set without its held-out split, 211
    # questions): abstains on 62.5% of unanswerable at 2.9% false abstention (WordLlama's: 60% at 2.9%).
    "all-MiniLM-L6-v2": (0.20, 0.45),
}
COVERAGE_PAPERS = 3  # how many of the top papers the features look at


@dataclass
class Evidence:
    """What retrieval found for a question, as numbers a threshold can be put on."""

    coverage: float  # idf-weighted share of question terms that occur in one of the top papers
    unknown: float  # idf-weighted share of question terms that occur nowhere in the index
    dense: float  # dense cosine of the top paper's best chunk (of the next papers' when BM25 alone found it)
    score: float  # fused score of the top paper
    terms: int  # question terms that carry evidence

    def to_dict(self) -> dict[str, float]:
        """Plain dict (for reports)."""
        return asdict(self)


def measure(q_terms: frozenset[str], hits: list[Hit], idf: Callable[[frozenset[str]], dict[str, float]],
            known: Callable[[str], bool], closest: float | None = None) -> Evidence:
    """Evidence features of hits for a question with content terms q_terms.
    closest: given when the search also read names the glossary mapped from the question's words (so its top paper
    is not ranked by the question as written): the best cosine of any chunk with the question as written, which
    stands in for the top paper's."""
    weights = idf(q_terms)
    total = sum(weights.values()) or 1.0
    unknown = sum(w for t, w in weights.items() if not known(t)) / total
    if not hits:
        return Evidence(0.0, round(unknown, 4), 0.0, float("-inf"), len(q_terms))
    coverage = covered_share(q_terms, weights, [f"{h.title}\n{h.text}" for h in hits[:COVERAGE_PAPERS]])
    # the top paper's cosine; when it came from BM25 alone (no cosine known), the best one of the next papers
    dense = hits[0].dense_score
    if closest is not None:
        dense = closest
    if dense is None:
        dense = max((h.dense_score for h in hits[:COVERAGE_PAPERS] if h.dense_score is not None), default=0.0)
    return Evidence(round(coverage, 4), round(unknown, 4), round(dense, 4), hits[0].score, len(q_terms))


def thresholds(embedder_name: str, min_dense: float | None = None) -> tuple[float, float]:
    """(max unknown, min dense) of the abstain rule for an embedder; min_dense overrides the calibrated value."""
    unknown, dense = THRESHOLDS.get(embedder_name, (MAX_UNKNOWN, MIN_DENSE))
    return unknown, dense if min_dense is None else min_dense


def is_weak(ev: Evidence | dict, max_unknown: float = MAX_UNKNOWN, min_dense: float = MIN_DENSE) -> bool:
    """Too little evidence to answer: none of the question's words in the top papers, or many words the
    corpus never uses while the meaning does not match either."""
    e = ev if isinstance(ev, dict) else ev.to_dict()
    if e["terms"] == 0:
        return False  # nothing to check ("what about it?"): let the answer step decide
    return e["coverage"] == 0.0 or (e["unknown"] >= max_unknown and e["dense"] < min_dense)
