"""Retrieval benchmark: known-item (titles -> untitled abstracts) and paraphrase questions.

Prints R@1, R@10, MRR@10 (known-item) and hit@5, MRR@10 (paraphrases) for BM25 alone, dense alone
and the fusion settings, plus ingest time and warm search latency. Writes a plot next to the report.

    python -m bench.retrieval [--out artifacts/bench]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> settings overrides; the first two are each retriever alone.
METHODS: dict[str, dict] = {
    "bm25": {"fusion": "zscore", "dense_weight": 0.0, "bm25_weight": 1.0, "pair_weight": 0.0},
    "bm25 + pairs": {"fusion": "zscore", "dense_weight": 0.0, "bm25_weight": 1.0},
    "dense": {"fusion": "zscore", "dense_weight": 1.0, "bm25_weight": 0.0},
    "rrf k=60 equal": {"fusion": "rrf", "rrf_k": 60.0, "dense_weight": 1.0, "bm25_weight": 1.0},
    "rrf k=10 bm25x3": {"fusion": "rrf", "rrf_k": 10.0, "dense_weight": 1.0, "bm25_weight": 3.0},
    "zscore dense 0.5, no pairs": {"fusion": "zscore", "dense_weight": 0.5, "pair_weight": 0.0},
    "zscore dense 1.0, no pairs": {"fusion": "zscore", "dense_weight": 1.0, "pair_weight": 0.0},
    "zscore dense 0.5 + pairs": {"fusion": "zscore", "dense_weight": 0.5},
    "zscore dense 1.0 + pairs (default)": {},
}


def metrics(ranked: list[list[str]], expected: list[str]) -> dict[str, float]:
    """R@1, R@5, R@10 and MRR@10 of one expected id per query."""
    n = len(expected)
    rr, r1, r5, r10 = 0.0, 0, 0, 0
    for ids, want in zip(ranked, expected):
        pos = ids.index(want) + 1 if want in ids else 0
        r1 += pos == 1
        r5 += 0 < pos <= 5
        r10 += 0 < pos <= 10
        rr += 1.0 / pos if 0 < pos <= 10 else 0.0
    return {"R@1": r1 / n, "R@5": r5 / n, "R@10": r10 / n, "MRR@10": rr / n}


def run(retriever, base, overrides: dict, queries: list[str]) -> tuple[list[list[str]], list[float]]:
    """Rank papers for each query under the given settings; also return per-query latency (ms)."""
    for key, value in {**base, **overrides}.items():
        setattr(retriever.settings, key, value)
    ranked, ms = [], []
    for q in queries:
        t = time.perf_counter()
        hits = retriever.search(q, k=10)
        ms.append((time.perf_counter() - t) * 1000)
        ranked.append([h.paper_id for h in hits])
    return ranked, ms


def main() -> None:
    """Run both tasks for every method and print a table."""
    from rag.config import Settings
    from rag.corpus.readers import load_corpus
    from rag.corpus.records import paper_id
    from rag.ingestion.pipeline import ingest
    from rag.search.retriever import Retriever

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    ap.add_argument("--chunk-sizes", default="", help="also compare these chunk sizes, e.g. 128,256,512")
    ap.add_argument("--questions", type=Path, default=ROOT / "eval" / "paraphrase_queries.jsonl")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    papers = load_corpus([ROOT / "seeds"]).papers
    paras = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]

    report: dict = {"ingest": {}, "known_item": {}, "paraphrase": {}, "latency_ms": {}}
    for titles in (False, True):
        s = Settings(home=home, seeds=ROOT / "seeds", collection=f"bench-titles-{titles}", index_titles=titles)
        t = time.perf_counter()
        summary = ingest(s)
        report["ingest"][f"titles={titles}"] = {"seconds": round(time.perf_counter() - t, 3), "chunks": summary.chunks}
        again = ingest(s)
        report["ingest"][f"titles={titles} re-ingest"] = {"seconds": again.seconds, "writes": again.added + again.updated + again.removed}
        r = Retriever(s)
        base = {k: getattr(s, k) for k in ("fusion", "rrf_k", "dense_weight", "bm25_weight", "pair_weight")}
        for name, over in METHODS.items():
            if not titles:
                ranked, ms = run(r, base, over, [p.title for p in papers])
                report["known_item"][name] = metrics(ranked, [p.paper_id for p in papers])
                report["latency_ms"][name] = {"p50": statistics.median(ms), "p95": sorted(ms)[int(0.95 * len(ms)) - 1]}
            else:
                ranked, _ = run(r, base, over, [q["question"] for q in paras])
                want = [paper_id(q["expected_titles"][0]) for q in paras]
                report["paraphrase"][name] = metrics(ranked, want)
    print(json.dumps(report["ingest"]))
    print(f"\nknown-item ({len(papers)} titles -> abstracts indexed without titles)")
    print(f"{'method':<36}{'R@1':>7}{'R@10':>7}{'MRR@10':>8}   |  paraphrase ({len(paras)}) {'hit@5':>6}{'MRR@10':>8}   | p50 ms  p95 ms")
    for name in METHODS:
        k, p, lat = report["known_item"][name], report["paraphrase"][name], report["latency_ms"][name]
        print(f"{name:<36}{k['R@1']:>7.3f}{k['R@10']:>7.3f}{k['MRR@10']:>8.3f}   |  {'':>16}{p['R@5']:>6.3f}{p['MRR@10']:>8.3f}   | {lat['p50']:6.2f}  {lat['p95']:6.2f}")
    if args.chunk_sizes:
        report["chunking"] = compare_chunking(home, papers, paras, [int(x) for x in args.chunk_sizes.split(",")])
    (args.out / "retrieval.json").write_text(json.dumps(report, indent=2))
    plot(report, args.out / "retrieval.png")
    print(f"\nwrote {args.out / 'retrieval.json'} and {args.out / 'retrieval.png'}")


def compare_chunking(home: Path, papers: list, paras: list[dict], sizes: list[int]) -> dict:
    """Default fusion at several chunk sizes (overlap = size/8): known-item MRR@10, paraphrase hit@5."""
    from rag.config import Settings
    from rag.corpus.records import paper_id
    from rag.ingestion.pipeline import ingest
    from rag.search.retriever import Retriever

    out = {}
    print("\nchunk size  chunks  ingest s  known-item MRR@10  paraphrase hit@5")
    for size in sizes:
        row = {}
        for titles in (False, True):
            s = Settings(home=home, seeds=ROOT / "seeds", collection=f"bench-c{size}-{titles}", index_titles=titles,
                         chunk_size=size, chunk_overlap=size // 8)
            t = time.perf_counter()
            summary = ingest(s)
            row["chunks"], row["ingest_s"] = summary.chunks, round(time.perf_counter() - t, 2)
            r = Retriever(s)
            if titles:
                ranked, _ = run(r, {}, {}, [q["question"] for q in paras])
                row["paraphrase_hit@5"] = metrics(ranked, [paper_id(q["expected_titles"][0]) for q in paras])["R@5"]
            else:
                ranked, _ = run(r, {}, {}, [p.title for p in papers])
                row["known_item_MRR@10"] = metrics(ranked, [p.paper_id for p in papers])["MRR@10"]
        out[size] = row
        print(f"{size:>10}  {row['chunks']:>6}  {row['ingest_s']:>8}  {row['known_item_MRR@10']:>17.3f}  {row['paraphrase_hit@5']:>16.3f}")
    return out


def plot(report: dict, path: Path) -> None:
    """Bar chart: known-item MRR@10 and paraphrase hit@5 per method."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = list(report["known_item"])
    x = range(len(names))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar([i - 0.2 for i in x], [report["known_item"][n]["MRR@10"] for n in names], 0.4, label="known-item MRR@10")
    ax.bar([i + 0.2 for i in x], [report["paraphrase"][n]["R@5"] for n in names], 0.4, label="paraphrase hit@5")
    ax.set_xticks(list(x), names, rotation=15)
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    ax.set_title("Retrieval on the 615 seed papers")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
