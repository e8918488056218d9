"""Papers -> chunks -> embeddings -> store, incremental by content hash, then BM25 in step with it.

Re-ingesting unchanged seeds writes nothing. Each chunk records its paper's hash and chunk count,
so an interrupted ingest is finished by the next run instead of leaving half a paper behind.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from rag.corpus.readers import corpus_files, load_corpus, read_file
from rag.errors import CorpusError
from rag.faultpoints import checkpoint
from rag.embed.base import Embedder, get_embedder
from rag.embed.cache import cached
from rag.ingestion.lock import Notify, ingest_lock
from rag.store.chroma import Store, StoredPaper, build_params, digest
from rag.store.paths import Paths
from rag.store.side_index import SideIndex, Update, refresh_side_index, save_side_index, trusted_side_index
from rag.ingestion.chunking import chunk_paper, paper_hash, splitter
from rag.ingestion.sources import Sources
from rag.types import Chunk, Paper, Problem

if TYPE_CHECKING:
    from rag.config import Settings

Progress = Callable[[int, int], None]  # (done, total) chunks embedded and stored


@dataclass
class IngestSummary:
    """What one ingest did; `rag ingest --json` prints this."""

    papers: int = 0
    records: int = 0
    chunks: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    kept_unreadable: int = 0  # papers kept because their seed file could not be read this time
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    # the files this ingest was asked to add: name, origin, format, records, status (added/updated/unchanged)
    sources: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)


def ingest(
    settings: Settings, paths: list[Path] | None = None, *, add: list[Path] | None = None, uploaded: bool = False,
    rebuild: bool = False, progress: Progress | None = None, on_wait: Notify | None = None,
) -> IngestSummary:
    """Bring the store in line with the seeds (paths, else RAG_SEEDS) plus the user's sources; returns what changed.

    add: files or folders to keep as new sources first (a copy under RAG_HOME/sources; a file that yields no
    paper is not kept, and says why); uploaded: they come from the app's upload, so a file of the same name
    replaces the one uploaded before (their paths are temporary). Holds the index's ingest lock throughout
    (on_wait is told once if another ingest holds it).
    """
    t0 = time.perf_counter()
    home = Paths.of(settings)
    with ingest_lock(home, settings.ingest_lock_timeout, on_wait):
        base = list(paths or [settings.seeds])
        sources = Sources(home)
        added, refused = _add_sources(sources, add or [], base, uploaded) if add else ([], [])
        kept = {sources.path(s): s for s in sources.list()}  # each copy -> its source (the manifest read once)
        copies = [p for p in kept if p.is_file()]
        # read inside the lock: a waiting ingest sees the latest files
        corpus = load_corpus(base + copies, names={p: s.name for p, s in kept.items()})
        if not corpus.papers:
            shown = "; ".join(str(p) for p in (refused + corpus.problems)[:3])
            raise CorpusError(
                f"no papers found in {', '.join(corpus.files)}" + (f" ({shown})" if shown else ""),
                "point `rag ingest` at the Daily Papers page dumps (seeds/) or files of papers; the index was left unchanged",
            )
        if refused and not added:
            shown = "; ".join(str(p) for p in refused[:3])
            raise CorpusError(f"nothing could be added from {', '.join(map(str, add))}: {shown}",
                              "each record needs a title and an abstract (see docs/usage.md#your-own-papers); "
                              "nothing was added and the index was left unchanged")
        missing = [Problem(s.name, 0, "the kept copy of this added source is gone; its papers are kept "
                           "(`rag sources remove` drops them, `rag ingest FILE` adds the file again)", False, True)
                   for p, s in kept.items() if p not in copies]
        problems = refused + corpus.problems + missing
        summary = IngestSummary(records=corpus.records, skipped=sum(p.count for p in problems if p.skipped),
                                problems=[str(p) for p in problems], sources=added)
        unreadable = {p.file for p in problems if p.whole_file}
        _sync(settings, corpus.papers, rebuild=rebuild, progress=progress, unreadable=unreadable, summary=summary)
    summary.seconds = round(time.perf_counter() - t0, 3)
    return summary


def remove_sources(settings: Settings, names: list[str], **kwargs: Any) -> IngestSummary:
    """Forget these added sources, then ingest: papers found only in them leave the index."""
    with ingest_lock(Paths.of(settings), settings.ingest_lock_timeout, kwargs.get("on_wait")):
        Sources(Paths.of(settings)).remove(names)
    return ingest(settings, **kwargs)


def _add_sources(sources: Sources, add: list[Path], base: list[Path],
                 uploaded: bool = False) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Keep each readable file of add as a source; (what was kept, the problems of files that were not).

    A file among the seeds (base) is read as a seed, not copied."""
    seeds = {f.resolve() for f in corpus_files([p for p in base if p.exists()])} if any(p.exists() for p in base) else set()
    taken = {f.name for f in seeds}
    done: list[dict[str, Any]] = []
    refused: list[Problem] = []
    for file in corpus_files(add):
        if file.resolve() in seeds:
            continue
        problems: list[Problem] = []
        records = read_file(file, problems)
        if not records:
            why = "; ".join(p.message.removesuffix("; file skipped") for p in problems[:2])
            if "no paper could be read" not in why:
                why = "no paper could be read" + (f" ({why})" if why else ": no record with a title and an abstract")
            refused.append(Problem(file.name, 0, f"{why}; file not added"))
            continue
        staged = sources.add(file, len(records), taken, uploaded)
        done.append({"name": staged.source.name, "origin": staged.source.origin, "format": staged.source.format,
                     "records": staged.source.records, "status": staged.status})
    return done, refused


