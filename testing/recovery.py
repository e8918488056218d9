"""What a data home holds after a crash, for the ingest kill tests and benchmark (testing/ingest_kill.py).

`snapshot` reads everything a clean ingest must reproduce (chunk ids, documents, metadatas, embeddings,
collection metadata and marker, the side index on disk, search results); `differences` compares two;
`phase` tells where a killed ingest stopped by what it left; `probe` opens a Retriever on a half-written home.
"""

from __future__ import annotations

import json
from typing import Any

from rag.store.paths import Paths
from testing.seeds import open_store

QUERIES = ["mixture of experts inference", "KV cache compression for long context",
           "video generation with diffusion models", "reinforcement learning for reasoning"]


def drop_chroma_clients() -> None:
    """Forget this process's cached Chroma systems, so the next open reads what another process wrote."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def _saved_fingerprint(settings: Any) -> str | None:
    from rag.store.side_index import SideIndex

    return SideIndex.saved_fingerprint(Paths.of(settings).side_index_dir)


def snapshot(settings: Any) -> dict[str, Any]:
    """Everything a finished home holds that a clean ingest must reproduce."""
    import numpy as np

    from rag.store.side_index import SideIndex
    from rag.search.retriever import Retriever
    from rag.store.chroma import digest

    try:
        store = open_store(settings)
        ids, docs, metas, vectors = store.all_chunks()
        meta = dict(store.client.get_collection(settings.collection, embedding_function=None).metadata or {})
        saved = _saved_fingerprint(settings)  # read before a Retriever could rebuild it
        loaded = SideIndex.load(Paths.of(settings).side_index_dir, saved) if saved else None
        r = Retriever(settings)
        searches = [[(h.paper_id, h.score) for h in r.search(q, k=5)] for q in QUERIES]
        used_saved = saved is not None and r.index.fingerprint == saved
    finally:
        drop_chroma_clients()
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return {
        "ids": [ids[i] for i in order], "docs": [docs[i] for i in order], "metas": [metas[i] for i in order],
        "vectors": np.asarray(vectors)[order] if len(ids) else np.zeros((0, 0)), "collection_meta": meta,
        "digest": digest(ids, metas), "side_index": None if loaded is None else {
            "fingerprint": loaded.fingerprint, "chunks": dict(zip(loaded.ids, loaded.docs)), "n": len(loaded.ids)},
        "retriever_used_saved_side_index": used_saved, "searches": searches,
    }


def differences(got: dict[str, Any], clean: dict[str, Any]) -> list[str]:
    """What differs between a recovered home's snapshot and the clean one's (empty: recovered cleanly)."""
    import numpy as np

    out = []
    ids, want = got["ids"], set(clean["ids"])
    if len(ids) != len(set(ids)):
        out.append(f"{len(ids) - len(set(ids))} duplicate chunk ids")
    if set(ids) != want:
        out.append(f"{len(set(ids) - want)} orphaned and {len(want - set(ids))} missing chunks")
    elif got["docs"] != clean["docs"] or got["metas"] != clean["metas"]:
        out.append("documents or metadatas differ")
    elif got["vectors"].shape != clean["vectors"].shape or not np.allclose(got["vectors"], clean["vectors"], atol=1e-6):
        out.append("embeddings differ")
    if got["collection_meta"] != clean["collection_meta"]:
        out.append(f"collection metadata differs: {got['collection_meta']} vs {clean['collection_meta']}")
    if got["collection_meta"].get("content_digest") != got["digest"]:
        out.append("the marker does not match the store's contents")
    side, chunks = got["side_index"], dict(zip(got["ids"], got["docs"]))
    if side is None:
        out.append("no loadable BM25 side index on disk")
    elif side["fingerprint"] != (clean["side_index"] or {}).get("fingerprint") or side["chunks"] != chunks \
            or side["n"] != len(ids) or not side["fingerprint"].startswith(got["digest"] + "|"):
        out.append("the BM25 side index on disk does not match the store")
    if not got["retriever_used_saved_side_index"]:
        out.append("a Retriever did not use the saved BM25 side index")
    if not same_searches(got["searches"], clean["searches"]):
        out.append("search results differ")
    return out


def same_searches(a: list, b: list) -> bool:
    """Same papers in the same order, scores equal up to float summation order."""
    return all([p for p, _ in x] == [p for p, _ in y] and all(abs(s - t) < 1e-4 for (_, s), (_, t) in zip(x, y))
               for x, y in zip(a, b)) and len(a) == len(b)


def phase(settings: Any, total: int, old_collection: str | None = None) -> str:
    """Where a killed ingest stopped, told by what it left: the store, its marker, the side index chunks file."""
    from rag.errors import RagError
    from rag.store.chroma import digest

    if not Paths.of(settings).chroma_dir.is_dir():
        return "before the store was opened"
    try:
        store = open_store(settings)
        ids, metas = store.snapshot()
        marker, col_id = store.marker(), str(store.collection.id)
        partial = sum(p.found < p.n_chunks for p in store.papers((ids, metas)).values())
    except RagError:
        return "store created, no collection yet"
    finally:
        drop_chroma_clients()
    saved = _saved_fingerprint(settings)
    side_saved = saved is not None and saved.startswith(digest(ids, metas) + "|")
    if old_collection is not None and col_id == old_collection:
        return "old collection not dropped yet" if marker else "old collection, marker cleared"
    if not ids:
        return "collection created, no chunk stored yet"
    if len(ids) < total:
        return f"writing: {len(ids)}/{total} chunks stored" + (f", {partial} papers partly" if partial else "")
    if marker:
        return "done (marker set), not yet exited"
    return "all chunks stored, marker pending" + (" (side index saved)" if side_saved else " (side index not saved)")


def probe(settings: Any) -> str:
    """Open a Retriever on a half-written home and search: it must work or raise a RagError with a hint."""
    from rag.errors import RagError
    from rag.search.retriever import Retriever

    try:
        hits = Retriever(settings).search(QUERIES[0], k=3)
        return f"search ok ({len(hits)} hits)"
    except RagError as e:
        if not e.hint:
            raise AssertionError(f"RagError without a hint: {e.message}") from e
        return f"RagError: {e.message} (hint: {e.hint})"
    finally:
        drop_chroma_clients()
