"""BM25 over segments: sets of chunks whose term counts never change once written.

An update adds a segment for the new chunks and marks the chunks it replaced or removed as deleted; nothing
else is rewritten. Scores are computed at query time from the raw counts, with the statistics of the live
chunks only (how many there are, how many contain the term, their average length), so after any sequence
of updates a search scores every chunk exactly as a full rebuild of the same corpus would. The formula is
bm25s's "lucene" variant, which the index used before (tests/test_lexical.py compares the two).

Terms are integer ids (a vocabulary shared by the segments of one index, only ever appended to); adjacent
term pairs are int64 keys (first id << 32 | second id), so the word-pair index never holds a string.
"""

from __future__ import annotations

import bisect
import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np

from rag.store.surface import SurfaceIndex
from rag.text.names import name_keys
from rag.text.terms import tokenize

PAIR_SHIFT = np.int64(32)
TOKENIZE_BATCH = 2000  # chunks tokenised at a time (bounds the memory of token strings)
SEGMENT_CHUNKS = 16384  # chunks per segment an ingest writes (bounds the memory of building one)


class Vocab:
    """Term <-> id, appended to only: ids of existing terms never change."""

    def __init__(self, terms: list[str] | None = None) -> None:
        self.terms: list[str] = list(terms or [])
        self.index = {t: i for i, t in enumerate(self.terms)}

    def __len__(self) -> int:
        return len(self.terms)

    def get(self, term: str) -> int | None:
        """The term's id, or None for a term no chunk ever had."""
        return self.index.get(term)

    def ids(self, tokens: list[str]) -> np.ndarray:
        """Ids of the tokens, adding new terms."""
        index, terms = self.index, self.terms
        out = np.empty(len(tokens), dtype=np.int32)
        for i, t in enumerate(tokens):
            tid = index.get(t)
            if tid is None:
                tid = index[t] = len(terms)
                terms.append(t)
            out[i] = tid
        return out

    def copy(self) -> Vocab:
        """A vocabulary to grow without changing this one (which a running search may be using)."""
        return Vocab(self.terms)


@dataclass
class Postings:
    """For each key (a term id, or a sorted pair key), the chunks that have it and how often, CSR-style."""

    ptr: np.ndarray  # int64, len(rows) + 1
    docs: np.ndarray  # int32 chunk index within the segment, ascending per key
    tf: np.ndarray  # uint16 occurrences
    keys: np.ndarray | None = None  # sorted int64 keys of the rows; None: row i is term id i

    def rows(self, key: int) -> slice | None:
        """The slice of docs/tf holding key, or None."""
        if self.keys is None:
            i = key
            if key >= len(self.ptr) - 1:
                return None
        else:
            i = int(np.searchsorted(self.keys, key))
            if i >= len(self.keys) or self.keys[i] != key:
                return None
        lo, hi = int(self.ptr[i]), int(self.ptr[i + 1])
        return slice(lo, hi) if hi > lo else None

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(key, doc, tf) of every entry."""
        counts = np.diff(self.ptr)
        rows = self.keys if self.keys is not None else np.arange(len(counts), dtype=np.int64)
        return np.repeat(rows, counts), self.docs, self.tf

    @classmethod
    def of_entries(cls, keys: np.ndarray, docs: np.ndarray, tf: np.ndarray | None, dense: bool) -> Postings:
        """From (key, doc[, tf]) entries whose docs never decrease; repeated (key, doc) entries are counted
        (tf None: each entry is one occurrence). dense: keys are term ids, one row per id up to the largest."""
        order = np.argsort(keys, kind="stable")  # stable: docs stay ascending within a key
        keys, docs = keys[order], docs[order]
        if tf is not None:
            tf = tf[order]
        if len(keys):
            new = np.ones(len(keys), dtype=bool)
            new[1:] = (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1])
            starts = np.flatnonzero(new)
            tf = np.diff(np.append(starts, len(keys))) if tf is None else np.add.reduceat(tf.astype(np.int64), starts)
            keys, docs = keys[starts], docs[starts]
        elif tf is None:
            tf = np.zeros(0, dtype=np.int64)
        tf = np.minimum(tf, np.iinfo(np.uint16).max).astype(np.uint16)
        docs = docs.astype(np.int32)
        if dense:
            counts = np.bincount(keys, minlength=int(keys.max()) + 1 if len(keys) else 0)
            return cls(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), docs, tf)
        uniq, first = np.unique(keys, return_index=True)
        return cls(np.append(first, len(keys)).astype(np.int64), docs, tf, uniq.astype(np.int64))

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays to save, named with prefix."""
        out = {f"{prefix}_ptr": self.ptr, f"{prefix}_docs": self.docs, f"{prefix}_tf": self.tf}
        if self.keys is not None:
            out[f"{prefix}_keys"] = self.keys
        return out

    @classmethod
    def from_arrays(cls, data: dict, prefix: str) -> Postings:
        """Inverse of arrays()."""
        keys = data[f"{prefix}_keys"] if f"{prefix}_keys" in data else None
        return cls(data[f"{prefix}_ptr"], data[f"{prefix}_docs"], data[f"{prefix}_tf"], keys)


