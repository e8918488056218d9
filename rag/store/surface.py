"""Where names occur in a set of texts, by surface form (rag/text/names.py: case-folded, hyphens, spaces and dots
ignored): the name index each side-index segment keeps (rag/store/lexical.py), and what eval's checks use."""

from __future__ import annotations

import json
from array import array
from pathlib import Path

import numpy as np

from rag.text.names import TOKEN


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
