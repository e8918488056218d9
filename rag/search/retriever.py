"""Question -> ranked Hits: dense (Chroma) and BM25 scores fused per paper (rag/search/fusion.py), with
date filters; the paper catalogue (rag/search/catalogue.py) over the same side index.

A long-lived Retriever follows the store: at most once a second it checks the marker the last ingest
left on the collection and, when another process changed the collection, loads the new side index.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from rag.embed.base import get_embedder
from rag.errors import IndexMissingError, RagError
from rag.search import catalogue
from rag.search.fusion import fuse, paper_ranks, top_positions
from rag.search.glossary import (CONCEPT_WEIGHT, MAPPED_WEIGHT, ConceptIndex, concept_keys, mapped_concepts,
                                 names_few_papers)
from rag.store.chroma import Store, build_params, digest
from rag.store.paths import Paths
from rag.store.side_index import SideIndex, refresh_side_index
from rag.text.dates import DateRange
from rag.text.terms import question_terms, tokenize
from rag.types import Hit, PaperRecord

if TYPE_CHECKING:
    from rag.config import Settings

MAX_QUERY_CHARS = 4000
# is_unsure: a fused top score below UNSURE_SCORE (standard deviations, summed over the retrievers), less than
# UNSURE_GAP above the second, and under UNSURE_COVERAGE of the question's weighted terms in the top UNSURE_PAPERS.
# Chosen on the dev questions (hard, paraphrase, compare; the held-out halves unread).
UNSURE_SCORE, UNSURE_GAP, UNSURE_COVERAGE, UNSURE_PAPERS = 12.0, 3.0, 0.3, 3
FRESHNESS_SECONDS = 1.0  # how often a long-lived Retriever checks whether another ingest changed the store


@dataclass
class SearchResult:
    """One search, with what the answerer needs from the same index snapshot: the query's vector (so it is
    embedded once), how many papers the dates allow, and the corpus statistics of terms."""

    hits: list[Hit]
    query_vector: np.ndarray
    papers_searched: int
    index: SideIndex
    mapped: tuple[str, ...] = ()  # the corpus's names for concepts the query described in plain words, also searched
    closest: float | None = None  # with mapped names: the best cosine of any chunk with the query as written
    concepts: tuple[str, ...] = ()  # one name for each concept mapped (the first of its names in mapped), to show
    unsure: bool = False  # the fused ranking was unsure (is_unsure): these hits are ranked by meaning alone

    def idf(self, terms: frozenset[str]) -> dict[str, float]:
        """Inverse document frequency of stemmed terms in the index searched."""
        return self.index.idf(terms)

    def knows(self, term: str) -> bool:
        """Whether any chunk of the index searched contains the stemmed term."""
        return self.index.knows(term)

    def mentions(self, key: str) -> dict[str, tuple[int, bool]]:
        """paper id -> (occurrences, in its title) of a name's surface key in the index searched."""
        return self.index.mentions(key)

    def spellings(self, words: list[str]) -> list[str]:
        """How the index searched writes a run of words (for names typed in lower case)."""
        return self.index.spellings(words)

    def concept_keys(self) -> frozenset[str]:
        """Surface keys of the glossary's concepts of two or more words ("speculativedecoding")."""
        return concept_keys()

    def paper_text(self, paper_id: str) -> tuple[str, str] | None:
        """(title, whole abstract) of a paper of the index searched, or None."""
        record = catalogue.paper_record(self.index, paper_id)
        return None if record is None else (record.title, record.abstract)


def is_unsure(idx: SideIndex, scored: dict[str, tuple[float, int]], terms: frozenset[str]) -> bool:
    """Whether a fused ranking is unsure of its top paper: it scores below UNSURE_SCORE, less than UNSURE_GAP above
    the next one, and none of the top UNSURE_PAPERS holds UNSURE_COVERAGE of the question's idf-weighted terms (read
    from the BM25 postings: stemming three abstracts cost ~3 ms a search at 100k chunks). Such
    a question is worded unlike every abstract (a paraphrase, or a method the corpus does not have), BM25 matched
    it on common words, and its top papers are mostly wrong: on the dev questions, the first paper was right for
    41% of them, ranked by meaning alone for 59% (hit@5 53% -> 88%); no other question changes."""
    top = sorted(scored, key=lambda p: (-scored[p][0], p))[:UNSURE_PAPERS]
    if len(top) < 2 or scored[top[0]][0] >= UNSURE_SCORE or scored[top[0]][0] - scored[top[1]][0] >= UNSURE_GAP:
        return False
    weights = idx.idf(terms)
    total = sum(weights.values()) or 1.0
    held = (sum(weights[t] for t in idx.terms_at(scored[p][1], terms)) / total for p in top)
    return max(held, default=0.0) < UNSURE_COVERAGE