def pair_keys(ids: np.ndarray) -> np.ndarray:
    """Keys of the adjacent term pairs of one chunk's term ids."""
    ids = ids.astype(np.int64)
    return (ids[:-1] << PAIR_SHIFT) | ids[1:] if len(ids) > 1 else np.zeros(0, dtype=np.int64)


class Segment:
    """Chunks (ids, texts, metadata) with their term and term-pair postings and lengths. Immutable."""

    def __init__(self, name: str, ids: list[str], docs: list[str] | Path, metas: list[dict], lengths: np.ndarray,
                 terms: Postings, pairs: Postings) -> None:
        self.name = name
        self.ids, self.metas = ids, metas
        self._docs = docs  # the texts, or the saved file they are read from on first use
        self._folder = docs.parent if isinstance(docs, Path) else None  # where it was saved
        self._reading = threading.Lock()
        self.lengths = lengths  # terms per chunk (the pair index's length is one less)
        self.terms, self.pairs = terms, pairs

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def docs(self) -> list[str]:
        """The chunk texts, read from disk on first use: an ingest that only needs what is stored never reads
        them."""
        if isinstance(self._docs, Path):
            with self._reading:
                if isinstance(self._docs, Path):
                    docs = json.loads(self._docs.read_text())
                    if len(docs) != len(self.ids):
                        raise ValueError(f"segment {self.name}: {len(docs)} texts for {len(self.ids)} chunks")
                    self._docs = docs
        return self._docs  # type: ignore[return-value]

    @cached_property
    def surface(self) -> SurfaceIndex:
        """Where names occur in this segment's texts (rag/store/surface.py): saved with the segment (built when it is
        written, by the ingest), read back on first use, so a search never builds one for the whole corpus (at 100k
        abstracts that took 7.5 s). A segment saved before it was is indexed from its texts on first use."""
        saved = SurfaceIndex.load(self._folder) if self._folder is not None else None
        return saved if saved is not None else SurfaceIndex(self.docs)

    @cached_property
    def name_keys(self) -> frozenset[str]:
        """Surface keys of the name-shaped words of this segment's texts (rag/text/names.py name_keys), saved with it
        like its surface."""
        try:
            if self._folder is not None:
                return frozenset(json.loads((self._folder / "name_keys.json").read_text()))
        except (OSError, ValueError):
            pass
        return frozenset(name_keys(self.docs))

    def save(self, folder: Path) -> None:
        """Write into folder/<name> (the caller renames a temporary folder into place). The JSON is written as
        it is encoded, never held whole in memory."""
        folder.mkdir(parents=True)
        np.savez(folder / "postings.npz", lengths=self.lengths, **self.terms.arrays("t"), **self.pairs.arrays("p"))
        with open(folder / "chunks.json", "w") as f:
            json.dump({"ids": self.ids, "metas": self.metas}, f)
        with open(folder / "docs.json", "w") as f:
            json.dump(self.docs, f)
        # built to be written, not kept: read back memory-mapped when a search needs it (an ingest at 100k chunks
        # held every segment's, +250 MB at its peak)
        surface = self.__dict__.get("surface") or SurfaceIndex(self.docs)
        surface.save(folder)
        with open(folder / "name_keys.json", "w") as f:
            json.dump(sorted(self.__dict__.get("name_keys") or name_keys(self.docs)), f)

    def saved_in(self, folder: Path) -> None:
        """The segment now lives in folder (renamed there by the caller after save): its surface is read from it."""
        self._folder = folder

    @classmethod
    def load(cls, folder: Path) -> Segment:
        """Read a saved segment, its texts on first use (OSError/ValueError/KeyError when it is missing or
        damaged)."""
        with np.load(folder / "postings.npz") as z:
            data = {k: z[k] for k in z.files}
        chunks = json.loads((folder / "chunks.json").read_text())
        if not len(chunks["ids"]) == len(chunks["metas"]) == len(data["lengths"]) or not _whole(folder / "docs.json"):
            raise ValueError(f"segment {folder.name} is inconsistent")
        return cls(folder.name, chunks["ids"], folder / "docs.json", chunks["metas"], data["lengths"],
                   Postings.from_arrays(data, "t"), Postings.from_arrays(data, "p"))

    @staticmethod
    def new_name() -> str:
        """A fresh segment name."""
        return f"seg-{uuid.uuid4().hex[:12]}"


