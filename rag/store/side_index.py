"""The BM25 side index of the store: the chunk table, BM25 over it, and dense-score statistics.

Built from what Chroma holds (or updated by the ingest that wrote it) and saved with the store's
fingerprint, so a side index that no longer agrees with Chroma (another ingest, another client) is
rebuilt, never used. It lets a search ask Chroma for ids and distances only (fast) and standardise both
retrievers' scores over the whole corpus.

On disk (side_index_dir): segments (`seg-*`, rag/store/lexical.py), written once and never changed, and
versions (`v-*`: which segments, which of their chunks are deleted, the vocabulary, the dense statistics,
the fingerprint); `current` names the version in use and is switched by one atomic rename. An update
writes one new segment and one new version: its cost grows with the change, not with the corpus.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
import weakref
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.faultpoints import checkpoint
from rag.store.faults import data_home_error
from rag.store import lexical
from rag.store.lexical import Scorer, Segment, SegmentBuilder, Vocab, merge
from rag.store.paths import Paths
from rag.text.dates import DateRange
from rag.store.surface import NameIndex

if TYPE_CHECKING:
    from rag.store.chroma import Store

ALL_DATES = DateRange()
CURRENT = "current"  # names the saved version folder in use
MAX_SEGMENTS = 8  # more after an update: the smallest ones are merged into one
MAX_DELETED = 0.25  # a segment with a larger share of deleted chunks is rewritten without them
_LOADED: weakref.WeakValueDictionary[str, Segment] = weakref.WeakValueDictionary()  # saved segments in use


def fingerprint_suffix(k1: float, b: float) -> str:
    """What the fingerprint adds to the store's content digest: the BM25 settings and the index layout."""
    return f"|bm25 k1={k1} b={b} pairs segments"


class DenseStats:
    """Count, sum and sum of outer products of the chunk vectors: mean and covariance, updatable both ways."""

    def __init__(self, dim: int, n: int = 0, s1: np.ndarray | None = None, s2: np.ndarray | None = None) -> None:
        self.dim, self.n = dim, n
        self.s1 = np.zeros(dim) if s1 is None else s1
        self.s2 = np.zeros((dim, dim)) if s2 is None else s2

    def add(self, vectors: np.ndarray, sign: int = 1) -> None:
        """Count these vectors in (sign 1) or out (sign -1)."""
        v = np.asarray(vectors, dtype=np.float64).reshape(-1, self.dim)
        self.n += sign * len(v)
        self.s1 = self.s1 + sign * v.sum(axis=0)
        self.s2 = self.s2 + sign * (v.T @ v)

    def copy(self) -> DenseStats:
        """An independent copy."""
        return DenseStats(self.dim, self.n, self.s1.copy(), self.s2.copy())

    @property
    def mean(self) -> np.ndarray:
        return self.s1 / self.n if self.n else np.zeros(self.dim)

    @property
    def cov(self) -> np.ndarray:
        """Population covariance (np.cov with bias=True)."""
        if self.n < 2:
            return np.zeros((self.dim, self.dim))
        return self.s2 / self.n - np.outer(self.mean, self.mean)


