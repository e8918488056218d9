"""Is there enough evidence to answer? Features of the retrieval result, and the calibrated rule.

The rule and its thresholds come from bench/abstain.py, which measures them on the golden set's
answerable and unanswerable questions (numbers in the README).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

from rag.citations import content_terms
from rag.types import Hit

# Calibrated in bench/abstain.py.
MIN_COVERAGE = 0.5  # share of the question's (idf-weighted) terms found in the best of the top papers
MIN_DENSE = 0.5  # cosine of the best chunk, used when the words do not match (paraphrases)
COVERAGE_PAPERS = 3  # how many of the top papers coverage looks at


@dataclass
class Evidence:
    """What retrieval found for a question, as numbers a threshold can be put on."""

    coverage: float  # idf-weighted share of question terms that occur in one of the top papers
    dense: float  # best dense cosine among the top papers
    score: float  # fused score of the top paper
    terms: int  # question terms that carry evidence

    def to_dict(self) -> dict[str, float]:
        """Plain dict (for reports)."""
        return asdict(self)


def measure(q_terms: frozenset[str], hits: list[Hit], idf: Callable[[frozenset[str]], dict[str, float]]) -> Evidence:
    """Evidence features of hits for a question with content terms q_terms."""
    if not hits:
        return Evidence(0.0, 0.0, float("-inf"), len(q_terms))
    weights = idf(q_terms)
    total = sum(weights.values()) or 1.0
    coverage = 0.0
    for h in hits[:COVERAGE_PAPERS]:
        found = q_terms & content_terms(f"{h.title}\n{h.text}")
        coverage = max(coverage, sum(weights[t] for t in found) / total)
    dense = max((h.dense_score or 0.0) for h in hits[:COVERAGE_PAPERS])
    return Evidence(round(coverage, 4), round(dense, 4), hits[0].score, len(q_terms))


def is_weak(ev: Evidence) -> bool:
    """Too little evidence to answer: the question's words are mostly absent and meaning does not match either."""
    if ev.terms == 0:
        return False  # nothing to check ("what about it?"): let the answer step decide
    return ev.coverage < MIN_COVERAGE and ev.dense < MIN_DENSE
