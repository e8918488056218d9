"""The BM25 side index of the store: the chunk table, BM25 over it, and dense-score statistics.

Built from what Chroma holds and saved with the store's fingerprint, so a side index that no longer
agrees with Chroma (another ingest, another client) is rebuilt, never used. It lets a search ask
Chroma for ids and distances only (fast) and standardise both retrievers' scores over the whole corpus.
"""

from __future__ import annotations

import json
import logging
import os
import re
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.faultpoints import checkpoint
from rag.store.faults import data_home_error
from rag.store.paths import Paths
from rag.text.dates import DateRange
from rag.text.names import SurfaceIndex, is_name_token
from rag.text.terms import bigrams, load_bm25s, tokenize

if TYPE_CHECKING:
    from rag.store.chroma import Store


def _scores(model: Any, tokens: list[str], n: int) -> np.ndarray:
    known = [t for t in tokens if t in getattr(model, "vocab_dict", {})] if n else []
    if not known:
        return np.zeros(n, dtype=np.float64)
    return np.asarray(model.get_scores(known), dtype=np.float64)


ALL_DATES = DateRange()
NAME_WORD = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
SPELLINGS_MAX = 20  # matches read to tell how the corpus writes a run of words
CURRENT = "current"  # names the saved version folder in use


class SideIndex:
    """Chunk ids, texts and metadata in store order, a bm25s index, and the mean/covariance of the vectors."""

    def __init__(self, model: Any, pairs: Any, ids: list[str], docs: list[str], metas: list[dict], fingerprint: str,
                 mean: np.ndarray, cov: np.ndarray) -> None:
        self.model = model  # BM25 over stemmed terms
        self.pairs = pairs  # BM25 over adjacent term pairs
        self.ids = ids
        self.docs = docs
        self.metas = metas
        self.fingerprint = fingerprint
        self.mean = mean
        self.cov = cov
        self.position = {cid: i for i, cid in enumerate(ids)}
        self.paper_ids = [m["paper_id"] for m in metas]  # position -> paper id
        self.paper_positions: dict[str, list[int]] = {}  # paper id -> positions of its chunks, in store order
        for pos, pid in enumerate(self.paper_ids):
            self.paper_positions.setdefault(pid, []).append(pos)
        self.date_ints = np.array([int(m.get("date_int", 0)) for m in metas], dtype=np.int64)
        self._paper_counts: dict[DateRange, int] = {}

    @cached_property
    def _surface(self) -> tuple[SurfaceIndex, SurfaceIndex]:
        """Surface forms of the chunk texts and of the titles (built on first use: ~30 ms for the seeds)."""
        return SurfaceIndex(self.docs), SurfaceIndex([m.get("title", "") for m in self.metas])

    def mentions(self, key: str) -> dict[str, tuple[int, bool]]:
        """paper id -> (occurrences of a name's surface key in its chunks, whether its title has it)."""
        texts, titles = self._surface
        out: dict[str, tuple[int, bool]] = {}
        for pos, n in texts.find(key).items():
            pid = self.paper_ids[pos]
            out[pid] = (out.get(pid, (0, False))[0] + n, False)
        for pos in titles.find(key):
            pid = self.paper_ids[pos]
            out[pid] = (out.get(pid, (0, False))[0], True)
        return out

    @cached_property
    def _name_keys(self) -> frozenset[str]:
        """Surface keys of every name-shaped word of the chunks ("RingAttention", "LLaMA-Adapter", "GPTQ"), built on
        first use."""
        words = NAME_WORD.findall("\n".join(self.docs))
        return frozenset(w.replace("-", "").lower() for w in set(words) if is_name_token(w.replace("-", "")))

    def spellings(self, words: list[str], limit: int = SPELLINGS_MAX) -> list[str]:
        """How the abstracts write a run of words ("ring attention" -> ["RingAttention", ...]): the matches in the
        chunks that contain its surface key, with nothing, a space or a hyphen between the words, at most limit.
        Titles are left out: title case capitalises every word."""
        key = "".join(w.lower() for w in words)
        if key not in self._name_keys:  # the corpus never writes it as a name: no need to read how it writes it
            return []
        texts, _ = self._surface
        pattern = re.compile(r"\b" + r"[\s-]?".join(map(re.escape, words)) + r"s?\b", re.IGNORECASE)
        out: list[str] = []
        for pos in texts.find(key):
            out += [m.group() for m in pattern.finditer(self.docs[pos])]
            if len(out) >= limit:
                break
        return out[:limit]

    @property
    def digest(self) -> str:
        """The store content digest this index was built from (the fingerprint without the BM25 settings)."""
        return self.fingerprint.split("|", 1)[0]

    @classmethod
    def build(cls, ids: list[str], docs: list[str], metas: list[dict], vectors: np.ndarray, fingerprint: str,
              dim: int, k1: float = 1.2, b: float = 0.75) -> SideIndex:
        """Index the given chunks (possibly none)."""
        model, pairs = load_bm25s().BM25(k1=k1, b=b), load_bm25s().BM25(k1=k1, b=b)
        if docs:
            tokens = tokenize(docs)
            model.index(tokens, show_progress=False)
            pairs.index([bigrams(t) for t in tokens], show_progress=False)
        vectors = np.asarray(vectors, dtype=np.float64).reshape(len(ids), dim)
        mean = vectors.mean(axis=0) if len(ids) else np.zeros(dim)
        cov = np.cov(vectors, rowvar=False, bias=True) if len(ids) > 1 else np.zeros((dim, dim))
        return cls(model, pairs, ids, docs, metas, fingerprint, mean, np.atleast_2d(cov))

    def save(self, folder: Path) -> None:
        """Write everything into a new version folder, then point `current` at it (one atomic rename).

        Two processes may save at once (an ingest, and an app that found the side index stale): each writes
        its own version, so a chunks.json never describes another build's BM25 files, and a reader sees
        either the old version or the new one, whole."""
        import shutil
        import uuid

        folder.mkdir(parents=True, exist_ok=True)
        name = f"v-{uuid.uuid4().hex[:12]}"
        tmp = folder / f".tmp-{name}"
        tmp.mkdir()
        try:
            if self.docs:
                self.model.save(str(tmp / "bm25"))
                self.pairs.save(str(tmp / "bm25-pairs"))
            np.savez(tmp / "dense_stats.npz", mean=self.mean, cov=self.cov)
            (tmp / "chunks.json").write_text(json.dumps({"fingerprint": self.fingerprint, "ids": self.ids,
                                                          "docs": self.docs, "metas": self.metas}))
            tmp.rename(folder / name)
            pointer = folder / f".current-{name}"
            pointer.write_text(name)
            checkpoint("side-index:before-switch")
            os.replace(pointer, folder / CURRENT)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for old in folder.iterdir():  # earlier versions (a reader still loading one just rebuilds)
            if old.name != name and old.is_dir() and old.name.startswith("v-"):
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
    def chunks_file(cls, folder: Path) -> Path:
        """The saved version's chunks.json (a path that does not exist when nothing is saved)."""
        return (cls.version(folder) or folder) / "chunks.json"

    @classmethod
    def load(cls, folder: Path, fingerprint: str) -> SideIndex | None:
        """The saved index if it matches the fingerprint, else None."""
        bm25s = load_bm25s()
        version = cls.version(folder)
        if version is None:
            return None
        try:
            data = json.loads((version / "chunks.json").read_text())
            if data.get("fingerprint") != fingerprint:
                return None
            stats = np.load(version / "dense_stats.npz")
            model = bm25s.BM25.load(str(version / "bm25")) if data["docs"] else bm25s.BM25()
            pairs = bm25s.BM25.load(str(version / "bm25-pairs")) if data["docs"] else bm25s.BM25()
        except (OSError, ValueError, KeyError):
            return None
        return cls(model, pairs, data["ids"], data["docs"], data["metas"], fingerprint, stats["mean"], stats["cov"])

    def bm25_scores(self, tokens: list[str], pair_weight: float = 0.0) -> np.ndarray:
        """BM25 score of every chunk for the query tokens, plus pair_weight times the score of its term pairs."""
        scores = _scores(self.model, tokens, len(self.ids))
        if pair_weight:
            scores += pair_weight * _scores(self.pairs, bigrams(tokens), len(self.ids))
        return scores

    def idf(self, terms: set[str] | frozenset[str]) -> dict[str, float]:
        """BM25 idf of each term over the chunks; a term the corpus never uses gets the highest idf."""
        n = len(self.ids)
        vocab = getattr(self.model, "vocab_dict", {}) if n else {}
        indptr = self.model.scores["indptr"] if vocab else []
        out = {}
        for t in terms:
            i = vocab.get(t)
            df = int(indptr[i + 1] - indptr[i]) if i is not None and i + 1 < len(indptr) else 0
            out[t] = float(np.log1p((n - df + 0.5) / (df + 0.5)))
        return out

    def knows(self, term: str) -> bool:
        """Whether any chunk contains the stemmed term."""
        return bool(self.ids) and term in getattr(self.model, "vocab_dict", {})

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


def refresh_side_index(paths: Paths, store: Store, k1: float, b: float, content_digest: str | None = None) -> SideIndex:
    """The side index for what the store holds now: loaded if still in step, else rebuilt and saved.

    The store's content digest is taken from the caller, else from the marker the last ingest left on
    the collection, else computed from a full read of the collection.
    """
    from rag.store.chroma import digest

    suffix = f"|bm25 k1={k1} b={b} pairs"
    current = content_digest or store.marker() or digest(*store.snapshot())
    index = SideIndex.load(paths.side_index_dir, current + suffix)
    if index is None:
        ids, docs, metas, vectors = store.all_chunks()
        index = SideIndex.build(ids, docs, metas, vectors, digest(ids, metas) + suffix, int(store.params["dim"]), k1, b)
        try:
            index.save(paths.side_index_dir)
        except OSError as e:
            # The side index is a cache of what Chroma holds: a full or read-only home costs a rebuild next
            # time, never a search. (A half-written version is never pointed at, so it is never loaded.)
            fault = data_home_error(e, paths.home)
            if fault is None:
                raise
            logging.getLogger("rag").warning("could not save the search index: %s", fault.message)
    return index
