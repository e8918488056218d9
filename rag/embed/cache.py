"""Embeddings cached by content hash, so a re-ingest or a rebuild with the same model never embeds a text twice.

One small sqlite file per model (under RAG_HOME/embed-cache/, named by rag/store/paths.py), keyed by the sha256 of the exact text
embedded. Vectors are stored as float32 bytes. The cache is an optimisation only: a missing or
unreadable cache just means embedding again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from rag.embed.base import Embedder

LOOKUP_BATCH = 500  # keys per SELECT, below sqlite's variable limit


def text_key(text: str) -> str:
    """Content hash of one text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """An Embedder that looks every text up by content hash first and embeds only the misses."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.path = path
        self.name = inner.name
        self.dim = inner.dim
        self.hits = 0
        self.misses = 0

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path)
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        return db

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for texts: cached ones read back, the rest embedded by the inner model and stored."""
        import numpy as np

        keys = [text_key(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        db = self._connect()
        try:
            with db:  # one transaction
                found = self._lookup(db, list(dict.fromkeys(keys)))
                missing: dict[str, int] = {}  # key -> first position of a text not cached yet
                for i, k in enumerate(keys):
                    if k in found:
                        out[i] = found[k]
                    else:
                        missing.setdefault(k, i)
                if missing:
                    fresh = np.asarray(self.inner.embed([texts[i] for i in missing.values()]), dtype=np.float32)
                    by_key = dict(zip(missing, fresh))
                    for i, k in enumerate(keys):
                        if k in by_key:
                            out[i] = by_key[k]
                    db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                   [(k, v.tobytes()) for k, v in by_key.items()])
        finally:
            db.close()
        self.misses += len(missing)
        self.hits += len(texts) - sum(1 for k in keys if k in missing)
        return out

    def _lookup(self, db: sqlite3.Connection, keys: list[str]) -> dict[str, np.ndarray]:
        """Cached vectors of these keys (rows of the wrong size, e.g. from a changed model, count as missing)."""
        import numpy as np

        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), LOOKUP_BATCH):
            part = keys[i : i + LOOKUP_BATCH]
            rows = db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows if len(v) == self.dim * 4)
        return found


def cached(embedder: Embedder, path: Path) -> CachedEmbedder:
    """embedder behind the content-hash cache in that file (one per model: rag/store/paths.py names it)."""
    return CachedEmbedder(embedder, path)
