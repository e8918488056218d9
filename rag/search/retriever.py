"""Question -> ranked Hits: dense (Chroma) and BM25 scores fused per paper, with date filters.

Fusion (measured in bench/retrieval.py): each retriever's score is standardised over the whole
corpus (z-score) and the two are added with weights. BM25 scores every chunk anyway; for the dense
side Chroma returns the top candidates and the corpus mean and spread of the query's cosine come
exactly from the mean vector and covariance kept in the local index.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.embed.base import get_embedder
from rag.errors import IndexMissingError, RagError
from rag.store.side_index import SideIndex, refresh_side_index
from rag.text.terms import tokenize
from rag.store.chroma import Store, build_params, digest
from rag.text.dates import date_int
from rag.types import Hit
from rag.store.paths import Paths

if TYPE_CHECKING:
    from rag.config import Settings

MAX_QUERY_CHARS = 4000
FRESHNESS_SECONDS = 1.0  # how often a long-lived Retriever checks whether another ingest changed the store
SNIPPET_CHARS = 240
MIN_OVERLAP_CHARS = 20  # shorter shared text between chunks is a coincidence, not the splitter's overlap


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


def join_overlapping(head: str, tail: str) -> str:
    """head + tail without the text they share (consecutive chunks overlap by a few sentences)."""
    if not head:
        return tail
    for start in range(max(0, len(head) - len(tail)), len(head) - MIN_OVERLAP_CHARS + 1):
        if head[start].isspace() or (start and not head[start - 1].isspace()):
            continue  # an overlap starts at a word
        if tail.startswith(head[start:]):
            return head + tail[len(head) - start :]
    return f"{head} {tail}"


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


class Retriever:
    """Hybrid search over one index; open once, search many times (from many threads at once).

    A search reads `self.index` once and uses that object throughout: another thread may put a newer
    index in its place (after another process's ingest) at any time.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedder = get_embedder(settings)
        self.store = Store.open(settings, build_params(settings, self.embedder.name, self.embedder.dim), create=False)
        self.index = refresh_side_index(Paths.of(settings), self.store, settings.bm25_k1, settings.bm25_b)
        self._checked = time.monotonic()
        self._reloading = threading.Lock()  # one rebuild at a time: the searches that find it stale share it
        if not self.index.ids:
            raise IndexMissingError(f"the index at {Paths.of(settings).where()} is empty", "run `rag ingest` first")

    def search(self, query: str, k: int | None = None, since: date | None = None, until: date | None = None) -> list[Hit]:
        """Top k papers for the query, one hit per paper, best first."""
        query = " ".join(query.split())
        if not query:
            raise RagError("the query is empty", "type a few words describing what you are looking for")
        if len(query) > MAX_QUERY_CHARS:
            raise RagError(f"the query is {len(query)} characters long", f"keep it under {MAX_QUERY_CHARS} characters")
        if since and until and since > until:
            raise RagError(f"the start date {since} is after the end date {until}", "swap the dates")
        s = self.settings
        self._follow_store()
        lo, hi = date_int(since), date_int(until)
        qvec = self.embedder.embed([query])[0]
        dense = self.store.query(qvec, s.candidates, _where(lo, hi))
        idx = self.index
        if any(cid not in idx.position for cid, _ in dense):
            # Chroma holds chunks the mirror does not know (a writer that left no marker): trust a full read.
            idx = self._reload(digest(*self.store.snapshot()))
        dense_pos = [(idx.position[cid], sim) for cid, sim in dense if cid in idx.position]
        bm25 = idx.bm25_scores(tokenize([query])[0], s.pair_weight)
        allowed = idx.date_mask(lo, hi) & (bm25 > 0)
        lex_pos = top_positions(np.where(allowed, bm25, -np.inf), s.candidates)
        scored = self._fuse(idx, qvec, dense_pos, lex_pos, bm25)
        return self._hits(idx, scored, dense_pos, lex_pos, bm25, k or s.top_k)

    def _follow_store(self) -> None:
        """At most once a second, check the ingest marker; if another ingest changed the collection, reload."""
        now = time.monotonic()
        if now - self._checked < FRESHNESS_SECONDS:
            return
        self._checked = now
        marker = self.store.marker()
        if marker and marker != self.index.digest:
            self._reload(marker)

    def _reload(self, content_digest: str) -> SideIndex:
        """The index for that store content: the current one if some thread already loaded it, else loaded."""
        with self._reloading:
            if self.index.digest != content_digest:
                s = self.settings
                self.index = refresh_side_index(Paths.of(s), self.store, s.bm25_k1, s.bm25_b, content_digest)
            return self.index

    @staticmethod
    def _paper_ranks(idx: SideIndex, positions: list[int]) -> dict[str, tuple[int, int]]:
        """paper_id -> (1-based rank, position of its best chunk) for a chunk ranking, best first."""
        paper_ids = idx.paper_ids
        out: dict[str, tuple[int, int]] = {}
        for pos in positions:
            out.setdefault(paper_ids[pos], (len(out) + 1, pos))
        return out

    def _fuse(self, idx: SideIndex, qvec: np.ndarray, dense_pos: list[tuple[int, float]], lex_pos: list[int],
              bm25: np.ndarray) -> dict[str, tuple[float, int]]:
        """paper_id -> (fused score, position of the chunk to show)."""
        s = self.settings
        if s.fusion == "rrf":
            dr, br = self._paper_ranks(idx, [p for p, _ in dense_pos]), self._paper_ranks(idx, lex_pos)
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
        paper_ids = idx.paper_ids
        best: dict[str, tuple[float, int]] = {}
        for pos, score in zip(positions, scores.tolist()):
            pid = paper_ids[pos]
            if pid not in best or score > best[pid][0]:
                best[pid] = (score, pos)
        return best

    def _hits(self, idx: SideIndex, scored: dict[str, tuple[float, int]], dense_pos: list[tuple[int, float]],
              lex_pos: list[int], bm25: np.ndarray, k: int) -> list[Hit]:
        """One Hit per paper, best first, showing the chunk that scored best."""
        dense_rank = self._paper_ranks(idx, [p for p, _ in dense_pos])
        dense_sim = dict(dense_pos)
        bm25_rank = self._paper_ranks(idx, lex_pos)
        hits = []
        for pid in sorted(scored, key=lambda p: (-scored[p][0], p))[:k]:
            score, pos = scored[pid]
            d_best = dense_rank[pid][1] if pid in dense_rank else None
            b_best = bm25_rank[pid][1] if pid in bm25_rank else None
            hits.append(self._hit_at(
                idx, pos, round(float(score), 6),
                dense_rank=dense_rank[pid][0] if pid in dense_rank else None,
                bm25_rank=bm25_rank[pid][0] if pid in bm25_rank else None,
                dense_score=round(dense_sim[d_best], 6) if d_best is not None else None,
                bm25_score=round(float(bm25[b_best]), 6) if b_best is not None else None,
            ))
        return hits

    def paper_count(self, since: date | None = None, until: date | None = None) -> int:
        """How many indexed papers fall in the date range (all of them without one)."""
        self._follow_store()
        return self.index.paper_count(date_int(since), date_int(until))

    def idf(self, terms: frozenset[str]) -> dict[str, float]:
        """Inverse document frequency of stemmed terms in the index."""
        return self.index.idf(terms)

    def knows(self, term: str) -> bool:
        """Whether any indexed chunk contains the stemmed term."""
        return term in getattr(self.index.model, "vocab_dict", {})

    def paper_hit(self, paper_id: str) -> Hit | None:
        """A paper as a Hit (its first chunk, no scores), e.g. to bring back a paper an earlier answer cited."""
        idx = self.index
        try:
            pos = idx.paper_ids.index(paper_id)
        except ValueError:
            return None
        return self._hit_at(idx, pos, 0.0)

    @staticmethod
    def _hit_at(idx: SideIndex, pos: int, score: float, **ranks: Any) -> Hit:
        """The Hit for the chunk at a position of the local index."""
        meta, doc = idx.metas[pos], idx.docs[pos]
        title = meta["title"]
        text = doc[len(title) + 1 :] if doc.startswith(title + "\n") else doc
        return Hit(paper_id=meta["paper_id"], title=title, score=score,
                   snippet=text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else ""),
                   date=meta.get("date") or None, chunk_id=idx.ids[pos], text=text, metadata=meta, **ranks)

    def paper(self, paper_id: str) -> dict[str, Any] | None:
        """One paper's metadata plus its whole abstract ("abstract": its chunks in order, overlaps removed)."""
        idx = self.index
        positions = [i for i, pid in enumerate(idx.paper_ids) if pid == paper_id]
        if not positions:
            return None
        positions.sort(key=lambda i: idx.metas[i].get("chunk", 0))
        abstract = ""
        for pos in positions:
            abstract = join_overlapping(abstract, self._hit_at(idx, pos, 0.0).text)
        meta = idx.metas[positions[0]]
        return {**{k: v for k, v in meta.items() if k != "chunk"}, "abstract": abstract}

    def papers(self) -> list[dict[str, Any]]:
        """Every indexed paper's metadata (from its first chunk), sorted by title."""
        seen: dict[str, dict[str, Any]] = {}
        for meta in self.index.metas:
            seen.setdefault(meta["paper_id"], meta)
        return sorted(seen.values(), key=lambda m: m["title"].casefold())