def ingest_papers(
    settings: Settings, papers: list[Paper], *, rebuild: bool = False, progress: Progress | None = None,
    unreadable: set[str] | None = None, summary: IngestSummary | None = None, on_wait: Notify | None = None,
) -> IngestSummary:
    """Bring the store in line with these papers, taken as the whole corpus (the seeds, or a benchmark's)."""
    with ingest_lock(Paths.of(settings), settings.ingest_lock_timeout, on_wait):
        return _sync(settings, papers, rebuild=rebuild, progress=progress, unreadable=unreadable, summary=summary)


def _sync(
    settings: Settings, papers: list[Paper], *, rebuild: bool, progress: Progress | None,
    unreadable: set[str] | None, summary: IngestSummary | None,
) -> IngestSummary:
    """ingest_papers' work, under the lock.

    Crash safety (tests/test_ingest_kill.py SIGKILLs it anywhere): the marker is cleared before the first
    write and set after the last, each batch is one Chroma write, each chunk names its paper's hash and
    chunk count, so a rerun redoes exactly the papers that are missing, partial or stale.
    """
    t0 = time.perf_counter()
    embedder: Embedder = get_embedder(settings)
    if settings.embed_cache:
        embedder = cached(embedder, Paths.of(settings).embed_cache(embedder.name, settings.embed_cache_dir))
    params = build_params(settings, embedder.name, embedder.dim)
    store = Store.open(settings, params, create=True, rebuild=rebuild)
    paths = Paths.of(settings)
    k1, b = settings.bm25_k1, settings.bm25_b
    # What is stored: from the saved side index when the marker vouches for it (no read of Chroma), else
    # from every chunk's metadata (after an interrupted ingest, or when the side index is gone).
    base = trusted_side_index(paths, store, k1, b)
    snapshot = (base.ids, base.metas) if base is not None else store.snapshot()
    if base is None and not snapshot[0]:
        base = SideIndex.empty(embedder.dim, k1, b)  # an empty store: the side index is built as it is written
    stored = store.papers(snapshot)

    split = lru_cache(maxsize=1)(lambda: splitter(settings))
    summary = summary or IngestSummary(records=len(papers))
    summary.papers = len(papers)
    todo: list[Chunk] = []
    replace: list[str] = []
    for paper in papers:
        old = stored.get(paper.paper_id)
        if old and not old.mixed and old.paper_hash == paper_hash(paper, params) and old.found == old.n_chunks:
            summary.unchanged += 1
            summary.chunks += old.n_chunks
            continue
        chunks = chunk_paper(paper, settings, params, split)
        summary.chunks += len(chunks)
        if old:
            summary.updated += 1
            replace.append(paper.paper_id)
        else:
            summary.added += 1
        todo.extend(chunks)

    removed, kept = _removals(stored, {p.paper_id for p in papers}, unreadable or set())
    summary.removed, summary.kept_unreadable = len(removed), len(kept)

    wrote = bool(todo or replace or removed)
    update: Update | None = None
    if wrote:
        store.set_marker(None)  # readers treat the collection as changed until the new digest is set
        checkpoint("ingest:marker-cleared")
        if base is not None:
            # The side index is updated, not rebuilt: it loses the chunks being replaced or removed (with their
            # vectors, read before they are overwritten) and gains a segment of the new ones as they are written.
            going = set(replace) | set(removed)
            gone = [cid for cid, meta in zip(*snapshot) if meta["paper_id"] in going]
            update = base.updater().remove(gone, store.vectors(gone))
    # New versions overwrite the old chunk ids in place first; only then do the old versions' extra chunks go.
    # So a write that fails part-way (a full disk) leaves every paper findable, and a rerun repairs the
    # papers it left mixed (StoredPaper.mixed) or short.
    _embed_and_store(store, embedder, todo, settings.ingest_batch, progress, update)
    fresh = {c.chunk_id for c in todo}
    redo = set(replace)
    stale = [cid for cid, meta in zip(*snapshot) if meta["paper_id"] in redo and cid not in fresh]
    if stale:
        checkpoint("ingest:stale-delete")
        store.delete_ids(stale)
    if removed:
        checkpoint("ingest:removed-delete")
        store.delete_papers(removed)
    if update is not None:
        index = update.finish()
        save_side_index(index, paths)
    elif base is not None:
        index = base  # nothing was written
    else:
        index = refresh_side_index(paths, store, k1, b, None if wrote else digest(*snapshot))
    checkpoint("ingest:before-marker")
    if wrote or store.marker() != index.digest:
        store.set_marker(index.digest)
    checkpoint("ingest:marker-set")
    summary.seconds = round(time.perf_counter() - t0, 3)
    return summary


