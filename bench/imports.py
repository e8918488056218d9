"""A user's file in, against the seeds' format: read and ingest the same papers from JSON Lines and page dumps.

    python -m bench.imports [-n 10000] [--embedder wordllama] [--repeats 3]

The papers are the scale benchmark's synthetic corpus (bench/synth.py: the 615 seeds, then recombined ones),
written once as one JSON Lines file (with author names, a date, an arXiv id and a DOI, as a reference
manager's export has) and once as page dumps in the seeds' layout (100 files). For each it times reading
alone (`load_corpus`: parse + identity merge), then the whole `rag ingest`: the page dumps as the seeds of a
fresh home, the JSONL added (`ingest(add=[file])`: copy, parse, merge, embed, store) to a fresh home whose seeds
are one empty-corpus-free dump of a single paper. Embeddings are not cached, so both ingests embed every
paper. Prints papers/s for each and the ratio; writes docs/reports/imports.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.synth import synth_corpus
from rag.config import Settings
from rag.corpus.readers import load_corpus
from rag.ingestion.pipeline import ingest
from rag.types import Paper

ROOT = Path(__file__).resolve().parent.parent
FILES = 100


def write_jsonl(papers: list[Paper], path: Path) -> Path:
    """One object a line, with the fields a reference manager's export has."""
    with path.open("w", encoding="utf-8") as f:
        for i, p in enumerate(papers):
            f.write(json.dumps({"title": p.title, "abstract": p.abstract,
                                "authors": [f"Ada Lovelace{i}", f"Alan Turing{i}"],
                                "date": p.published.isoformat() if p.published else "2024-01-01",
                                "arxiv_id": f"24{i // 99999 + 1:02d}.{i % 99999 + 1:05d}",
                                "doi": f"10.5555/bench.{i}"}) + "\n")
    return path


def write_dumps(papers: list[Paper], folder: Path) -> Path:
    """The compact page-dump layout (title line, abstract line), spread over FILES files."""
    folder.mkdir(parents=True)
    for k in range(FILES):
        lines = ["Get trending papers in your email inbox!"]
        for p in papers[k::FILES]:
            lines += [p.title, p.abstract]
        (folder / f"{k:03d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def settings(home: Path, seeds: Path, embedder: str) -> Settings:
    """A hermetic home with no embedding cache: every paper is embedded."""
    return Settings(_env_file=None, home=home, seeds=seeds, embedder=embedder, embed_cache=False)


def timed(fn) -> tuple[float, object]:  # noqa: ANN001
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    """Time reading and ingesting n papers from each format; print and save the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--embedder", default="wordllama", help="the ingest's embedder (default: wordllama, fast)")
    ap.add_argument("--repeats", type=int, default=3, help="reads timed this many times (median)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "reports" / "imports.json")
    args = ap.parse_args()
    papers = synth_corpus(args.n)
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp:
        work = Path(tmp)
        jsonl = write_jsonl(papers, work / "library.jsonl")
        dumps = write_dumps(papers, work / "dumps")
        read = {}
        for name, path in (("page dumps", dumps), ("jsonl", jsonl)):
            times = [timed(lambda: load_corpus([path]))[0] for _ in range(args.repeats)]
            read[name] = statistics.median(times)
        corpus = load_corpus([jsonl])
        assert len(corpus.papers) == len(papers), (len(corpus.papers), len(papers))
        one = work / "one"
        one.mkdir()
        (one / "one.txt").write_text(f"{papers[0].title}\n{papers[0].abstract}\n", encoding="utf-8")
        seeds_s, seeds_sum = timed(lambda: ingest(settings(work / "home-dumps", dumps, args.embedder)))
        jsonl_s, jsonl_sum = timed(lambda: ingest(settings(work / "home-jsonl", one, args.embedder), add=[jsonl]))
    n = len(papers)
    row = {"papers": n, "embedder": args.embedder,
           "read_s": {k: round(v, 3) for k, v in read.items()},
           "read_papers_per_s": {k: round(n / v) for k, v in read.items()},
           "ingest_s": {"page dumps": round(seeds_s, 2), "jsonl": round(jsonl_s, 2)},
           "ingest_papers_per_s": {"page dumps": round(seeds_sum.papers / seeds_s), "jsonl": round(jsonl_sum.papers / jsonl_s)},
           "ratio_jsonl_to_dumps": round((jsonl_sum.papers / jsonl_s) / (seeds_sum.papers / seeds_s), 3)}
    print(f"{n:,} papers, embedder {args.embedder}")
    print("| format | read s (papers/s) | ingest s (papers/s) |\n|---|---|---|")
    for k in ("page dumps", "jsonl"):
        print(f"| {k} | {row['read_s'][k]:.3f} ({row['read_papers_per_s'][k]:,}) | "
              f"{row['ingest_s'][k]:.2f} ({row['ingest_papers_per_s'][k]:,}) |")
    print(f"JSONL ingest / page-dump ingest: {row['ratio_jsonl_to_dumps']:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=1) + "\n")


if __name__ == "__main__":
    main()
