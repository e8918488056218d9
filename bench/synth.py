"""Synthetic corpora for the scale benchmark, made deterministically from the 615 seed papers.

The first 615 papers are the seeds themselves; every further paper gets a unique title made of two
seed title halves and an abstract of seed sentences recombined by a seeded RNG (sentence count drawn
from the seed abstracts), so texts and lengths look like the real corpus. Recombined sentences alone
would stop the vocabulary growing after the seeds (and understate the BM25 index at 100k papers), so
some of their words are replaced by coined terms: pronounceable pseudo-words, CamelCase names
("VarioNet") and acronyms ("QLRM-7B"), as many as keep the distinct-word count on the Heaps' law curve
fitted on the seeds. A new term is used one to three times in the paper that coins it (a new name also
heads its title) and later papers reuse coined terms in proportion to their use so far (Simon's model),
so their frequencies are Zipf-like.

    python -m bench.synth --check 100000   # the fit, and measured vs predicted vocabulary
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from rag.corpus.readers import load_corpus
from rag.corpus.records import paper_id
from rag.types import Paper

ROOT = Path(__file__).resolve().parent.parent
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")  # a word type is its lower-cased form
FILES = 100  # synthetic papers are spread over this many pretend seed files

# Heaps' law V(T) = K * T**BETA, V distinct lower-cased words after T words of title + abstract, the seeds
# in their order: least squares of log V on log T after each of the 615 seeds gives K = 9.335, BETA = 0.5928
# (the seeds end at T = 124,656, V = 9,368; the fit says 9,791). heaps_fit() recomputes it.
HEAPS_K = 9.335
HEAPS_BETA = 0.5928
TOLERANCE = 0.15  # heaps_check fails if the measured vocabulary is further than this from K * T**BETA

ONSETS = ("", "b", "br", "c", "ch", "cl", "d", "dr", "f", "fr", "g", "gl", "h", "k", "l", "m", "n", "p", "pl",
          "pr", "qu", "r", "s", "sk", "st", "t", "th", "tr", "v", "w", "z")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io", "ou")
CODAS = ("", "", "", "", "n", "r", "l", "s")
SUFFIXES = ("", "", "", "ic", "al", "ity", "ous", "ive", "ine", "ation", "ing", "ize")
NAME_TAILS = ("Net", "Former", "LM", "GPT", "Bench", "Diff", "RL", "Fusion", "Agent", "VLA", "Gen", "Seg", "Coder")
ACRONYM_TAILS = ("", "", "-7B", "-13B", "-70B", "-1B", "-2", "-v2", "-XL")
STOP = frozenset("across almost always another around before behind beyond during either enough though "
                 "through toward whether within without should because further rather".split())


@lru_cache(maxsize=1)
def seed_papers() -> tuple[Paper, ...]:
    """The real seeds, parsed once."""
    return tuple(load_corpus([ROOT / "seeds"]).papers)


def words(p: Paper) -> list[str]:
    """The words of a paper's title and abstract, as counted for Heaps' law."""
    return WORD.findall(f"{p.title} {p.abstract}")


def heaps(tokens: float) -> float:
    """Distinct words Heaps' law (the seeds' fit) predicts after this many words."""
    return HEAPS_K * tokens ** HEAPS_BETA


def heaps_fit() -> tuple[float, float]:
    """(K, beta) fitted on the seeds, as recorded in HEAPS_K and HEAPS_BETA."""
    import numpy as np

    curve = list(vocabulary_curve(seed_papers()))
    beta, log_k = np.polyfit(np.log([t for t, _ in curve]), np.log([v for _, v in curve]), 1)
    return float(np.exp(log_k)), float(beta)


def vocabulary_curve(papers: Iterable[Paper]) -> Iterator[tuple[int, int]]:
    """(running word count, distinct lower-cased words) after each paper."""
    seen: set[str] = set()
    total = 0
    for p in papers:
        ws = words(p)
        total += len(ws)
        seen.update(w.lower() for w in ws)
        yield total, len(seen)


class _Coiner:
    """Makes new terms that no earlier paper used, and picks earlier ones to reuse by how often they were used."""

    def __init__(self, rng: random.Random, known: set[str]) -> None:
        self.rng = rng
        self.known = known  # lower-cased words used so far
        self.uses: list[str] = []  # one entry per occurrence of a coined term: reuse picks proportionally

    def _syllables(self, n: int) -> str:
        """n random syllables (onset, vowel, coda), lower-case."""
        r = self.rng
        return "".join(r.choice(ONSETS) + r.choice(VOWELS) + r.choice(CODAS) for _ in range(n))

    def coin(self, name: bool) -> str:
        """A new pseudo-word, or (name) a CamelCase name or an acronym; never a word used before."""
        r = self.rng
        while True:
            if not name:
                term = self._syllables(r.choice((2, 2, 3))) + r.choice(SUFFIXES)
            elif r.random() < 0.6:
                term = self._syllables(r.choice((1, 2))).capitalize() + r.choice(NAME_TAILS)
            else:
                term = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(r.choice((3, 4, 4, 5))))
                term += r.choice(ACRONYM_TAILS)
            if term.lower() not in self.known:
                self.known.add(term.lower())
                return term

    def reuse(self) -> str:
        """An earlier coined term, chosen in proportion to its uses so far."""
        return self.rng.choice(self.uses)


def _slots(sentence: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Spans of a sentence's replaceable words: content words (lower-case, 6+ letters) and names."""
    content, names = [], []
    for i, m in enumerate(WORD.finditer(sentence)):
        w = m.group()
        if w.isalpha() and w.islower() and len(w) >= 6 and w not in STOP:
            content.append(m.span())
        elif i and any(c.isupper() for c in w[1:]):
            names.append(m.span())
    return content, names