class Gate:
    """Many readers at once, or one writer alone (a writer waits for the readers in, and holds off new ones)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._writing = True
            self._cond.wait_for(lambda: self._readers == 0)
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class Retriever:
    """Hybrid search over one index; open once, search many times (from many threads at once).

    A search reads `self.index` once and uses that object throughout: another thread may put a newer
    index in its place (after another process's ingest) at any time.
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock  # seconds; tests pass a clock they advance instead of sleeping
        self.embedder = get_embedder(settings)
        self.store = Store.open(settings, build_params(settings, self.embedder.name, self.embedder.dim), create=False)
        self.index = refresh_side_index(Paths.of(settings), self.store, settings.bm25_k1, settings.bm25_b)
        self._checked = clock()
        self._reloading = threading.Lock()  # one rebuild at a time: the searches that find it stale share it
        self._store_users = Gate()  # a store is reopened only when no search is reading it
        self._concepts: tuple[SideIndex, ConceptIndex] | None = None  # the index it was built for, and it
        if not self.index.ids:
            raise IndexMissingError(f"the index at {Paths.of(settings).where()} is empty", "run `rag ingest` first")

    def search(self, query: str, k: int | None = None, since: date | None = None, until: date | None = None) -> list[Hit]:
        """Top k papers for the query, one hit per paper, best first."""
        return self.find(query, k, since, until).hits

    def find(self, query: str, k: int | None = None, since: date | None = None,
             until: date | None = None, several: bool = False) -> SearchResult:
        """search(), with the query vector, the number of papers searched and the index it used. several: the query
        asks about several papers, so close scores at the top are expected, not a sign of an unsure ranking."""
        query = " ".join(query.split())
        if not query:
            raise RagError("the query is empty", "type a few words describing what you are looking for")
        if len(query) > MAX_QUERY_CHARS:
            raise RagError(f"the query is {len(query)} characters long", f"keep it under {MAX_QUERY_CHARS} characters")
        dates = DateRange(since, until)
        s = self.settings
        self._follow_store()
        # plain words also search the corpus's names, unless the question names the few papers it is about (looked
        # up only when it matters: a name's lookup costs ~5 ms at 100k chunks)
        named = None
        groups = mapped_concepts(query) if s.term_mapping else []
        if groups:
            named = names_few_papers(query, self.index.mentioned_by)
            groups = [] if named else groups
        mapped = tuple(t for names in groups for t in names)
        # the ranking's embedding reads the mapped names beside the question; BM25 weighs them below the question's
        # own words. What a hit is checked against (its cosine, the answer's sentences) stays the question as written.
        vecs = self.embedder.embed([query, f"{query} ({'; '.join(mapped)})"] if mapped else [query])
        qvec, search_vec = vecs[0], vecs[-1]
        with self._store_users.reading():
            dense = self.store.query(search_vec, s.candidates, dates.where())
            idx = self.index
            unknown = any(cid not in idx.position for cid, _ in dense)
            if unknown:  # Chroma holds chunks the side index does not know (a writer that left no marker)
                content = digest(*self.store.snapshot())
        if unknown:  # trust a full read
            idx = self._reload(content)
        dense_pos = [(idx.position[cid], sim) for cid, sim in dense if cid in idx.position]
        words = tokenize([query])[0]
        bm25 = idx.bm25_scores(words, s.pair_weight)
        if mapped:
            bm25 = bm25 + MAPPED_WEIGHT * idx.bm25_scores(tokenize(["; ".join(mapped)])[0], s.pair_weight)
        allowed = dates.mask(idx.date_ints) & (bm25 > 0)
        lex_pos = top_positions(np.where(allowed, bm25, -np.inf), s.candidates)
        concepts = self._concept_index(idx) if s.term_mapping else None
        concept = (lambda positions: concepts.standardised(words, positions)) if concepts else None
        scored = fuse(s, idx, search_vec, dense_pos, lex_pos, bm25, concept, CONCEPT_WEIGHT)
        # a question naming what only a few papers mention is about those papers: BM25 finds them by that name
        unsure = (s.meaning_fallback and s.fusion == "zscore" and not several
                  and is_unsure(idx, scored, question_terms(query))
                  and not (named if named is not None else names_few_papers(query, idx.mentioned_by)))
        if unsure:  # BM25 matched only common words: rank by meaning (the embedding and the concept text) alone
            scored = fuse(s.model_copy(update={"bm25_weight": 0.0}), idx, search_vec, dense_pos, lex_pos, bm25,
                          concept, CONCEPT_WEIGHT)
        hits = self._hits(idx, scored, dense_pos, lex_pos, bm25, k or s.top_k)
        closest = None
        if mapped:
            hits = self._question_cosines(idx, hits, dense_pos, qvec)
            with self._store_users.reading():
                closest = max((sim for _, sim in self.store.query(qvec, 1, dates.where())), default=None)
        return SearchResult(hits, qvec, idx.paper_count(dates), idx, mapped, closest, tuple(g[0] for g in groups), unsure)

    def _concept_index(self, idx: SideIndex) -> ConceptIndex:
        """The glossary's concept text over this index's chunks, built on first use and kept with the index."""
        held = self._concepts
        if held is None or held[0] is not idx:
            held = (idx, ConceptIndex(idx.containing, len(idx.ids), self.settings.bm25_k1, self.settings.bm25_b))
            self._concepts = held  # a race builds it twice, harmlessly
        return held[1]

    def _question_cosines(self, idx: SideIndex, hits: list[Hit], dense_pos: list[tuple[int, float]],
                          qvec: np.ndarray) -> list[Hit]:
        """hits with dense_score the cosine of the same chunk with the question as written, not with the question
        plus its mapped names: the abstain rule judges what was asked (an off-topic question must not look closer
        to the corpus because a name was added to its search)."""
        best = paper_ranks(idx, [p for p, _ in dense_pos])
        ids = [idx.ids[best[h.paper_id][1]] for h in hits if h.dense_score is not None]
        with self._store_users.reading():
            cos = dict(zip(ids, (self.store.vectors(ids) @ qvec).tolist()))
        return [replace(h, dense_score=round(cos[idx.ids[best[h.paper_id][1]]], 6)) if h.dense_score is not None else h
                for h in hits]

    def _follow_store(self) -> None:
        """At most once a second, check the ingest marker; if another ingest changed the collection, reload."""
        now = self._clock()
        if now - self._checked < FRESHNESS_SECONDS:
            return
        self._checked = now
        with self._store_users.reading():
            marker = self.store.marker()
        if marker and marker != self.index.digest:
            self._reload(marker, reopen=True)

    def _reload(self, content_digest: str, reopen: bool = False) -> SideIndex:
        """The index for that store content: the current one if some thread already loaded it, else loaded.
        reopen: another process's ingest changed the store; an embedded one is reopened to read its vectors."""
        with self._reloading:
            if self.index.digest != content_digest:
                s = self.settings
                if reopen:
                    with self._store_users.writing():  # waits for the searches reading the old client
                        self.store = self.store.reopen(s)
                self.index = refresh_side_index(Paths.of(s), self.store, s.bm25_k1, s.bm25_b, content_digest)
            return self.index

    @staticmethod
    def _hits(idx: SideIndex, scored: dict[str, tuple[float, int]], dense_pos: list[tuple[int, float]],
              lex_pos: list[int], bm25: np.ndarray, k: int) -> list[Hit]:
        """One Hit per paper, best first, showing the chunk that scored best."""
        dense_rank = paper_ranks(idx, [p for p, _ in dense_pos])
        dense_sim = dict(dense_pos)
        bm25_rank = paper_ranks(idx, lex_pos)
        hits = []
        for pid in sorted(scored, key=lambda p: (-scored[p][0], p))[:k]:
            score, pos = scored[pid]
            d_best = dense_rank[pid][1] if pid in dense_rank else None
            b_best = bm25_rank[pid][1] if pid in bm25_rank else None
            hits.append(catalogue.hit_at(
                idx, pos, round(float(score), 6),
                dense_rank=dense_rank[pid][0] if pid in dense_rank else None,
                bm25_rank=bm25_rank[pid][0] if pid in bm25_rank else None,
                dense_score=round(dense_sim[d_best], 6) if d_best is not None else None,
                bm25_score=round(float(bm25[b_best]), 6) if b_best is not None else None,
            ))
        return hits

    # ------------------------------------------------------------------ the catalogue

    def paper_count(self, since: date | None = None, until: date | None = None) -> int:
        """How many indexed papers fall in the date range (all of them without one)."""
        self._follow_store()
        return self.index.paper_count(DateRange(since, until))

    def paper_hit(self, paper_id: str) -> Hit | None:
        """A paper as a Hit (its first chunk, no scores), e.g. to bring back a paper an earlier answer cited."""
        return catalogue.paper_hit(self.index, paper_id)

    def paper(self, paper_id: str) -> PaperRecord | None:
        """One paper's record with its whole abstract, or None."""
        return catalogue.paper_record(self.index, paper_id)

    def papers(self) -> list[PaperRecord]:
        """Every indexed paper's record, sorted by title."""
        return catalogue.paper_records(self.index)
