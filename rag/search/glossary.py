"""Automatic term mapping: a question that describes a concept in plain words also searches for the corpus's
name for it, as PubMed maps "heart attack" to "myocardial infarction".

Users write "the cache of attention keys" where the abstracts write "KV cache", and "a small model guesses
tokens that the big one checks" where they write "speculative decoding"; neither BM25 nor a small embedding
model bridges that. `glossary.json` lists the corpus's technical concepts, each with the surface forms the
abstracts use (`terms`) and phrases a user would write instead (`plain`); it was written from the seed
abstracts alone, blind to the evaluation questions. A plain phrase matches when all its stemmed content words
occur in the question close together, in any order ("trimmed the attention cache" matches "attention cache
trimming"); the matched concept's terms are then added to the search, never to what the question is checked
against (coverage, abstention and citations still read the question as written).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable

from rag.text.names import question_names
from rag.text.terms import tokenize

GLOSSARY = Path(__file__).with_name("glossary.json")
SLACK = 2  # words a plain phrase's words may be spread over beyond their own count ("trimmed *the* attention cache")
MIN_WORDS = 2  # a plain phrase of one content word is too loose to trust
# BM25 weight of the mapped names next to the question's own words (1.0). Chosen on the dev questions (compare,
# hard, paraphrase, multi): at 0.5-1.0 the names pulled in every paper on the broad topic (all KV-cache papers
# for a question about the few that keep evicted tokens) and citation precision fell; at 0.3 nothing got worse.
MAPPED_WEIGHT = 0.3
# A question that uses a name at most this many papers mention ("StructLM", "o1-style") asks about those papers:
# mapping its other words ("GPUs used to train" -> distributed training) only pulls in papers it did not ask about.
NAMED_PAPERS = 3


@dataclass(frozen=True)
class Concept:
    terms: tuple[str, ...]  # as the abstracts write it: what the search adds
    term_stems: tuple[frozenset[str], ...]  # each term's stemmed words
    plain: tuple[tuple[str, ...], ...]  # each plain phrase's stemmed content words


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
        stems = tuple(frozenset(next(term_toks)) for _ in t)
        phrases = (tuple(dict.fromkeys(next(plain_toks))) for _ in ps)
        out.append(Concept(t, stems, tuple(p for p in phrases if len(p) >= MIN_WORDS)))
    return tuple(out)


def _near(words: tuple[str, ...], positions: dict[str, list[int]]) -> bool:
    """Whether every word occurs in the question within a window of len(words) + SLACK positions."""
    span = len(words) + SLACK
    first = words[0]
    return any(all(any(abs(p - start) < span for p in positions[w]) for w in words[1:]) for start in positions[first])


def names_few_papers(query: str, mentions: Callable[[str], dict[str, tuple[int, bool]]]) -> bool:
    """Whether the query uses a name that 1 to NAMED_PAPERS papers mention (mentions: SideIndex.mentions)."""
    return any(0 < len(mentions(name.key)) <= NAMED_PAPERS for name in question_names(query))


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
    out: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for c in concepts(path):
        if any(set(p) <= have and _near(p, positions) for p in c.plain):
            names = tuple(t for t, ts in zip(c.terms, c.term_stems) if t not in seen and not ts <= have)
            seen.update(names)
            if names:
                out.append(names)
    return out


def mapped_terms(query: str, path: Path = GLOSSARY) -> list[str]:
    """Every name mapped_concepts gives, in order."""
    return [t for names in mapped_concepts(query, path) for t in names]
