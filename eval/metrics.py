"""Evaluation metrics: pure, deterministic functions of ranked ids, cited ids and answer text.

Relevance is binary (a paper answers the question or not). Every function takes the ranked or cited
paper ids and the expected ids of one question; aggregation over questions is `mean`.
"""

from __future__ import annotations

import math
import statistics
from typing import Iterable, Sequence


def first_rank(ranked: Sequence[str], expected: Iterable[str]) -> int | None:
    """1-based rank of the first expected paper in ranked, or None if none is there."""
    want = set(expected)
    return next((i for i, pid in enumerate(ranked, 1) if pid in want), None)


def hit_at(ranked: Sequence[str], expected: Iterable[str], k: int) -> float:
    """1.0 when at least one expected paper is among the first k, else 0.0."""
    rank = first_rank(ranked[:k], expected)
    return 1.0 if rank is not None else 0.0


def recall_at(ranked: Sequence[str], expected: Iterable[str], k: int) -> float:
    """Share of the expected papers found among the first k."""
    want = set(expected)
    return len(want & set(ranked[:k])) / len(want) if want else 0.0


def reciprocal_rank(ranked: Sequence[str], expected: Iterable[str], k: int = 10) -> float:
    """1/rank of the first expected paper within the first k (MRR@k when averaged), else 0."""
    rank = first_rank(ranked[:k], expected)
    return 1.0 / rank if rank else 0.0


def ndcg_at(ranked: Sequence[str], expected: Iterable[str], k: int = 10) -> float:
    """Normalised discounted cumulative gain at k with binary relevance (duplicates count once)."""
    want = set(expected)
    if not want:
        return 0.0
    seen: set[str] = set()
    dcg = 0.0
    for i, pid in enumerate(ranked[:k], 1):
        if pid in want and pid not in seen:
            dcg += 1.0 / math.log2(i + 1)
        seen.add(pid)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(want), k) + 1))
    return dcg / ideal


def citation_precision(cited: Sequence[str], expected: Iterable[str]) -> float | None:
    """Share of the distinct cited papers that are expected; None when nothing is cited."""
    distinct = set(cited)
    return len(distinct & set(expected)) / len(distinct) if distinct else None


def citation_recall(cited: Sequence[str], expected: Iterable[str]) -> float:
    """Share of the expected papers that the answer cites."""
    want = set(expected)
    return len(want & set(cited)) / len(want) if want else 0.0


def keyword_recall(text: str, keywords: Sequence[str]) -> float | None:
    """Share of the keywords found in text (case-insensitive); None when there are no keywords."""
    if not keywords:
        return None
    low = text.casefold()
    return sum(k.casefold() in low for k in keywords) / len(keywords)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    vals = [v for v in values if v is not None]
    return statistics.fmean(vals) if vals else None


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between closest ranks; None when empty."""
    vals = sorted(values)
    if not vals:
        return None
    pos = (len(vals) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)
