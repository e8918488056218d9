"""Where names occur in a set of texts, by surface form (rag/text/names.py: case-folded, hyphens, spaces and dots
ignored): the name index each side-index segment keeps (rag/store/lexical.py), what eval's checks use, and
NameIndex, the lookups over a whole side index."""

from __future__ import annotations

import json
import re
from array import array
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from rag.text.names import TOKEN

if TYPE_CHECKING:
    from rag.store.side_index import SideIndex

MENTIONS_CACHED = 1024  # names whose mentions an index keeps (a question's names are looked up by search and answer)
SPELLINGS_MAX = 20  # matches read to tell how the corpus writes a run of words


class SurfaceIndex:
    """Where surface keys occur in a list of texts. A key is a name's tokens, case-folded and run together ("kvcache"
    for "KV cache", "KV-cache" or "KVCache"); it occurs where consecutive tokens of one text spell it exactly, so
    "rope" is not found in "Europe".

    Every token is numbered by a vocabulary and the texts kept as one int32 array of token numbers, with each
    number's occurrences sorted beside it: a lookup splits the key into known tokens every way it can and follows
    their occurrences, in numpy. Each side-index segment keeps its own, saved with it (rag/store/lexical.py).
    (It was one string of every token run together, a Python set of every token start and str.find: at 100k
    synthetic abstracts (bench/scale.py's), 20 s to build, 3.5 GB, ~300 ms a lookup of a common name; now 7.5 s
    to build, done by the ingest segment by segment, ~180 MB, read back memory-mapped; a lookup in all 8 segments
    ~1 ms for a rare name, ~16 ms for one in half the corpus, "Large Language Models".)
    """

    STEPS_MAX = 256  # token extensions a lookup tries (a long key cut into one-letter tokens every way)

    ARRAYS = ("tokens", "text_starts", "at", "first")  # what save() writes beside the vocabulary

    def __init__(self, texts: list[str]) -> None:
        vocab: dict[str, int] = {}
        tokens = array("i")
        starts = array("q")
        for text in texts:
            starts.append(len(tokens))
            tokens.extend([vocab.setdefault(t, len(vocab)) for t in TOKEN.findall(text.lower())])
            tokens.append(-1)  # no key runs from one text into the next
        self.vocab = vocab
        self.tokens = np.frombuffer(tokens, dtype=np.int32) if tokens else np.zeros(0, dtype=np.int32)
        self.text_starts = np.frombuffer(starts, dtype=np.int64) if starts else np.zeros(0, dtype=np.int64)
        # occurrences of every token number, grouped by number: those of number t are at[first[t]:first[t + 1]]
        self.at = np.argsort(self.tokens, kind="stable").astype(np.int32)
        counts = np.bincount(self.tokens + 1, minlength=len(vocab) + 1)  # + 1: the separator -1 counts as 0
        self.first = np.concatenate(([0], np.cumsum(counts)))[1:]
        self.longest = max(map(len, vocab), default=0)

    def save(self, folder: Path) -> None:
        """Write into folder: one .npy file an array (read back memory-mapped) and the vocabulary in number order."""
        for name in self.ARRAYS:
            np.save(folder / f"surface_{name}.npy", getattr(self, name))
        with open(folder / "surface_vocab.json", "w") as f:
            json.dump(list(self.vocab), f)  # a dict keeps insertion order: the numbers' order

    @classmethod
    def load(cls, folder: Path) -> SurfaceIndex | None:
        """What save() wrote into folder, or None when it is not there (a segment saved before it was)."""
        try:
            vocab = json.loads((folder / "surface_vocab.json").read_text())
            # plain arrays over the mapped file: a memmap's own slicing costs ~5 us a call
            arrays = {name: np.load(folder / f"surface_{name}.npy", mmap_mode="r").view(np.ndarray)
                      for name in cls.ARRAYS}
        except (OSError, ValueError):
            return None
        index = cls.__new__(cls)
        index.vocab = {t: i for i, t in enumerate(vocab)}
        index.longest = max(map(len, vocab), default=0)
        for name, value in arrays.items():
            setattr(index, name, value)
        if len(index.first) != len(vocab) + 1:
            return None
        return index

    def find(self, key: str) -> dict[int, int]:
        """text index -> occurrences of key (also its plural or singular form) at token boundaries."""
        texts, counts = self.occurrences(key)
        return dict(zip(texts.tolist(), counts.tolist()))

    def occurrences(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """find() as arrays: the texts that hold key (ascending) and how often each does."""
        none = np.zeros(0, dtype=np.int64)
        if not key or not len(self.tokens):
            return none, none
        forms = {key, key + "s", key + "es"} | ({key[:-1]} if key.endswith("s") and len(key) > 3 else set())
        starts = [pos for form in forms for pos in self._starts(form)]
        if not starts:
            return none, none
        return np.unique(np.searchsorted(self.text_starts, np.concatenate(starts), side="right") - 1,
                         return_counts=True)

    def _starts(self, form: str) -> list[np.ndarray]:
        """Where runs of consecutive tokens spelling form start, one array for each way of splitting form into
        known tokens. A split is followed only as far as its tokens do follow each other somewhere, so the many ways
        of cutting a key into one-letter tokens cost little (at most STEPS_MAX extensions are tried); each step
        costs the smaller of the two occurrence lists ("model" occurs ~500k times in 100k abstracts)."""
        found: list[np.ndarray] = []
        steps = 0
        n = len(self.tokens)

        def extend(i: int, pos: np.ndarray | None, k: int) -> None:
            nonlocal steps
            if i == len(form):
                found.append(pos)
                return
            for j in range(min(len(form), i + self.longest), i, -1):  # longer tokens first: the usual split
                t = self.vocab.get(form[i:j])
                if t is None or steps >= self.STEPS_MAX:
                    continue
                steps += 1
                occ = self.at[self.first[t]: self.first[t + 1]]  # ascending, as pos is
                if pos is None:  # the first token: all its occurrences
                    nxt = occ
                elif 16 * len(occ) < len(pos):  # t is far rarer: look its occurrences up among the starts
                    cand = occ.astype(np.int64) - k
                    at = np.minimum(np.searchsorted(pos, cand), len(pos) - 1)
                    nxt = cand[pos[at] == cand]
                else:
                    nxt = pos[pos + k < n]
                    nxt = nxt[self.tokens[nxt + k] == t]
                if len(nxt):
                    extend(j, nxt, k + 1)

        extend(0, None, 0)
        return [p.astype(np.int64) for p in found]


class NameIndex:
    """Where names occur in a side index (rag/store/side_index.py): its chunks through each segment's own
    SurfaceIndex (Segment.surface, saved with the segment; deleted chunks left out), its titles through one built on
    first use. What the coverage check, the search's named-papers guard and the lower-case name finder ask."""

    def __init__(self, index: SideIndex) -> None:
        self.index = index
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # name key -> _mention_arrays

    @cached_property
    def titles(self) -> SurfaceIndex:
        """Where names occur in the titles (built on first use)."""
        return SurfaceIndex([m.get("title", "") for m in self.index.metas])

    def _segment_mentions(self, key: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(positions, occurrences) of a name's surface key in the chunks, segment by segment, through each segment's
        own surface index (Segment.surface; deleted chunks left out), positions ascending."""
        offset = 0
        for seg, keep in zip(self.index.segments, self.index.live):
            local, n = seg.surface.occurrences(key)
            if len(local):
                live = keep[local]
                # a live chunk's position: the segment's offset plus how many live chunks precede it in the segment
                yield offset + np.cumsum(keep)[local[live]] - 1, n[live]
            offset += int(keep.sum())

    def _chunk_mentions(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """_segment_mentions of every segment, together."""
        found = list(self._segment_mentions(key))
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate([p for p, _ in found]), np.concatenate([n for _, n in found])

    @cached_property
    def _paper_index(self) -> tuple[np.ndarray, list[str]]:
        """Each position's paper as a number, and the paper ids by number."""
        numbers = {pid: i for i, pid in enumerate(self.index.paper_positions)}
        number = np.array([numbers[pid] for pid in self.index.paper_ids], dtype=np.int64)
        return number, list(self.index.paper_positions)

    def _mention_arrays(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(paper numbers whose chunks hold the key, occurrences in each, paper numbers whose title holds it), the last
        MENTIONS_CACHED keys kept: a question's names are looked up by the search and again by the answer."""
        cached = self._arrays.get(key)
        if cached is None:
            number, pids = self._paper_index
            positions, counts = self._chunk_mentions(key)
            totals = np.bincount(number[positions], weights=counts, minlength=len(pids))
            papers = np.flatnonzero(totals)
            titled = np.flatnonzero(np.bincount(number[self.titles.occurrences(key)[0]], minlength=len(pids)))
            if len(self._arrays) >= MENTIONS_CACHED:
                self._arrays.clear()
            cached = self._arrays[key] = (papers, totals[papers].astype(np.int64), titled)
        return cached

    def mentions(self, key: str) -> dict[str, tuple[int, bool]]:
        """paper id -> (occurrences of a name's surface key in its chunks, whether its title has it)."""
        papers, totals, titled = self._mention_arrays(key)
        pids = self._paper_index[1]
        out = {pids[p]: (n, False) for p, n in zip(papers.tolist(), totals.tolist())}
        for p in titled.tolist():
            out[pids[p]] = (out.get(pids[p], (0, False))[0], True)
        return out

    def mentioned_by(self, key: str, limit: int) -> int:
        """How many papers mention a name's surface key, exactly up to limit, else limit + 1: the search asks whether
        a name points at a few papers, and a common one ("Large Language Models", ~50k papers at 100k chunks) stops
        being counted at the first segment that takes it past the limit."""
        number = self._paper_index[0]
        if key in self._arrays:
            papers, _, titled = self._arrays[key]
            return min(len(np.union1d(papers, titled)), limit + 1)
        found: set[int] = set()
        for positions, _ in self._segment_mentions(key):
            found.update(np.unique(number[positions])[: limit + 1].tolist())
            if len(found) > limit:
                return limit + 1
        found.update(np.unique(number[self.titles.occurrences(key)[0]])[: limit + 1].tolist())
        return min(len(found), limit + 1)

    @cached_property
    def keys(self) -> frozenset[str]:
        """Surface keys of every name-shaped word of the chunks ("RingAttention", "LLaMA-Adapter", "GPTQ"): each
        segment's, saved with it (deleted chunks' words too: the keys only spare spellings() a search)."""
        return frozenset().union(*(seg.name_keys for seg in self.index.segments))

    def spellings(self, words: list[str], limit: int = SPELLINGS_MAX) -> list[str]:
        """How the abstracts write a run of words ("ring attention" -> ["RingAttention", ...]): the matches in the
        chunks that contain its surface key, with nothing, a space or a hyphen between the words, at most limit.
        Titles are left out: title case capitalises every word."""
        key = "".join(w.lower() for w in words)
        if key not in self.keys:  # the corpus never writes it as a name: no need to read how it writes it
            return []
        pattern = re.compile(r"\b" + r"[\s-]?".join(map(re.escape, words)) + r"s?\b", re.IGNORECASE)
        out: list[str] = []
        for pos in self._chunk_mentions(key)[0].tolist():
            out += [m.group() for m in pattern.finditer(self.index.docs[pos])]
            if len(out) >= limit:
                break
        return out[:limit]
