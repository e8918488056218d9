"""What term mapping's concept text costs as the corpus grows: building it and scoring a question.

    python -m bench.concepts [--sizes 615,10000,100000]

For each size, the scale benchmark's synthetic corpus (bench/synth.py: the seeds, then papers recombined from
their sentences, so the corpus's jargon recurs as it would) is indexed as one side index (BM25 only: the vectors
are random, Chroma is not involved), then `ConceptIndex` is built from it (rag/search/glossary.py) and asked the
golden questions as a search asks it: the standardised scores of 200 candidate chunks (`standardised`, the mean
and spread from its fixed sample), and, for comparison, the scores of every chunk (`scores`); the query side of
term mapping (`mapped_concepts`) is timed on the same questions. Prints build seconds, the build's memory
(tracemalloc peak), how many chunks name a concept, and p50/p95 per question.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np

from bench.synth import synth_corpus
from rag.search.glossary import ConceptIndex, mapped_concepts
from rag.store.side_index import SideIndex
from rag.text.terms import tokenize

ROOT = Path(__file__).resolve().parent.parent
DIM = 8


def side_index(n: int) -> SideIndex:
    papers = synth_corpus(n)
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(len(papers), DIM)).astype(np.float32)
    return SideIndex.build([f"c{i}" for i in range(len(papers))], [f"{p.title}\n{p.abstract}" for p in papers],
                           [{"paper_id": f"p{i}", "paper_hash": "h"} for i in range(len(papers))],
                           vecs / np.linalg.norm(vecs, axis=1, keepdims=True), "bench", DIM)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="615,10000,100000")
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").open()]
    tokens = tokenize(questions)
    mapped_concepts(questions[0])  # the glossary loaded and stemmed once, as in a running app
    t = time.perf_counter()
    for q in questions:
        mapped_concepts(q)
    map_ms = (time.perf_counter() - t) * 1000 / len(questions)
    print(f"mapping a question (glossary phrases): {map_ms:.2f} ms on average")
    for n in (int(x) for x in args.sizes.split(",")):
        t = time.perf_counter()
        idx = side_index(n)
        index_s = time.perf_counter() - t
        tracemalloc.start()
        t = time.perf_counter()
        concepts = ConceptIndex(idx.containing, len(idx.ids), 1.2, 0.75)
        build_s = time.perf_counter() - t
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        rng = np.random.default_rng(1)
        search, every = [], []
        for tok in tokens:
            candidates = sorted(rng.choice(n, min(200, n), replace=False).tolist())
            t = time.perf_counter()
            concepts.standardised(tok, candidates)
            search.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            concepts.scores(tok)
            every.append((time.perf_counter() - t) * 1000)
        named = int((concepts.lengths > 0).sum())
        print(f"{n:>7} chunks: side index {index_s:5.1f} s; concept text built in {build_s:.2f} s, peak "
              f"{peak_mb:.0f} MB; {named / n:.0%} of chunks name a concept; a search's 200 candidates {_p(search)}; "
              f"every chunk {_p(every)}")


def _p(times: list[float]) -> str:
    times = sorted(times)
    return f"p50 {statistics.median(times):.2f} ms, p95 {times[int(0.95 * (len(times) - 1))]:.2f} ms"


if __name__ == "__main__":
    main()