def synth_corpus(n: int, seed: int = 7) -> list[Paper]:
    """n papers: the seeds first, then recombined ones with coined terms; the same list for the same (n, seed),
    and the first n of synth_corpus(n + m) are synth_corpus(n)."""
    base = list(seed_papers())
    if n <= len(base):
        return base[:n]
    rng = random.Random(seed)
    sentences = [s for p in base for s in SENTENCE_END.split(p.abstract) if len(s) > 20]
    counts = [len(WORD.findall(s)) for s in sentences]
    slots = [_slots(s) for s in sentences]
    lengths = [len(SENTENCE_END.split(p.abstract)) for p in base]
    heads = [p.title.split(":")[0].strip() for p in base]
    tails = [p.title.split(":", 1)[-1].strip() for p in base]
    known = {w.lower() for p in base for w in words(p)} | {"variant"}
    total = sum(len(words(p)) for p in base)
    start_v, start_t = len(known), total  # the target curve: the fit's growth from where the seeds end
    coiner = _Coiner(rng, known)
    out = list(base)
    for i in range(len(base), n):
        donor = rng.choice(base)
        published = date(2023, 1, 1) + timedelta(days=rng.randrange(1000)) if rng.random() < 0.8 else None
        picks = rng.sample(range(len(sentences)), max(2, rng.choice(lengths)))
        total += sum(counts[j] for j in picks)
        due = round(start_v + heaps(total) - heaps(start_t)) - len(known)
        abstract, title_name = _rewrite([sentences[j] for j in picks], [slots[j] for j in picks], due, coiner)
        title = f"{title_name or rng.choice(heads)}: {rng.choice(tails)} (variant {i})"  # the number keeps it unique
        total += len(WORD.findall(title))
        out.append(Paper(
            paper_id=paper_id(title), title=title, abstract=abstract,
            sources=[f"synthetic-{i % FILES:03d}.txt:{i}"], authors=donor.authors,
            organization=donor.organization, published=published,
            date_text=published.strftime("%b %-d, %Y") if published else None, upvotes=rng.randrange(300),
        ))
    return out


