"""Automatic term mapping: a question that describes a concept in plain words also searches for the corpus's
name for it, as PubMed maps "heart attack" to "myocardial infarction".

Users write "the cache of attention keys" where the abstracts write "KV cache", and "a small model guesses
tokens that the big one checks" where they write "speculative decoding"; neither BM25 nor a small embedding
model bridges that. `glossary.json` lists the corpus's technical concepts, each with the surface forms the
abstracts use (`terms`) and phrases a user would write instead (`plain`); it was written from the seed
abstracts alone, blind to the evaluation questions. A plain phrase matches when all its stemmed content words
occur in the question close together, in any order ("trimmed the attention cache" matches "attention cache
trimming"); the matched concept's terms are then added to the search, never to what the question is checked
against (coverage, abstention and citations still read the question as written). ConceptIndex reads the glossary
the other way: a chunk that names a concept also counts as saying its plain phrases (document expansion).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np

from rag.text.names import question_names, surface_key
from rag.text.terms import tokenize

GLOSSARY = Path(__file__).with_name("glossary.json")
SLACK = 2  # words a plain phrase's words may be spread over beyond their own count ("trimmed *the* attention cache")
MIN_WORDS = 2  # a plain phrase of one content word is too loose to trust
# BM25 weight of the mapped names next to the question's own words (1.0). Chosen on the dev questions (compare,
# hard, paraphrase, multi): at 0.5-1.0 the names pulled in every paper on the broad topic (all KV-cache papers
# for a question about the few that keep evicted tokens) and citation precision fell; at 0.3 nothing got worse.
MAPPED_WEIGHT = 0.3
# Weight of the concept text (ConceptIndex) in the fused score, next to dense and BM25 (1.0 each). Chosen on the dev
# questions: 0.3-0.6 helped hard, paraphrase and compare alike; at 1.0 hit@5 fell on compare.
CONCEPT_WEIGHT = 0.5
SAMPLE = 4096  # chunks on which the concept scores' corpus mean and spread are estimated (all chunks below that)
# A question that uses a name at most this many papers mention ("StructLM", "o1-style") asks about those papers:
# mapping its other words ("GPUs used to train" -> distributed training) only pulls in papers it did not ask about.
NAMED_PAPERS = 3


@dataclass(frozen=True)
class Concept:
    terms: tuple[str, ...]  # as the abstracts write it: what the search adds
    term_tokens: tuple[tuple[str, ...], ...]  # each term's stemmed words, in order
    plain: tuple[tuple[str, ...], ...]  # each plain phrase's stemmed content words

    @property
    def term_stems(self) -> tuple[frozenset[str], ...]:
        return tuple(frozenset(t) for t in self.term_tokens)


@cache
def concepts(path: Path = GLOSSARY) -> tuple[Concept, ...]:
    """The glossary, stemmed once per process."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    terms = [tuple(e["terms"]) for e in entries]
    plains = [list(e["plain"]) for e in entries]
    term_toks = iter(tokenize([x for t in terms for x in t]))
    plain_toks = iter(tokenize([p for ps in plains for p in ps]))
    out = []
    for t, ps in zip(terms, plains):
        stems = tuple(tuple(next(term_toks)) for _ in t)
        phrases = (tuple(dict.fromkeys(next(plain_toks))) for _ in ps)
        out.append(Concept(t, stems, tuple(p for p in phrases if len(p) >= MIN_WORDS)))
    return tuple(out)


@cache
def concept_keys(path: Path = GLOSSARY) -> frozenset[str]:
    """Surface keys of the glossary's terms of two or more words ("speculative decoding" -> "speculativedecoding",
    "chain-of-thought"): the concepts a question may ask about by a name in lower case."""
    return frozenset(surface_key(t) for e in json.loads(path.read_text(encoding="utf-8")) for t in e["terms"]
                     if len(re.findall(r"[A-Za-z0-9]+", t)) > 1)


def _near(words: tuple[str, ...], positions: dict[str, list[int]]) -> bool:
    """Whether every word occurs in the question within a window of len(words) + SLACK positions."""
    span = len(words) + SLACK
    first = words[0]
    return any(all(any(abs(p - start) < span for p in positions[w]) for w in words[1:]) for start in positions[first])


def names_few_papers(query: str, mentioned_by: Callable[[str, int], int]) -> bool:
    """Whether the query uses a name that 1 to NAMED_PAPERS papers mention (mentioned_by: a name's surface key and a
    limit -> how many papers mention it, exactly up to the limit: SideIndex.mentioned_by)."""
    return any(0 < mentioned_by(name.key, NAMED_PAPERS) <= NAMED_PAPERS for name in question_names(query))


def mapped_concepts(query: str, path: Path = GLOSSARY) -> list[tuple[str, ...]]:
    """For each concept the query describes in plain words, the corpus's names for it that the query does not use
    already (a question saying "draft model" still gets "speculative decoding" when it also describes the
    guessing)."""
    toks = tokenize([query])[0]
    if not toks:
        return []
    positions: dict[str, list[int]] = {}
    for i, t in enumerate(toks):
        positions.setdefault(t, []).append(i)
    have = positions.keys()
    matched = sorted({i for t in have for i, p in _by_first_word(path).get(t, ())
                      if set(p) <= have and _near(p, positions)})
    out: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for c in (concepts(path)[i] for i in matched):
        names = tuple(t for t, ts in zip(c.terms, c.term_stems) if t not in seen and not ts <= have)
        seen.update(names)
        if names:
            out.append(names)
    return out