def _whole(path: Path) -> bool:
    """Whether a saved JSON list is there and ends as one does (a cheap check before it is read on first use;
    saves never leave a partial file, so this catches a file damaged afterwards)."""
    with open(path, "rb") as f:
        f.seek(-1, 2)
        return f.read(1) == b"]"


class SegmentBuilder:
    """Collects chunks (in batches, tokenising as they come) into new segments of at most `limit` chunks, so
    building one never holds the postings of more chunks in the making (at 100k papers, one segment of all of
    them took ~1 GB while it was sorted)."""

    def __init__(self, vocab: Vocab, limit: int | None = None) -> None:
        self.vocab = vocab
        self.limit = limit or SEGMENT_CHUNKS
        self.added: list[str] = []  # every chunk id added, in order
        self.done: list[Segment] = []
        self._ids: list[str] = []
        self._docs: list[str] = []
        self._metas: list[dict] = []
        self._term_ids: list[np.ndarray] = []

    def add(self, ids: list[str], docs: list[str], metas: list[dict]) -> None:
        """Add chunks."""
        self.added += ids
        i = 0
        while i < len(ids):
            j = min(len(ids), i + TOKENIZE_BATCH, i + self.limit - len(self._ids))
            self._term_ids += [self.vocab.ids(t) for t in tokenize(docs[i:j])]
            self._ids += ids[i:j]
            self._docs += docs[i:j]
            self._metas += metas[i:j]
            if len(self._ids) >= self.limit:
                self._seal()
            i = j

    def segments(self) -> list[Segment]:
        """The segments of everything added."""
        self._seal()
        return self.done

    def _seal(self) -> None:
        """Build the segment of the chunks collected since the last one."""
        n = len(self._ids)
        if not n:
            return
        lengths = np.array([len(t) for t in self._term_ids], dtype=np.int32)
        docs = np.repeat(np.arange(n, dtype=np.int32), lengths)
        pairs = [pair_keys(t) for t in self._term_ids]
        pair_docs = np.repeat(np.arange(n, dtype=np.int32), [len(p) for p in pairs])
        terms = Postings.of_entries(np.concatenate(self._term_ids), docs, None, dense=True)
        self._term_ids = []
        del docs
        pair_postings = Postings.of_entries(np.concatenate(pairs), pair_docs, None, dense=False)
        self.done.append(Segment(Segment.new_name(), self._ids, self._docs, self._metas, lengths, terms, pair_postings))
        self._ids, self._docs, self._metas = [], [], []


def merge(segments: list[Segment], live: list[np.ndarray]) -> Segment:
    """One segment holding the live chunks of these (in order), from their postings: nothing is re-tokenised."""
    ids: list[str] = []
    docs: list[str] = []
    metas: list[dict] = []
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {"t": [], "p": []}
    lengths = []
    offset = 0
    for seg, keep in zip(segments, live):
        new_pos = np.full(len(seg), -1, dtype=np.int64)
        new_pos[keep] = np.arange(offset, offset + int(keep.sum()))
        for prefix, postings in (("t", seg.terms), ("p", seg.pairs)):
            k, d, tf = postings.triples()
            ok = keep[d]
            parts[prefix].append((k[ok], new_pos[d[ok]], tf[ok]))
        idx = np.flatnonzero(keep)
        ids += [seg.ids[i] for i in idx]
        docs += [seg.docs[i] for i in idx]
        metas += [seg.metas[i] for i in idx]
        lengths.append(seg.lengths[keep])
        offset += len(idx)

    def joined(prefix: str, dense: bool) -> Postings:
        ks, ds, ts = zip(*parts[prefix]) if parts[prefix] else ((), (), ())
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dtype=dt))
        # entries are in segment order, so docs never decrease within a key after the stable sort
        order = np.argsort(cat(ds, np.int64), kind="stable")
        return Postings.of_entries(cat(ks, np.int64)[order], cat(ds, np.int64)[order], cat(ts, np.int64)[order], dense)

    return Segment(Segment.new_name(), ids, docs, metas,
                   np.concatenate(lengths).astype(np.int32) if lengths else np.zeros(0, dtype=np.int32),
                   joined("t", True), joined("p", False))


