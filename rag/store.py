"""The only module that imports chromadb: open/create the collection, upsert, query, delete.

The collection records how it was built (embedder, dimension, chunking); opening it with other
settings is an IndexMismatchError, never silently mixed vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.errors import IndexMismatchError, IndexMissingError, RagError

if TYPE_CHECKING:
    import numpy as np

    from rag.config import Settings

SCHEMA = 1
MARKER = "content_digest"  # collection metadata: digest of the contents, set by every ingest that writes
BATCH = 1000  # below Chroma's max batch size


def build_params(settings: Settings, embedder_name: str, dim: int) -> dict[str, Any]:
    """What an index is built with; stored on the collection and checked on every open."""
    return {
        "schema": SCHEMA,
        "embedder": embedder_name,
        "dim": dim,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "index_titles": settings.index_titles,
    }


@dataclass
class StoredPaper:
    """What the store knows of one paper: the hash it was built from and its chunk counts."""

    paper_hash: str
    n_chunks: int  # how many chunks the paper should have
    found: int  # how many are actually stored (fewer after an interrupted ingest)
    files: list[str]


class Store:
    """A Chroma collection of chunks, with our own embeddings and cosine distance."""

    def __init__(self, client: Any, collection: Any, params: dict[str, Any]) -> None:
        self.client = client
        self.collection = collection
        self.params = params

    @classmethod
    def open(cls, settings: Settings, params: dict[str, Any], *, create: bool, rebuild: bool = False) -> Store:
        """Open (or create) the collection; raise if it was built with other params."""
        if not create and not settings.chroma_dir.is_dir():
            raise IndexMissingError(f"no index at {settings.home}", "run `rag ingest` first")
        client = _client(settings)
        name = settings.collection
        exists = name in {c if isinstance(c, str) else c.name for c in client.list_collections()}
        if exists and rebuild:
            client.delete_collection(name)
            exists = False
        if not exists:
            if not create:
                raise IndexMissingError(f"no index at {settings.home}", "run `rag ingest` first")
            col = client.create_collection(
                name, metadata=params, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
            )
            return cls(client, col, params)
        col = client.get_collection(name, embedding_function=None)
        built = {k: v for k, v in (col.metadata or {}).items() if k in params}
        if built != params:
            diff = ", ".join(f"{k}: index={built.get(k)!r} now={params[k]!r}" for k in params if built.get(k) != params[k])
            raise IndexMismatchError(
                f"the index at {settings.home} was built with other settings ({diff})",
                "run `rag ingest --rebuild` to rebuild it, or restore the settings it was built with",
            )
        return cls(client, col, params)

    def marker(self) -> str | None:
        """The content digest the last completed ingest recorded (None while an ingest is writing)."""
        meta = self.client.get_collection(self.collection.name, embedding_function=None).metadata or {}
        return meta.get(MARKER) or None

    def set_marker(self, value: str | None) -> None:
        """Record the content digest (or clear it before writing)."""
        self.collection.modify(metadata={**self.params, MARKER: value or ""})

    def count(self) -> int:
        """Number of stored chunks."""
        return self.collection.count()

    def snapshot(self) -> tuple[list[str], list[dict]]:
        """Every chunk id with its metadata: one read that serves papers() and digest()."""
        got = self.collection.get(include=["metadatas"])
        return list(got["ids"]), list(got["metadatas"] or [])

    def fingerprint(self) -> str:
        """A digest of what the collection holds now (chunk ids and their paper hashes)."""
        return digest(*self.snapshot())

    def papers(self, snapshot: tuple[list[str], list[dict]] | None = None) -> dict[str, StoredPaper]:
        """paper_id -> what is stored for it, read from chunk metadata."""
        out: dict[str, StoredPaper] = {}
        for meta in (snapshot or self.snapshot())[1]:
            pid = meta["paper_id"]
            sp = out.get(pid)
            if sp is None or sp.paper_hash != meta["paper_hash"]:
                files = [f for f in str(meta.get("files", "")).split("; ") if f]
                out[pid] = sp = StoredPaper(meta["paper_hash"], int(meta["n_chunks"]), 0, files)
            sp.found += 1
        return out

    def upsert(self, ids: list[str], vectors: np.ndarray, documents: list[str], metadatas: list[dict]) -> None:
        """Insert or replace chunks, in batches."""
        for i in range(0, len(ids), BATCH):
            self.collection.upsert(
                ids=ids[i : i + BATCH],
                embeddings=vectors[i : i + BATCH],
                documents=documents[i : i + BATCH],
                metadatas=metadatas[i : i + BATCH],
            )

    def delete_papers(self, paper_ids: list[str]) -> None:
        """Remove every chunk of these papers."""
        for i in range(0, len(paper_ids), BATCH):
            self.collection.delete(where={"paper_id": {"$in": paper_ids[i : i + BATCH]}})

    def all_chunks(self) -> tuple[list[str], list[str], list[dict], np.ndarray]:
        """Every chunk's id, document, metadata and vector (to build the local index from)."""
        import numpy as np

        got = self.collection.get(include=["documents", "metadatas", "embeddings"])
        vectors = np.asarray(got["embeddings"] if got["embeddings"] is not None else [], dtype=np.float32)
        return list(got["ids"]), list(got["documents"] or []), list(got["metadatas"] or []), vectors

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Nearest chunks as (id, cosine similarity), best first. Ids only: documents come from the local index."""
        res = self.collection.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        return [(cid, 1.0 - dist) for cid, dist in zip(res["ids"][0], res["distances"][0])]


def digest(ids: list[str], metas: list[dict]) -> str:
    """Order-free digest of chunk ids and their paper hashes."""
    import hashlib

    h = hashlib.sha1()
    for cid, paper_hash in sorted(zip(ids, (m.get("paper_hash", "") for m in metas))):
        h.update(f"{cid}={paper_hash};".encode())
    return h.hexdigest()


def _client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    try:
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(
            path=str(settings.chroma_dir), settings=ChromaSettings(anonymized_telemetry=False)
        )
    except OSError as e:
        raise RagError(f"cannot open the index folder {settings.chroma_dir}: {e}", "check RAG_HOME") from e