@cache
def _by_first_word(path: Path = GLOSSARY) -> dict[str, tuple[tuple[int, tuple[str, ...]], ...]]:
    """Each plain phrase under its first stemmed word, with its concept's number: a question checks only the phrases
    that start with one of its words (~3,200 phrases checked one by one cost ~2 ms a question)."""
    out: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for i, c in enumerate(concepts(path)):
        for p in c.plain:
            out.setdefault(p[0], []).append((i, p))
    return {w: tuple(v) for w, v in out.items()}


class ConceptIndex:
    """The glossary read the other way (document expansion): a chunk that names a concept (one of its terms, as a
    phrase) is also read as that concept's plain phrases, and the question's words are scored against that text
    with BM25. A question in plain words then meets the papers that use the jargon even when none of its phrases
    matched a plain phrase whole ("the cache of keys gets trimmed" meets the KV-cache papers through "cache" and
    "key"). Built once per index from its term and pair postings (containing: SideIndex.containing).

    A search needs the scores of its candidate chunks only, standardised by the corpus's mean and spread; those
    are estimated on a fixed sample of SAMPLE chunks (exact below that size), so a question costs the same at
    100k chunks as at 1k (bench/concepts.py: scoring every chunk took 10.6 ms a question at 100k)."""

    def __init__(self, containing: Callable[[list[str]], np.ndarray], n: int, k1: float, b: float,
                 path: Path = GLOSSARY) -> None:
        from scipy import sparse

        self.n, self.k1, self.b = n, k1, b
        rows, cols, sizes, bags = [], [], [], []
        for c in concepts(path):
            found = [containing(list(t)) for t in c.term_tokens if t]
            pos = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
            if not len(pos):
                continue
            bag = Counter(w for p in c.plain for w in p)
            rows.append(pos)
            cols.append(np.full(len(pos), len(bags)))
            sizes.append(float(sum(bag.values())))
            bags.append(bag)
        self.word_ids = {w: i for i, w in enumerate(sorted({w for bag in bags for w in bag}))}
        # chunk x concept: the chunk names the concept; concept x word: the word's count in the concept's phrases
        self.names = sparse.csr_matrix((np.ones(sum(len(r) for r in rows)), (np.concatenate(rows) if rows else [],
                                        np.concatenate(cols) if cols else [])), shape=(n, len(bags)))
        entries = [(ci, self.word_ids[w], tf) for ci, bag in enumerate(bags) for w, tf in bag.items()]
        self.counts = sparse.csc_matrix(([e[2] for e in entries], ([e[0] for e in entries], [e[1] for e in entries])),
                                        shape=(len(bags), len(self.word_ids)), dtype=np.float64)
        self.lengths = self.names @ np.asarray(sizes, dtype=np.float64) if bags else np.zeros(n)
        self.avg = float(self.lengths.mean()) if n else 0.0
        self.df = self._doc_freqs()  # word id -> chunks whose concept text has it
        self.sample = (np.arange(n) if n <= SAMPLE else
                       np.sort(np.random.default_rng(0).choice(n, SAMPLE, replace=False)))

    def _doc_freqs(self) -> np.ndarray:
        """For each word, how many chunks' concept text has it: the chunks naming one of the concepts whose phrases
        have it (0.1 s for all ~1,600 words at 100k chunks; counted a word at a time on first use, a question's first
        search cost up to ~20 ms)."""
        by_concept = self.names.tocsc()
        out = np.zeros(self.counts.shape[1], dtype=np.int64)
        seen = np.zeros(self.n, dtype=bool)
        for w in range(len(out)):
            seen[:] = False
            for c in self.counts.indices[self.counts.indptr[w]: self.counts.indptr[w + 1]].tolist():
                seen[by_concept.indices[by_concept.indptr[c]: by_concept.indptr[c + 1]]] = True
            out[w] = np.count_nonzero(seen)
        return out

    def scores(self, tokens: list[str], positions: np.ndarray | None = None) -> np.ndarray:
        """BM25 (bm25s's lucene idf, as the side index) of the chunks' concept text for the query tokens: of the
        chunks at positions, or of every chunk."""
        rows = self.names if positions is None else self.names[np.asarray(positions, dtype=np.int64)]
        out = np.zeros(rows.shape[0])
        known = Counter(self.word_ids[t] for t in tokens if t in self.word_ids)
        if self.avg <= 0 or not known or not rows.shape[0]:
            return out
        words = list(known)
        tf = (rows @ self.counts[:, words]).toarray()  # chunks x query words
        lengths = self.lengths if positions is None else self.lengths[np.asarray(positions, dtype=np.int64)]
        norm = self.k1 * ((1 - self.b) + self.b * lengths / self.avg)
        for j, word in enumerate(words):
            df = int(self.df[word])
            idf = float(np.log1p((self.n - df + 0.5) / (df + 0.5)))
            out += known[word] * idf * tf[:, j] / (norm + tf[:, j])
        return out

    def standardised(self, tokens: list[str], positions: list[int]) -> np.ndarray:
        """The scores of the chunks at positions less the corpus mean, over the corpus spread (both from the sample;
        zeros when no chunk's concept text has a query word)."""
        pos = np.asarray(positions, dtype=np.int64)
        both = np.union1d(pos, self.sample)
        scores = self.scores(tokens, both)
        sample = scores[np.searchsorted(both, self.sample)]
        sd = float(sample.std())
        if not sd:
            return np.zeros(len(pos))
        return (scores[np.searchsorted(both, pos)] - float(sample.mean())) / sd
