"""Question -> ranked Hits: dense (Chroma) and BM25 scores fused per paper, with date filters.

Fusion (measured in bench/retrieval.py): each retriever's score is standardised over the whole
corpus (z-score) and the two are added with weights. BM25 scores every chunk anyway; for the dense
side Chroma returns the top candidates and the corpus mean and spread of the query's cosine come
exactly from the mean vector and covariance kept in the local index.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.embed import get_embedder
from rag.errors import IndexMissingError, RagError
from rag.local_index import LocalIndex, tokenize
from rag.store import Store, build_params, digest
from rag.types import Hit

if TYPE_CHECKING:
    from rag.config import Settings

MAX_QUERY_CHARS = 4000
SNIPPET_CHARS = 240


def refresh_local_index(settings: Settings, store: Store, snapshot: tuple[list[str], list[dict]] | None = None) -> LocalIndex:
    """The local index for what the store holds now: loaded if still in step, else rebuilt and saved.

    `snapshot` is a fresh Store.snapshot() when the caller has one (saves a read of the collection).
    """
    suffix = f"|bm25 k1={settings.bm25_k1} b={settings.bm25_b}"
    index = LocalIndex.load(settings.bm25_dir, digest(*(snapshot or store.snapshot())) + suffix)
    if index is None:
        ids, docs, metas, vectors = store.all_chunks()
        index = LocalIndex.build(ids, docs, metas, vectors, digest(ids, metas) + suffix, settings.bm25_k1, settings.bm25_b)
        index.save(settings.bm25_dir)
    return index


def _date_int(d: date | None) -> int:
    return int(d.strftime("%Y%m%d")) if d else 0


def _where(since: int, until: int) -> dict | None:
    conds: list[dict] = []
    if since:
        conds.append({"date_int": {"$gte": since}})
    if until:
        conds.append({"date_int": {"$lte": until}})
        conds.append({"date_int": {"$gt": 0}})  # undated papers cannot satisfy an upper bound
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else {"$and": conds}


def _ranks(order: list[int]) -> dict[int, int]:
    """Chunk position -> 1-based paper rank (a paper ranks by its best chunk)."""
    return {pos: r for r, pos in enumerate(order, 1)}


class Retriever:
    """Hybrid search over one index; open once, search many times."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedder = get_embedder(settings)
        self.store = Store.open(settings, build_params(settings, self.embedder.name, self.embedder.dim), create=False)
        self.index = refresh_local_index(settings, self.store)
        if not self.index.ids:
            raise IndexMissingError(f"the index at {settings.home} is empty", "run `rag ingest` first")

    def search(self, query: str, k: int | None = None, since: date | None = None, until: date | None = None) -> list[Hit]:
        """Top k papers for the query, one hit per paper, best first."""
        query = " ".join(query.split())
        if not query:
            raise RagError("the query is empty", "type a few words describing what you are looking for")
        if len(query) > MAX_QUERY_CHARS:
            raise RagError(f"the query is {len(query)} characters long", f"keep it under {MAX_QUERY_CHARS} characters")
        if since and until and since > until:
            raise RagError(f"the start date {since} is after the end date {until}", "swap the dates")
        s, idx = self.settings, self.index
        lo, hi = _date_int(since), _date_int(until)
        qvec = self.embedder.embed([query])[0]
        dense = self.store.query(qvec, s.candidates, _where(lo, hi))
        if any(cid not in idx.position for cid, _ in dense):
            # Another client changed the collection since we loaded: bring the local index back in step.
            self.index = idx = refresh_local_index(s, self.store)
        dense_pos = [(idx.position[cid], sim) for cid, sim in dense if cid in idx.position]

        bm25 = idx.bm25_scores(tokenize([query])[0])
        allowed = idx.date_mask(lo, hi) & (bm25 > 0)
        lex_pos = [int(i) for i in np.argsort(-np.where(allowed, bm25, -np.inf), kind="stable")[: s.candidates] if allowed[i]]

        fused = self._fuse(qvec, dense_pos, lex_pos, bm25)
        return self._hits(fused, dense_pos, lex_pos, bm25, k or s.top_k)

    def _fuse(self, qvec: np.ndarray, dense_pos: list[tuple[int, float]], lex_pos: list[int], bm25: np.ndarray) -> dict[int, float]:
        """Fused score of every candidate chunk position."""
        s = self.settings
        if s.fusion == "rrf":
            dr = _ranks(self._best_per_paper([p for p, _ in dense_pos]))
            br = _ranks(self._best_per_paper(lex_pos))
            return {
                p: (s.dense_weight / (s.rrf_k + dr[p]) if p in dr else 0.0)
                + (s.bm25_weight / (s.rrf_k + br[p]) if p in br else 0.0)
                for p in dr.keys() | br.keys()
            }
        mu, sd = self.index.dense_stats(qvec)
        bm_mu, bm_sd = float(bm25.mean()), float(bm25.std()) or 1.0
        dz = {p: (sim - mu) / sd for p, sim in dense_pos}
        floor = min(dz.values(), default=0.0)  # chunks beyond the dense candidates score at most this
        return {
            p: s.bm25_weight * (bm25[p] - bm_mu) / bm_sd + s.dense_weight * dz.get(p, floor)
            for p in dz.keys() | set(lex_pos)
        }

    def _best_per_paper(self, positions: list[int]) -> list[int]:
        seen: set[str] = set()
        out = []
        for p in positions:
            pid = self.index.metas[p]["paper_id"]
            if pid not in seen:
                seen.add(pid)
                out.append(p)
        return out

    def _hits(self, fused: dict[int, float], dense_pos: list[tuple[int, float]], lex_pos: list[int],
              bm25: np.ndarray, k: int) -> list[Hit]:
        """One Hit per paper (its best chunk), best first."""
        idx = self.index
        order = sorted(fused, key=lambda p: (-fused[p], idx.ids[p]))
        best = self._best_per_paper(order)[:k]
        dense_rank = _ranks(self._best_per_paper([p for p, _ in dense_pos]))
        dense_sim = dict(dense_pos)
        bm25_rank = _ranks(self._best_per_paper(lex_pos))
        hits = []
        for p in best:
            meta, doc = idx.metas[p], idx.docs[p]
            title = meta["title"]
            text = doc[len(title) + 1 :] if doc.startswith(title + "\n") else doc
            hits.append(Hit(
                paper_id=meta["paper_id"], title=title, score=round(float(fused[p]), 6),
                snippet=text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else ""),
                date=meta.get("date") or None, chunk_id=idx.ids[p], text=text, metadata=meta,
                dense_rank=dense_rank.get(p), bm25_rank=bm25_rank.get(p),
                dense_score=round(dense_sim[p], 6) if p in dense_sim else None,
                bm25_score=round(float(bm25[p]), 6) if bm25[p] > 0 else None,
            ))
        return hits

    def papers(self) -> list[dict[str, Any]]:
        """Every indexed paper's metadata (from its first chunk), sorted by title."""
        seen: dict[str, dict[str, Any]] = {}
        for meta in self.index.metas:
            seen.setdefault(meta["paper_id"], meta)
        return sorted(seen.values(), key=lambda m: m["title"].casefold())