class SideIndex:
    """Chunk ids, texts and metadata in position order, BM25 over them, and the mean/covariance of the vectors."""

    def __init__(self, segments: list[Segment], live: list[np.ndarray], vocab: Vocab, stats: DenseStats,
                 fingerprint: str, k1: float = 1.2, b: float = 0.75) -> None:
        self.segments, self.live, self.vocab, self.stats = segments, live, vocab, stats
        self.k1, self.b = k1, b
        self.fingerprint = fingerprint
        self.scorer = Scorer(segments, live, vocab, k1, b)
        self.ids: list[str] = []
        self.metas: list[dict] = []
        for seg, keep in zip(segments, live):
            if keep.all():
                self.ids += seg.ids
                self.metas += seg.metas
            else:
                idx = np.flatnonzero(keep).tolist()
                self.ids += [seg.ids[i] for i in idx]
                self.metas += [seg.metas[i] for i in idx]
        self.mean, self.cov = stats.mean, stats.cov
        self.position = {cid: i for i, cid in enumerate(self.ids)}
        self.paper_ids = [m["paper_id"] for m in self.metas]  # position -> paper id
        self.paper_positions: dict[str, list[int]] = {}  # paper id -> positions of its chunks, in position order
        for pos, pid in enumerate(self.paper_ids):
            self.paper_positions.setdefault(pid, []).append(pos)
        self.date_ints = np.array([int(m.get("date_int", 0)) for m in self.metas], dtype=np.int64)
        self._paper_counts: dict[DateRange, int] = {}

    @cached_property
    def docs(self) -> list[str]:
        """Chunk texts in position order (read from the saved segments on first use)."""
        out: list[str] = []
        for seg, keep in zip(self.segments, self.live):
            out += seg.docs if keep.all() else [seg.docs[i] for i in np.flatnonzero(keep).tolist()]
        return out

    @cached_property
    def names(self) -> NameIndex:
        """Where names occur in the chunks and titles (rag/store/surface.py)."""
        return NameIndex(self)

    def mentions(self, key: str) -> dict[str, tuple[int, bool]]:
        """paper id -> (occurrences of a name's surface key in its chunks, whether its title has it)."""
        return self.names.mentions(key)

    def mentioned_by(self, key: str, limit: int) -> int:
        """How many papers mention a name's surface key, exactly up to limit, else limit + 1."""
        return self.names.mentioned_by(key, limit)

    def spellings(self, words: list[str]) -> list[str]:
        """How the abstracts write a run of words ("ring attention" -> ["RingAttention", ...])."""
        return self.names.spellings(words)

    @property
    def digest(self) -> str:
        """The store content digest this index was built from (the fingerprint without the BM25 settings)."""
        return self.fingerprint.split("|", 1)[0]

    @classmethod
    def build(cls, ids: list[str], docs: list[str], metas: list[dict], vectors: np.ndarray, fingerprint: str,
              dim: int, k1: float = 1.2, b: float = 0.75) -> SideIndex:
        """Index the given chunks (possibly none) as one segment."""
        return cls.empty(dim, k1, b).updater().add(ids, docs, metas, vectors).finish(fingerprint)

    @classmethod
    def empty(cls, dim: int, k1: float = 1.2, b: float = 0.75) -> SideIndex:
        """An index of no chunks (what an empty store has)."""
        return cls([], [], Vocab(), DenseStats(dim), "", k1, b)

    def updater(self) -> Update:
        """A change to this index; the index itself never changes (searches may be using it)."""
        return Update(self)

    def bm25_scores(self, tokens: list[str], pair_weight: float = 0.0) -> np.ndarray:
        """BM25 score of every chunk for the query tokens, plus pair_weight times the score of its term pairs."""
        return self.scorer.scores(tokens, pair_weight)

    def containing(self, tokens: list[str]) -> np.ndarray:
        """Positions of the chunks whose stemmed terms contain these as a phrase (tokens as `tokenize` gives)."""
        return self.scorer.containing(tokens)

    def terms_at(self, position: int, terms: frozenset[str]) -> set[str]:
        """Which of the stemmed terms the chunk at position contains (read from the postings, not the text)."""
        return self.scorer.terms_at(position, terms)

    def idf(self, terms: set[str] | frozenset[str]) -> dict[str, float]:
        """BM25 idf of each term over the chunks; a term the corpus never uses gets the highest idf."""
        return {t: self.scorer.idf(self.scorer.df(t)) for t in terms}

    def knows(self, term: str) -> bool:
        """Whether any chunk contains the stemmed term."""
        return self.scorer.df(term) > 0

    def paper_count(self, dates: DateRange = ALL_DATES) -> int:
        """How many papers have a chunk in the date range (computed once per range: the index never changes)."""
        if dates not in self._paper_counts:
            mask = dates.mask(self.date_ints)
            self._paper_counts[dates] = len({pid for pid, ok in zip(self.paper_ids, mask.tolist()) if ok})
        return self._paper_counts[dates]

    def dense_stats(self, query_vec: np.ndarray) -> tuple[float, float]:
        """Mean and standard deviation of the query's cosine with every chunk, exactly, without scoring them."""
        q = np.asarray(query_vec, dtype=np.float64)
        return float(q @ self.mean), float(np.sqrt(max(q @ self.cov @ q, 1e-12)))



    # ------------------------------------------------------------------ on disk

    def save(self, folder: Path) -> None:
        """Write the segments not yet on disk and a new version naming them, then point `current` at it.

        Savers take turns (a file lock): an ingest and an app that found the side index stale may both save.
        A reader sees either the old version or the new one, whole; one that was still reading a version a
        saver just removed finds it gone and reads `current` again."""
        from filelock import FileLock

        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / ".save.lock")):
            for seg in self.segments:
                if not (folder / seg.name).is_dir():
                    tmp = folder / f".tmp-{seg.name}"
                    shutil.rmtree(tmp, ignore_errors=True)
                    seg.save(tmp)
                    tmp.rename(folder / seg.name)
                    seg.saved_in(folder / seg.name)
            name = f"v-{uuid.uuid4().hex[:12]}"
            tmp = folder / f".tmp-{name}"
            tmp.mkdir()
            try:
                np.savez(tmp / "dense.npz", n=self.stats.n, s1=self.stats.s1, s2=self.stats.s2)
                with open(tmp / "vocab.json", "w") as f:
                    json.dump(self.vocab.terms, f)
                manifest = {"fingerprint": self.fingerprint, "k1": self.k1, "b": self.b, "segments": [
                    {"name": seg.name, "deleted": np.flatnonzero(~keep).tolist()}
                    for seg, keep in zip(self.segments, self.live)]}
                (tmp / "manifest.json").write_text(json.dumps(manifest))
                tmp.rename(folder / name)
                pointer = folder / f".current-{name}"
                pointer.write_text(name)
                checkpoint("side-index:before-switch")
                os.replace(pointer, folder / CURRENT)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            used = {name} | {seg.name for seg in self.segments}
            for old in folder.iterdir():  # earlier versions, merged-away segments, leftovers of a killed save
                if old.is_dir() and old.name not in used and old.name.startswith(("v-", "seg-", ".tmp-")):
                    shutil.rmtree(old, ignore_errors=True)
            for stale in ("chunks.json", "dense_stats.npz"):  # the flat layout of earlier releases
                (folder / stale).unlink(missing_ok=True)

    @staticmethod
    def version(folder: Path) -> Path | None:
        """The folder of the saved version `current` points at, or None."""
        try:
            name = (folder / CURRENT).read_text().strip()
        except OSError:
            return None
        return folder / name if name.startswith("v-") else None

    @classmethod
    def manifest_file(cls, folder: Path) -> Path:
        """The saved version's manifest (a path that does not exist when nothing is saved)."""
        return (cls.version(folder) or folder) / "manifest.json"

    @classmethod
    def saved_fingerprint(cls, folder: Path) -> str | None:
        """The fingerprint of the saved version, or None."""
        try:
            return json.loads(cls.manifest_file(folder).read_text()).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            return None

    @classmethod
    def load(cls, folder: Path, fingerprint: str) -> SideIndex | None:
        """The saved index if it matches the fingerprint, else None. Segments this process already holds are
        reused, so following another process's update reads only what it added."""
        for _ in range(3):  # a saver may remove the version being read: read `current` again
            version = cls.version(folder)
            if version is None:
                return None
            try:
                manifest = json.loads((version / "manifest.json").read_text())
                if manifest.get("fingerprint") != fingerprint:
                    return None
                with np.load(version / "dense.npz") as z:
                    stats = DenseStats(len(z["s1"]), int(z["n"]), z["s1"], z["s2"])
                vocab = Vocab(json.loads((version / "vocab.json").read_text()))
                segments, live = [], []
                for entry in manifest["segments"]:
                    seg = _LOADED.get(str(folder / entry["name"]))
                    if seg is None:
                        seg = _LOADED[str(folder / entry["name"])] = Segment.load(folder / entry["name"])
                    keep = np.ones(len(seg), dtype=bool)
                    keep[np.asarray(entry["deleted"], dtype=np.int64)] = False
                    segments.append(seg)
                    live.append(keep)
                return cls(segments, live, vocab, stats, fingerprint, manifest["k1"], manifest["b"])
            except (OSError, ValueError, KeyError, IndexError, TypeError):
                continue
        return None