class Scorer:
    """BM25 over the live chunks of some segments, in one position order (live chunks, segment by segment)."""

    def __init__(self, segments: list[Segment], live: list[np.ndarray], vocab: Vocab, k1: float, b: float) -> None:
        self.segments, self.vocab, self.k1, self.b = segments, vocab, k1, b
        self.positions = []  # per segment: chunk index -> position, -1 when deleted
        self.starts: list[int] = []  # per segment: the position of its first live chunk
        start = 0
        for seg, keep in zip(segments, live):
            pos = np.full(len(seg), -1, dtype=np.int64)
            pos[keep] = np.arange(start, start + int(keep.sum()))
            self.positions.append(pos)
            self.starts.append(start)
            start += int(keep.sum())
        self.n = start
        self.lengths = (np.concatenate([s.lengths[k] for s, k in zip(segments, live)]).astype(np.float64)
                        if segments else np.zeros(0))
        self.pair_lengths = np.maximum(self.lengths - 1, 0)
        self.avg = float(self.lengths.mean()) if self.n else 0.0
        self.pair_avg = float(self.pair_lengths.mean()) if self.n else 0.0

    def _postings(self, key: int, pairs: bool) -> tuple[np.ndarray, np.ndarray]:
        """(positions, tf) of the live chunks that have the key."""
        pos_parts, tf_parts = [], []
        for seg, posmap in zip(self.segments, self.positions):
            postings = seg.pairs if pairs else seg.terms
            rows = postings.rows(key)
            if rows is None:
                continue
            pos = posmap[postings.docs[rows]]
            keep = pos >= 0
            pos_parts.append(pos[keep])
            tf_parts.append(postings.tf[rows][keep])
        if not pos_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(pos_parts), np.concatenate(tf_parts).astype(np.float64)

    def containing(self, tokens: list[str]) -> np.ndarray:
        """Positions of the live chunks that contain the tokens as a phrase: the term itself, or every adjacent
        pair of a longer run (a run of three may match as two pairs apart; rare, and near enough here)."""
        ids = [self.vocab.get(t) for t in tokens]
        if not ids or any(i is None for i in ids):
            return np.zeros(0, dtype=np.int64)
        if len(ids) == 1:
            return np.unique(self._postings(ids[0], False)[0])
        found: np.ndarray | None = None
        for a, b in zip(ids, ids[1:]):
            pos = np.unique(self._postings((a << 32) | b, True)[0])  # as scores() keys pairs
            found = pos if found is None else np.intersect1d(found, pos, assume_unique=True)
            if not len(found):
                break
        return found if found is not None else np.zeros(0, dtype=np.int64)

    def terms_at(self, position: int, terms: Iterable[str]) -> set[str]:
        """Which of the terms the live chunk at position contains, from the postings (the chunk is not read)."""
        i = bisect.bisect_right(self.starts, position) - 1
        if not 0 <= position < self.n or i < 0:
            return set()
        seg, at, out = self.segments[i], int(np.flatnonzero(self.positions[i] >= 0)[position - self.starts[i]]), set()
        for t in terms:
            tid = self.vocab.get(t)
            rows = seg.terms.rows(tid) if tid is not None else None
            if rows is not None:
                docs = seg.terms.docs[rows]
                i = int(np.searchsorted(docs, at))
                if i < len(docs) and docs[i] == at:
                    out.add(t)
        return out

    def idf(self, df: int) -> float:
        """bm25s's lucene idf."""
        return float(np.log1p((self.n - df + 0.5) / (df + 0.5)))

    def df(self, term: str) -> int:
        """How many live chunks contain the term."""
        tid = self.vocab.get(term)
        return 0 if tid is None else len(self._postings(tid, False)[0])

    def scores(self, tokens: list[str], pair_weight: float = 0.0) -> np.ndarray:
        """BM25 of every live chunk for the query tokens (repeats count, as in bm25s), plus pair_weight times
        the BM25 of its adjacent term pairs."""
        out = np.zeros(self.n, dtype=np.float64)
        if not self.n or not tokens:
            return out
        ids = [self.vocab.get(t) for t in tokens]
        self._add(out, Counter(i for i in ids if i is not None), False, 1.0)
        if pair_weight:
            pairs = Counter((a << 32) | b for a, b in zip(ids, ids[1:]) if a is not None and b is not None)
            self._add(out, pairs, True, pair_weight)
        return out

    def _add(self, out: np.ndarray, keys: Iterable[tuple[int, int]] | Counter, pairs: bool, weight: float) -> None:
        lengths, avg = (self.pair_lengths, self.pair_avg) if pairs else (self.lengths, self.avg)
        if avg <= 0:
            return
        for key, times in keys.items():  # type: ignore[union-attr]
            pos, tf = self._postings(key, pairs)
            if not len(pos):
                continue
            norm = self.k1 * ((1 - self.b) + self.b * lengths[pos] / avg)
            out += np.bincount(pos, weights=(weight * times * self.idf(len(pos))) * tf / (norm + tf), minlength=self.n)
