"""The only module that uses chromadb (with rag/store/faults.py for its errors): open/create the collection,
upsert, query, delete.

The collection records how it was built (embedder, dimension, chunking); opening it with other
settings is an IndexMismatchError, never silently mixed vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from rag.errors import ConfigError, IndexMismatchError, IndexMissingError, RagError, StoreUnavailableError
from rag.faultpoints import checkpoint
from rag.store.faults import SERVER_HINT, data_home_error, on_disk, reachable, read_only_note
from rag.store.paths import Paths

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from rag.config import IngestSettings, StoreSettings

SCHEMA = 1
MARKER = "content_digest"  # collection metadata: digest of the contents, set by every ingest that writes
BATCH = 4000  # below Chroma's max batch size (5,461 locally); 11% faster writes than 1,000 at 20k chunks
READ_PAGE = 5000  # records per get when reading the whole collection
TEXT = "text"  # a chunk's text, in its record
RECORD = "record"  # a chunk's metadata and text as one JSON string (one metadata row for Chroma to write, not ~13)
FILTERED = ("paper_id", "date_int")  # also kept as fields of their own: deletes and date filters use them
F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    """Run a Store method under reachable(self.url), or on_disk(home) for the embedded store."""

    @wraps(method)
    def run(self: Store, *args: Any, **kwargs: Any) -> Any:
        with reachable(self.url), on_disk(None if self.url else self.home):
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


def build_params(settings: IngestSettings, embedder_name: str, dim: int) -> dict[str, Any]:
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
    files_text: str  # the seed files it came from, "; "-joined as stored
    mixed: bool = False  # chunks of two versions are stored (an update was interrupted): rewrite it

    @property
    def files(self) -> list[str]:
        """The seed files it came from (split only when asked: an ingest asks for removed papers only)."""
        return [f for f in self.files_text.split("; ") if f]


class Store:
    """A Chroma collection of chunks, with our own embeddings and cosine distance."""

    def __init__(self, client: Any, collection: Any, params: dict[str, Any], url: str | None = None,
                 home: Path | None = None) -> None:
        self.client = client
        self.collection = collection
        self.params = params
        self.url = url  # the Chroma server, None for the embedded store
        self.home = home  # the data home, for messages about its disk

    @classmethod
    def open(cls, settings: StoreSettings, params: dict[str, Any], *, create: bool, rebuild: bool = False) -> Store:
        """Open (or create) the collection; raise if it was built with other params."""
        # A server holds its data elsewhere: only the embedded store has a folder to look for.
        if not create and not settings.chroma_url and not Paths.of(settings).chroma_dir.is_dir():
            raise IndexMissingError(f"no index at {settings.home}",
                                    "run `rag ingest` first" + read_only_note(settings.home))
        with reachable(settings.chroma_url), on_disk(None if settings.chroma_url else settings.home):
            return cls._open(settings, params, create=create, rebuild=rebuild)

    @classmethod
    def _open(cls, settings: StoreSettings, params: dict[str, Any], *, create: bool, rebuild: bool) -> Store:
        client = _client(settings)
        name, url, where = settings.collection, settings.chroma_url, Paths.of(settings).where()
        exists = name in {c if isinstance(c, str) else c.name for c in client.list_collections()}
        if exists and rebuild:
            client.delete_collection(name)
            checkpoint("store:rebuild-dropped")
            exists = False
        if not exists:
            if not create:
                raise IndexMissingError(f"no index at {where}", "run `rag ingest` first")
            col = client.create_collection(
                name, metadata=params, configuration={"hnsw": HNSW}, embedding_function=None
            )
            return cls(client, col, params, url, settings.home)
        col = client.get_collection(name, embedding_function=None)
        built = {k: v for k, v in (col.metadata or {}).items() if k in params}
        if built != params:
            diff = ", ".join(f"{k}: index={built.get(k)!r} now={params[k]!r}" for k in params if built.get(k) != params[k])
            raise IndexMismatchError(
                f"the index at {where} was built with other settings ({diff})",
                "run `rag ingest --rebuild` to rebuild it, or restore the settings it was built with",
            )
        return cls(client, col, params, url, settings.home)

    def reopen(self, settings: StoreSettings) -> Store:
        """The same collection through a new client, so what another process wrote since is read. An embedded
        Chroma keeps the vector index it loaded for as long as a client of that folder is open in this process:
        this client is closed first (the folder's last one: Chroma then drops what it loaded). A server is always
        current: the same store is returned."""
        if self.url is not None:
            return self
        self.client.close()
        with on_disk(settings.home):
            return Store._open(settings, self.params, create=False, rebuild=False)

    @_guarded
    def marker(self) -> str | None:
        """The content digest the last completed ingest recorded (None while an ingest is writing)."""
        meta = self.client.get_collection(self.collection.name, embedding_function=None).metadata or {}
        return meta.get(MARKER) or None

    @_guarded
    def set_marker(self, value: str | None) -> None:
        """Record the content digest (or clear it before writing)."""
        self.collection.modify(metadata={**self.params, MARKER: value or ""})

    @_guarded
    def count(self) -> int:
        """Number of stored chunks."""
        return self.collection.count()

    @_guarded
    def snapshot(self) -> tuple[list[str], list[dict]]:
        """Every chunk id with its metadata: one read that serves papers() and digest()."""
        got = self._get_all(["metadatas"])
        return got["ids"], [_unpacked(m)[0] for m in got["metadatas"]]

    def fingerprint(self) -> str:
        """A digest of what the collection holds now (chunk ids and their paper hashes)."""
        return digest(*self.snapshot())

    def papers(self, snapshot: tuple[list[str], list[dict]] | None = None) -> dict[str, StoredPaper]:
        """paper_id -> what is stored for it, read from chunk metadata."""
        out: dict[str, StoredPaper] = {}
        for meta in (snapshot or self.snapshot())[1]:
            pid = meta["paper_id"]
            sp = out.get(pid)
            if sp is None:
                out[pid] = sp = StoredPaper(meta["paper_hash"], int(meta["n_chunks"]), 0, str(meta.get("files", "")))
            elif sp.paper_hash != meta["paper_hash"]:
                sp.mixed = True
            sp.found += 1
        return out

    @_guarded
    def upsert(self, ids: list[str], vectors: np.ndarray, documents: list[str], metadatas: list[dict]) -> None:
        """Insert or replace chunks, in batches. Each chunk's metadata and text are one JSON field (RECORD), with
        the fields Chroma filters on beside it; the text is not a Chroma document. A local Chroma builds a
        full-text index of documents on every write (60% of an upsert's time) and an index row per metadata
        field (18% more at 20k chunks); nothing here uses either: BM25 is the side index's."""
        for i in range(0, len(ids), BATCH):
            self.collection.upsert(
                ids=ids[i : i + BATCH],
                embeddings=vectors[i : i + BATCH],
                metadatas=[_packed(m, d) for m, d in zip(metadatas[i : i + BATCH], documents[i : i + BATCH])],
            )

    @_guarded
    def delete_papers(self, paper_ids: list[str]) -> None:
        """Remove every chunk of these papers."""
        for i in range(0, len(paper_ids), BATCH):
            self.collection.delete(where={"paper_id": {"$in": paper_ids[i : i + BATCH]}})

    @_guarded
    def delete_ids(self, ids: list[str]) -> None:
        """Remove these chunks."""
        for i in range(0, len(ids), BATCH):
            self.collection.delete(ids=ids[i : i + BATCH])

    @_guarded
    def all_chunks(self) -> tuple[list[str], list[str], list[dict], np.ndarray]:
        """Every chunk's id, text, metadata and vector, all at once (tests and benchmarks; the side index reads
        pages())."""
        import numpy as np

        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict] = []
        vectors = []
        for page in self.pages():
            ids += page[0]
            docs += page[1]
            metas += page[2]
            vectors.append(page[3])
        return ids, docs, metas, np.concatenate(vectors) if vectors else np.zeros(0, dtype=np.float32)

    def pages(self, size: int = READ_PAGE) -> Iterator[tuple[list[str], list[str], list[dict], np.ndarray]]:
        """Every chunk's id, text, metadata and vector, size records at a time (so a 100k-paper collection is
        never held twice in memory)."""
        import numpy as np

        for got in self._pages(["documents", "metadatas", "embeddings"], size):
            both = [_unpacked(m) for m in got["metadatas"]]
            metas = [m for m, _ in both]
            # chunks written by earlier releases keep their text in Chroma's documents
            docs = [t or (d or "") for (_, t), d in zip(both, got["documents"] or [None] * len(both))]
            yield got["ids"], docs, metas, np.asarray(got["embeddings"], dtype=np.float32).reshape(len(metas), -1)

    @_guarded
    def vectors(self, ids: list[str]) -> np.ndarray:
        """The stored vectors of these chunks, in this order."""
        import numpy as np

        out = []
        if not ids:
            return np.zeros((0, int(self.params["dim"])), dtype=np.float32)
        for i in range(0, len(ids), READ_PAGE):
            got = self.collection.get(ids=ids[i : i + READ_PAGE], include=["embeddings"])
            at = dict(zip(got["ids"], got["embeddings"]))
            out += [at[cid] for cid in ids[i : i + READ_PAGE]]
        return np.asarray(out, dtype=np.float32).reshape(len(ids), -1)

    def _pages(self, include: list[str], size: int = READ_PAGE) -> Iterator[dict[str, list]]:
        """Every record, in pages: one unpaged get of 100k chunks fails in the embedded store ("too many SQL
        variables", found by bench/scale.py)."""
        offset = 0
        while True:
            with reachable(self.url), on_disk(None if self.url else self.home):  # a generator: _guarded cannot
                got = self.collection.get(include=include, limit=size, offset=offset)
            if got["ids"]:
                yield got
            offset += len(got["ids"])
            if len(got["ids"]) < size:
                return

    def _get_all(self, include: list[str]) -> dict[str, list]:
        """Every record, read in pages."""
        out: dict[str, list] = {"ids": [], **{key: [] for key in include}}
        for got in self._pages(include):
            for key in out:
                out[key].extend(got[key] if got[key] is not None else [])
        return out

    @_guarded
    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Nearest chunks as (id, cosine similarity), best first. Ids only: documents come from the side index."""
        res = self.collection.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        return [(cid, 1.0 - dist) for cid, dist in zip(res["ids"][0], res["distances"][0])]


def _packed(meta: dict, text: str) -> dict:
    """A chunk's Chroma metadata: its record (metadata and text) as JSON, and the fields Chroma filters on."""
    import json

    return {**{k: meta[k] for k in FILTERED if k in meta}, RECORD: json.dumps({**meta, TEXT: text})}


def _unpacked(stored: dict) -> tuple[dict, str | None]:
    """(metadata, text) of a chunk as stored; chunks of earlier releases have flat metadata (text there or in
    Chroma's documents: None)."""
    import json

    if RECORD in stored:
        meta = json.loads(stored[RECORD])
    else:
        meta = dict(stored)
    return meta, meta.pop(TEXT, None)


# ef_search well above the candidates fetched per query (RAG_CANDIDATES, 100): at Chroma's default (100) the
# tail of a 100-candidate query is approximate, and because the graph is built by several threads the
# same corpus gave different rankings on every fresh build (found by `rag eval`). Costs < 1 ms a query.
HNSW = {"space": "cosine", "ef_search": 400}


def digest(ids: list[str], metas: list[dict]) -> str:
    """Order-free digest of chunk ids and their paper hashes."""
    import hashlib

    h = hashlib.sha1()
    for cid, paper_hash in sorted(zip(ids, (m.get("paper_hash", "") for m in metas))):
        h.update(f"{cid}={paper_hash};".encode())
    return h.hexdigest()


def _client(settings: StoreSettings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    if settings.chroma_url:
        return _server_client(settings)
    try:
        Paths.of(settings).chroma_dir.mkdir(parents=True, exist_ok=True)
        # Chroma writes to its sqlite file on every open (even to read): a read-only home fails here
        return chromadb.PersistentClient(
            path=str(Paths.of(settings).chroma_dir), settings=ChromaSettings(anonymized_telemetry=False)
        )
    except OSError as e:
        raise data_home_error(e, settings.home) or RagError(
            f"cannot open the index folder {Paths.of(settings).chroma_dir}: {e}", "check RAG_HOME") from e


def _server_client(settings: StoreSettings) -> Any:
    """An HttpClient for RAG_CHROMA_URL (with the token if one is set); checks the server answers."""
    import logging
    from urllib.parse import urlsplit

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    # Something in the stack sets the root logger to INFO; httpx would print every request on stderr.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    url = str(settings.chroma_url)
    parts = urlsplit(url if "://" in url else f"http://{url}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise ConfigError(f"RAG_CHROMA_URL={url!r} is not an http(s) URL", "use e.g. http://127.0.0.1:8000")
    ssl = parts.scheme == "https"
    extra: dict[str, Any] = {}
    if settings.chroma_token is not None:
        extra = {
            "chroma_client_auth_provider": "chromadb.auth.token_authn.TokenAuthClientProvider",
            "chroma_client_auth_credentials": settings.chroma_token.get_secret_value(),
            "chroma_auth_token_transport_header": settings.chroma_token_header,
        }
    try:
        client = chromadb.HttpClient(host=parts.hostname, port=port or (443 if ssl else 8000), ssl=ssl,
                                     settings=ChromaSettings(anonymized_telemetry=False, **extra))
    except ValueError as e:  # chromadb reports an unreachable server (and a malformed token) as ValueError
        if "connect" not in str(e).lower():
            raise ConfigError(f"cannot use RAG_CHROMA_TOKEN: {e}", "check the token") from e
        raise StoreUnavailableError(
            f"cannot reach the Chroma server at {url}",
            SERVER_HINT,
        ) from e
    # chromadb's HTTP session never times out; a hung server would hang every search.
    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is not None:
        import httpx

        session.timeout = httpx.Timeout(settings.chroma_timeout)
    return client