class Update:
    """Chunks added (streamed in batches) and removed; finish() gives the new SideIndex."""

    def __init__(self, base: SideIndex) -> None:
        self.base = base
        self.builder = SegmentBuilder(base.vocab.copy())
        self.stats = base.stats.copy()
        self.removed: set[str] = set()

    def add(self, ids: list[str], docs: list[str], metas: list[dict], vectors: np.ndarray) -> Update:
        """New chunks (a chunk id the index already has replaces that chunk)."""
        self.builder.add(ids, docs, metas)
        self.stats.add(vectors)
        return self

    def remove(self, ids: list[str], vectors: np.ndarray) -> Update:
        """Chunks that are gone or overwritten, with the vectors they had (for the dense statistics)."""
        known = [cid for cid in ids if cid in self.base.position and cid not in self.removed]
        if len(known) != len(ids) or len(set(ids)) != len(ids):
            raise ValueError("remove() takes distinct chunk ids the index holds")
        self.removed.update(ids)
        self.stats.add(vectors, sign=-1)
        return self

    def finish(self, fingerprint: str | None = None) -> SideIndex:
        """The updated index; segments are merged when there are too many, or rewritten when too many of their
        chunks are deleted. fingerprint: by default the digest of the chunks it holds, with the BM25 settings."""
        from rag.store.chroma import digest

        base = self.base
        added = set(self.builder.added)
        replaced = self.removed | added
        missing = added - self.removed - set(base.position)
        if len(replaced) != len(self.removed) + len(missing):
            raise ValueError("a chunk added over one the index holds must be removed first (with its vector)")
        segments = list(base.segments)
        live = [keep.copy() for keep in base.live]
        for i, seg in enumerate(segments):
            if replaced and live[i].any():
                gone = np.fromiter((cid in replaced for cid in seg.ids), dtype=bool, count=len(seg))
                live[i] &= ~gone
        for new in self.builder.segments():
            segments.append(new)
            live.append(np.ones(len(new), dtype=bool))
        segments, live = _compacted(segments, live)
        index = SideIndex(segments, live, self.builder.vocab, self.stats, fingerprint or "", base.k1, base.b)
        if fingerprint is None:
            index.fingerprint = digest(index.ids, index.metas) + fingerprint_suffix(base.k1, base.b)
        return index


