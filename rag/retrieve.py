"""Question -> ranked Hits: dense (Chroma) and BM25 rankings fused per paper, with date filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from rag.embed import get_embedder
from rag.errors import IndexMissingError, RagError
from rag.lexical import Bm25Index, tokenize
from rag.store import Store, build_params
from rag.types import Hit

if TYPE_CHECKING:
    from rag.config import Settings

MAX_QUERY_CHARS = 4000
SNIPPET_CHARS = 240


def refresh_bm25(settings: Settings, store: Store) -> Bm25Index:
    """The BM25 index for what the store holds now: loaded if still in step, else rebuilt and saved."""
    ids, docs, metas = store.all_chunks()
    fingerprint = store.fingerprint(ids, metas)
    index = Bm25Index.load(settings.bm25_dir, fingerprint)
    if index is None:
        index = Bm25Index.build(ids, docs, metas, fingerprint)
        index.save(settings.bm25_dir)
    return index


@dataclass
class _Ranked:
    rank: int
    score: float
    doc: str
    meta: dict[str, Any]
    chunk_id: str


def _per_paper(rows: list[tuple[str, float, str, dict]]) -> dict[str, _Ranked]:
    """Best chunk of each paper from a chunk ranking (rows best first) -> paper rank (1-based)."""
    out: dict[str, _Ranked] = {}
    for cid, score, doc, meta in rows:
        pid = meta["paper_id"]
        if pid not in out:
            out[pid] = _Ranked(len(out) + 1, score, doc, meta, cid)
    return out


def _date_int(d: date | None) -> int:
    return int(d.strftime("%Y%m%d")) if d else 0


def _where(since: int, until: int) -> dict | None:
    conds = []
    if since:
        conds.append({"date_int": {"$gte": since}})
    if until:
        conds.append({"date_int": {"$lte": until}})
        conds.append({"date_int": {"$gt": 0}})  # undated papers cannot satisfy an upper bound
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else {"$and": conds}


def _body(doc: str, meta: dict) -> str:
    title = meta.get("title", "")
    return doc[len(title) + 1 :] if title and doc.startswith(title + "\n") else doc


class Retriever:
    """Hybrid search over one index; open once, search many times."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedder = get_embedder(settings)
        self.store = Store.open(settings, build_params(settings, self.embedder.name, self.embedder.dim), create=False)
        if self.store.count() == 0:
            raise IndexMissingError(f"the index at {settings.home} is empty", "run `rag ingest` first")
        self.bm25 = refresh_bm25(settings, self.store)

    def search(self, query: str, k: int | None = None, since: date | None = None, until: date | None = None) -> list[Hit]:
        """Top k papers for the query, one hit per paper, best first."""
        query = " ".join(query.split())
        if not query:
            raise RagError("the query is empty", "type a few words describing what you are looking for")
        if len(query) > MAX_QUERY_CHARS:
            raise RagError(f"the query is {len(query)} characters long", f"keep it under {MAX_QUERY_CHARS} characters")
        if since and until and since > until:
            raise RagError(f"--since {since} is after --until {until}", "swap the dates")
        s = self.settings
        k = k or s.top_k
        lo, hi = _date_int(since), _date_int(until)
        dense_rows = self.store.query(self.embedder.embed([query])[0], s.candidates, _where(lo, hi))
        lex_rows = [
            (self.bm25.ids[i], sc, self.bm25.docs[i], self.bm25.metas[i])
            for i, sc in self.bm25.top(tokenize([query])[0], s.candidates, lo, hi)
        ]
        return self._fuse(_per_paper(dense_rows), _per_paper(lex_rows), k)

    def _fuse(self, dense: dict[str, _Ranked], lex: dict[str, _Ranked], k: int) -> list[Hit]:
        """Weighted reciprocal-rank fusion of two per-paper rankings."""
        s = self.settings
        hits: list[Hit] = []
        for pid in dense.keys() | lex.keys():
            d, b = dense.get(pid), lex.get(pid)
            wd = s.dense_weight / (s.rrf_k + d.rank) if d else 0.0
            wb = s.bm25_weight / (s.rrf_k + b.rank) if b else 0.0
            best = d if (d and (not b or wd >= wb)) else b
            assert best is not None
            text = _body(best.doc, best.meta)
            hits.append(
                Hit(
                    paper_id=pid,
                    title=best.meta["title"],
                    score=round(wd + wb, 6),
                    snippet=text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else ""),
                    date=best.meta.get("date") or None,
                    chunk_id=best.chunk_id,
                    text=text,
                    metadata=best.meta,
                    dense_rank=d.rank if d else None,
                    bm25_rank=b.rank if b else None,
                    dense_score=round(d.score, 6) if d else None,
                    bm25_score=round(b.score, 6) if b else None,
                )
            )
        hits.sort(key=lambda h: (-h.score, h.paper_id))
        return hits[:k]

    def papers(self) -> list[dict[str, Any]]:
        """Every indexed paper's metadata (from its first chunk), sorted by title."""
        seen: dict[str, dict[str, Any]] = {}
        for meta in self.bm25.metas:
            seen.setdefault(meta["paper_id"], meta)
        return sorted(seen.values(), key=lambda m: m["title"].casefold())
