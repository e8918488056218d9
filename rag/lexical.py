"""BM25 over the stored chunks (bm25s, English stopwords, Snowball stemming), persisted beside Chroma.

The index is built from what the store holds and saved with the store's fingerprint, so a BM25
index that no longer agrees with Chroma (another ingest, another client) is rebuilt, never used.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens, the same for documents and queries."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


class Bm25Index:
    """A bm25s index plus the chunk ids, documents and metadata it was built from."""

    def __init__(self, model: Any, ids: list[str], docs: list[str], metas: list[dict], fingerprint: str) -> None:
        self.model = model
        self.ids = ids
        self.docs = docs
        self.metas = metas
        self.fingerprint = fingerprint
        self.date_ints = np.array([int(m.get("date_int", 0)) for m in metas], dtype=np.int64)

    @classmethod
    def build(cls, ids: list[str], docs: list[str], metas: list[dict], fingerprint: str) -> Bm25Index:
        """Index the given chunk texts."""
        import bm25s

        model = bm25s.BM25()
        if docs:
            model.index(tokenize(docs), show_progress=False)
        return cls(model, ids, docs, metas, fingerprint)

    def save(self, folder: Path) -> None:
        """Write the index and its sidecar; the sidecar is written last, so a half-written index is stale."""
        folder.mkdir(parents=True, exist_ok=True)
        side = folder / "chunks.json"
        side.unlink(missing_ok=True)
        if self.docs:
            self.model.save(str(folder / "bm25"))
        tmp = folder / "chunks.json.tmp"
        tmp.write_text(json.dumps({"fingerprint": self.fingerprint, "ids": self.ids, "docs": self.docs, "metas": self.metas}))
        tmp.replace(side)

    @classmethod
    def load(cls, folder: Path, fingerprint: str) -> Bm25Index | None:
        """The saved index if it matches the store's fingerprint, else None."""
        import bm25s

        side = folder / "chunks.json"
        try:
            data = json.loads(side.read_text())
        except (OSError, ValueError):
            return None
        if data.get("fingerprint") != fingerprint:
            return None
        if not data["docs"]:
            return cls(bm25s.BM25(), [], [], [], fingerprint)
        try:
            model = bm25s.BM25.load(str(folder / "bm25"))
        except (OSError, ValueError):
            return None
        return cls(model, data["ids"], data["docs"], data["metas"], fingerprint)

    def top(self, tokens: list[str], n: int, since: int = 0, until: int = 0) -> list[tuple[int, float]]:
        """Best n (position, score) pairs with score > 0, optionally within a date_int range."""
        if not self.ids or not tokens:
            return []
        known = [t for t in tokens if t in self.model.vocab_dict]
        if not known:
            return []
        scores = np.asarray(self.model.get_scores(known), dtype=np.float32)
        if since:
            scores[self.date_ints < since] = 0.0
        if until:
            scores[(self.date_ints > until) | (self.date_ints == 0)] = 0.0
        n = min(n, len(scores))
        idx = np.argpartition(-scores, n - 1)[:n]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(int(i), float(scores[i])) for i in idx if scores[i] > 0]
