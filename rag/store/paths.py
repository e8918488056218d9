"""Every path under the data home (RAG_HOME), in one place: nothing else builds a path inside it.

    RAG_HOME/
      chroma/                          the embedded Chroma database (unused with a Chroma server)
      bm25/<collection>[@<server>]/    the BM25 side index, one per collection and per server
      embed-cache/<model>/vectors.sqlite
      locks/ingest-<side index name>.lock
      judge-cache/                     `rag eval --judge` answers, keyed by prompt
      sources/                         a user's added files: sources.json and files/<name> (rag/ingestion/sources.py)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.config import StoreSettings


@dataclass(frozen=True)
class Paths:
    """The data home's layout for one collection (and server)."""

    home: Path
    collection: str = "papers"
    chroma_url: str | None = None

    @classmethod
    def of(cls, settings: StoreSettings) -> Paths:
        """The layout the store settings describe."""
        return cls(Path(settings.home), settings.collection, settings.chroma_url)

    @property
    def chroma_dir(self) -> Path:
        """Folder of the embedded Chroma database."""
        return self.home / "chroma"

    @property
    def side_index_dir(self) -> Path:
        """Folder of the BM25 side index; per server too, so two servers never share one."""
        if not self.chroma_url:
            return self.home / "bm25" / self.collection
        server = hashlib.sha1(self.chroma_url.rstrip("/").encode()).hexdigest()[:12]
        return self.home / "bm25" / f"{self.collection}@{server}"

    @property
    def ingest_lock(self) -> Path:
        """The lock file that keeps two ingests of this index apart."""
        return self.home / "locks" / f"ingest-{self.side_index_dir.name}.lock"

    def embed_cache(self, embedder_name: str, root: Path | None = None) -> Path:
        """One embedding model's cache file (the name made safe for a file name, plus a hash against collisions),
        under root when given (RAG_EMBED_CACHE_DIR: one cache shared by several homes), else in the home."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", embedder_name).strip("_")[:80]
        tag = hashlib.sha1(embedder_name.encode()).hexdigest()[:8]
        return (Path(root) if root else self.home / "embed-cache") / f"{safe}-{tag}" / "vectors.sqlite"

    @property
    def sources_dir(self) -> Path:
        """Folder of the user's added files and their manifest (one per data home: every collection reads them)."""
        return self.home / "sources"

    @property
    def judge_cache(self) -> Path:
        """Folder of the eval judge's cached verdicts."""
        return self.home / "judge-cache"

    def where(self) -> str:
        """Where the index lives, for messages: the server and collection, or the data home."""
        return f"collection {self.collection!r} on {self.chroma_url}" if self.chroma_url else str(self.home)