def _compacted(segments: list[Segment], live: list[np.ndarray]) -> tuple[list[Segment], list[np.ndarray]]:
    """Segments kept small and few, at a cost that grows with the small ones, not the corpus: a segment with
    too many deleted chunks is rewritten alone (an empty one dropped); more than MAX_SEGMENTS, the smallest
    ones (under SEGMENT_CHUNKS live chunks) are merged into one, up to SEGMENT_CHUNKS chunks."""
    out: list[tuple[Segment, np.ndarray]] = []
    for seg, keep in zip(segments, live):
        kept = int(keep.sum())
        if kept and len(seg) - kept > MAX_DELETED * len(seg):
            seg, keep = merge([seg], [keep]), np.ones(kept, dtype=bool)
        if kept:
            out.append((seg, keep))
    if len(out) > MAX_SEGMENTS:
        small = sorted((i for i, (_, k) in enumerate(out) if k.sum() < lexical.SEGMENT_CHUNKS), key=lambda i: out[i][1].sum())
        take: list[int] = []
        for i in small:
            if len(take) >= 2 and (len(out) - len(take) + 1 <= MAX_SEGMENTS
                                   or sum(out[j][1].sum() for j in take) + out[i][1].sum() > lexical.SEGMENT_CHUNKS):
                break
            take.append(i)
        if len(take) >= 2:
            merged = merge([out[i][0] for i in take], [out[i][1] for i in take])
            out = [p for i, p in enumerate(out) if i not in take] + [(merged, np.ones(len(merged), dtype=bool))]
    return [s for s, _ in out], [k for _, k in out]


def refresh_side_index(paths: Paths, store: Store, k1: float, b: float, content_digest: str | None = None) -> SideIndex:
    """The side index for what the store holds now: loaded if still in step, else rebuilt (reading the
    collection page by page) and saved.

    The store's content digest is taken from the caller, else from the marker the last ingest left on
    the collection, else computed from a full read of the collection.
    """
    from rag.store.chroma import digest

    suffix = fingerprint_suffix(k1, b)
    current = content_digest or store.marker() or digest(*store.snapshot())
    index = SideIndex.load(paths.side_index_dir, current + suffix)
    if index is None:
        update = SideIndex.empty(int(store.params["dim"]), k1, b).updater()
        for ids, docs, metas, vectors in store.pages():
            update.add(ids, docs, metas, vectors)
        index = update.finish()
        save_side_index(index, paths)
    return index


def save_side_index(index: SideIndex, paths: Paths) -> None:
    """Save, or warn when the data home cannot take it: the side index is a cache of what Chroma holds, and
    a full or read-only home costs a rebuild next time, never a search. (A half-written version is never
    pointed at, so it is never loaded.)"""
    try:
        index.save(paths.side_index_dir)
    except OSError as e:
        fault = data_home_error(e, paths.home)
        if fault is None:
            raise
        logging.getLogger("rag").warning("could not save the search index: %s", fault.message)


def trusted_side_index(paths: Paths, store: Store, k1: float, b: float) -> SideIndex | None:
    """The saved side index when the store's marker says it is what the collection holds (and the chunk
    count agrees), else None. An ingest takes what is stored from it instead of reading every chunk's
    metadata from Chroma."""
    marker = store.marker()
    index = SideIndex.load(paths.side_index_dir, marker + fingerprint_suffix(k1, b)) if marker else None
    return index if index is not None and store.count() == len(index.ids) else None
