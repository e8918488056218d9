"""Fusion of the two retrievers' chunk rankings into one score per paper (pure functions over a SideIndex).

Measured in bench/retrieval.py: 'zscore' standardises each retriever's score over the whole corpus and adds
them with weights (best); 'rrf' is weighted reciprocal-rank fusion. BM25 scores every chunk anyway; for the
dense side Chroma returns the top candidates, and the corpus mean and spread of the query's cosine come
exactly from the mean vector and covariance kept in the side index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from rag.config import SearchSettings
    from rag.store.side_index import SideIndex

Scored = dict[str, tuple[float, int]]  # paper_id -> (fused score, position of the chunk to show)


def top_positions(scores: np.ndarray, k: int) -> list[int]:
    """Positions of the k best finite scores, best first, ties by position (as a stable full sort would give).

    A partial selection, then a sort of the few: a full argsort of every chunk was the largest cost of a
    search at 100k chunks (13 ms against 5 ms, bench/scale.py).
    """
    finite = int(np.isfinite(scores).sum())
    k = min(k, finite)
    if k <= 0:
        return []
    threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
    top = np.flatnonzero(scores >= threshold)  # every tie with the k-th score, so the cut below is exact
    top = top[np.lexsort((top, -scores[top]))][:k]
    return [int(i) for i in top]


def paper_ranks(idx: SideIndex, positions: list[int]) -> dict[str, tuple[int, int]]:
    """paper_id -> (1-based rank, position of its best chunk) for a chunk ranking, best first."""
    paper_ids = idx.paper_ids
    out: dict[str, tuple[int, int]] = {}
    for pos in positions:
        out.setdefault(paper_ids[pos], (len(out) + 1, pos))
    return out


def fuse(settings: SearchSettings, idx: SideIndex, qvec: np.ndarray, dense_pos: list[tuple[int, float]],
         lex_pos: list[int], bm25: np.ndarray, concept: Callable[[list[int]], np.ndarray] | None = None,
         concept_weight: float = 0.0) -> Scored:
    """paper_id -> (fused score, position of the chunk to show), by settings.fusion. concept: a third score, already
    standardised, of the chunks at the given positions (the glossary's concept text, rag/search/glossary.py), added
    with its weight (zscore fusion only)."""
    s = settings
    if s.fusion == "rrf":
        dr, br = paper_ranks(idx, [p for p, _ in dense_pos]), paper_ranks(idx, lex_pos)
        out = {}
        for pid in dr.keys() | br.keys():
            d = s.dense_weight / (s.rrf_k + dr[pid][0]) if pid in dr else 0.0
            b = s.bm25_weight / (s.rrf_k + br[pid][0]) if pid in br else 0.0
            out[pid] = (d + b, dr[pid][1] if pid in dr and d >= b else br[pid][1])
        return out
    mu, sd = idx.dense_stats(qvec)
    bm_mu, bm_sd = float(bm25.mean()), float(bm25.std()) or 1.0
    dz = {p: (sim - mu) / sd for p, sim in dense_pos}
    floor = min(dz.values(), default=0.0)  # chunks beyond the dense candidates score at most this
    positions = sorted(dz.keys() | set(lex_pos))
    scores = s.bm25_weight * (bm25[positions] - bm_mu) / bm_sd + s.dense_weight * np.array(
        [dz.get(p, floor) for p in positions], dtype=np.float64
    )
    if concept is not None and concept_weight:
        scores += concept_weight * concept(positions)
    paper_ids = idx.paper_ids
    best: Scored = {}
    for pos, score in zip(positions, scores.tolist()):
        pid = paper_ids[pos]
        if pid not in best or score > best[pid][0]:
            best[pid] = (score, pos)
    return best