def _rewrite(sents: list[str], spans: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]], due: int,
             coiner: _Coiner) -> tuple[str, str | None]:
    """The abstract with `due` new terms (each used 1-3 times) and 0-5 reused ones put in place of words;
    also the first new name, to head the title. A term with no slot left is not coined (a later paper is due it)."""
    r = coiner.rng
    content = [(k, a, b) for k, (c, _) in enumerate(spans) for a, b in c]
    names = [(k, a, b) for k, (_, nm) in enumerate(spans) for a, b in nm]
    r.shuffle(content)
    r.shuffle(names)
    edits: dict[tuple[int, int, int], str] = {}
    first_name = None
    repeats: list[tuple[str, bool]] = []

    def place(term: str, name: bool) -> None:
        pool = (names or content) if name else (content or names)
        if pool:
            edits[pool.pop()] = term
            coiner.uses.append(term)

    for _ in range(max(0, due)):
        name = r.random() < 0.25
        if not (content or names):
            break
        term = coiner.coin(name)
        place(term, name)
        first_name = first_name or (term if name else None)
        repeats += [(term, name)] * ((r.random() < 0.7) + (r.random() < 0.3))
    for term, name in repeats:
        place(term, name)
    for _ in range(r.randrange(6) if coiner.uses else 0):
        term = coiner.reuse()
        place(term, not term.islower())
    parts = list(sents)
    for (k, a, b), term in sorted(edits.items(), reverse=True):  # right to left keeps earlier spans valid
        parts[k] = parts[k][:a] + term + parts[k][b:]
    return " ".join(parts), first_name


def heaps_check(n: int, checkpoints: tuple[int, ...] = (615, 1000, 2000, 5000, 10000, 20000, 50000, 100000)) -> None:
    """Print the fit, generation time and peak memory, measured vs predicted vocabulary at checkpoints up to n,
    and how often coined terms recur; exit non-zero if a checkpoint is off the curve by more than TOLERANCE."""
    from testing.memory import vm_hwm_mb

    k, beta = heaps_fit()
    print(f"Heaps fit on the seeds: K = {k:.3f}, beta = {beta:.4f} (module: K = {HEAPS_K}, beta = {HEAPS_BETA})")
    t = time.perf_counter()
    papers = synth_corpus(n)
    print(f"generated {n:,} papers in {time.perf_counter() - t:.1f} s, peak RSS {vm_hwm_mb():.0f} MB")
    assert len({p.paper_id for p in papers}) == n, "duplicate titles"
    marks = {c for c in checkpoints if c < n} | {n}
    worst = 0.0
    print("| papers | words T | distinct V | K*T^beta | V / predicted |\n|---|---|---|---|---|")
    for i, (tokens, v) in enumerate(vocabulary_curve(papers), 1):
        if i in marks:
            worst = max(worst, abs(v / heaps(tokens) - 1))
            print(f"| {i:,} | {tokens:,} | {v:,} | {heaps(tokens):,.0f} | {v / heaps(tokens):.3f} |")
    seed_vocab = {w.lower() for p in seed_papers() for w in words(p)} | {"variant"}
    uses: Counter[str] = Counter()
    papers_with: Counter[str] = Counter()
    for p in papers[len(seed_papers()):]:
        new = [w for w in map(str.lower, words(p)) if w not in seed_vocab]
        uses.update(new)
        papers_with.update(set(new))
    if uses:
        spread = Counter("1" if d == 1 else "2-9" if d < 10 else "10+" for d in papers_with.values())
        share = {b: f"{spread[b] / len(uses):.1%}" for b in ("1", "2-9", "10+")}
        print(f"\ncoined terms: {len(uses):,}, used {uses.total() / len(uses):.1f} times each on average; in 1 paper "
              f"{share['1']}, in 2-9 {share['2-9']}, in 10+ {share['10+']}; "
              f"most used: {', '.join(f'{w} ({c})' for w, c in uses.most_common(5))}")
    if worst > TOLERANCE:
        raise SystemExit(f"vocabulary off the Heaps curve by {worst:.0%} (tolerance {TOLERANCE:.0%})")


def queries(n: int = 200, seed: int = 11) -> list[str]:
    """Search queries: the 70 paraphrase questions, then seed titles, n in all."""
    paras = [json.loads(line)["question"] for line in (ROOT / "eval" / "paraphrase_queries.jsonl").read_text().splitlines()
             if line.strip()]
    titles = [p.title for p in random.Random(seed).sample(list(seed_papers()), max(0, n - len(paras)))]
    return (paras + titles)[:n]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", type=int, metavar="N", required=True, help="generate N papers and check Heaps' law")
    heaps_check(ap.parse_args().check)
