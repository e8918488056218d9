"""Synthetic corpora for the scale benchmark, made deterministically from the 615 seed papers.

The first 615 papers are the seeds themselves; every further paper gets a unique title made of two
seed title halves and an abstract of seed sentences recombined by a seeded RNG (sentence count drawn
from the seed abstracts), so texts, lengths and vocabulary look like the real corpus.
"""

from __future__ import annotations

import json
import random
import re
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from rag.corpus.parse import load_corpus, paper_id
from rag.types import Paper

ROOT = Path(__file__).resolve().parent.parent
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
FILES = 100  # synthetic papers are spread over this many pretend seed files


@lru_cache(maxsize=1)
def seed_papers() -> tuple[Paper, ...]:
    """The real seeds, parsed once."""
    return tuple(load_corpus([ROOT / "seeds"]).papers)


def synth_corpus(n: int, seed: int = 7) -> list[Paper]:
    """n papers: the seeds first, then recombined ones; the same list for the same (n, seed)."""
    base = list(seed_papers())
    if n <= len(base):
        return base[:n]
    rng = random.Random(seed)
    sentences = [s for p in base for s in SENTENCE_END.split(p.abstract) if len(s) > 20]
    lengths = [len(SENTENCE_END.split(p.abstract)) for p in base]
    heads = [p.title.split(":")[0].strip() for p in base]
    tails = [p.title.split(":", 1)[-1].strip() for p in base]
    out = list(base)
    for i in range(len(base), n):
        donor = rng.choice(base)
        title = f"{rng.choice(heads)}: {rng.choice(tails)} (variant {i})"  # the number keeps every title unique
        published = date(2023, 1, 1) + timedelta(days=rng.randrange(1000)) if rng.random() < 0.8 else None
        out.append(Paper(
            paper_id=paper_id(title), title=title,
            abstract=" ".join(rng.sample(sentences, max(2, rng.choice(lengths)))),
            sources=[f"synthetic-{i % FILES:03d}.txt:{i}"], authors=donor.authors,
            organization=donor.organization, published=published,
            date_text=published.strftime("%b %-d, %Y") if published else None, upvotes=rng.randrange(300),
        ))
    return out


def queries(n: int = 200, seed: int = 11) -> list[str]:
    """Search queries: the 70 paraphrase questions, then seed titles, n in all."""
    paras = [json.loads(line)["question"] for line in (ROOT / "eval" / "paraphrase_queries.jsonl").read_text().splitlines()
             if line.strip()]
    titles = [p.title for p in random.Random(seed).sample(list(seed_papers()), max(0, n - len(paras)))]
    return (paras + titles)[:n]