def _removals(stored: dict[str, StoredPaper], current: set[str], unreadable: set[str]) -> tuple[list[str], list[str]]:
    """Stored papers no longer in the seeds: (to remove, to keep because their file was unreadable)."""
    gone = [pid for pid in stored if pid not in current]
    # Never delete a paper only because its seed file was unreadable this time: bad input loses nothing.
    kept = [pid for pid in gone if unreadable & set(stored[pid].files)]
    return [pid for pid in gone if pid not in kept], kept


def _embed_and_store(store: Store, embedder: Embedder, chunks: list[Chunk], size: int,
                     progress: Progress | None, update: Update | None) -> None:
    """Embed and upsert in batches of size chunks, so an interruption keeps every finished batch; the side
    index's update takes each batch as it is stored. (Writing in a thread while the next batch is embedded
    gains nothing: Chroma's local writes hold Python's lock. Measured at 5,000 papers: 7.6-8.0 s either way.)"""
    total = len(chunks)
    if progress:
        progress(0, total)
    for i in range(0, total, size):
        batch = chunks[i : i + size]
        ids, texts, metas = [c.chunk_id for c in batch], [c.text for c in batch], [c.metadata for c in batch]
        vectors = embedder.embed(texts)
        store.upsert(ids, vectors, texts, metas)
        checkpoint("ingest:batch-stored")
        if update is not None:
            update.add(ids, texts, metas, vectors)
        if progress:
            progress(min(i + size, total), total)
