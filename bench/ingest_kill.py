"""SIGKILL `rag ingest` at many points; after a rerun the store must hold exactly what a clean ingest holds.

    python -m bench.ingest_kill [--kills 40] [--rebuild-kills 8] [--repair-kills 6] [--no-points]
                                [--chunk-size 64 --batch 64]          (from the project root)

A clean ingest of the real seeds is timed first (small write batches, so there are many commit
points; by default also small chunks, so batches end inside papers: RAG_CHUNK_SIZE=64,
RAG_INGEST_BATCH=64). Then each case starts the same `python -m rag.cli ingest` on a fresh home and
kills it: first at every named point (rag/faultpoints.py: the ingest SIGKILLs itself there; the batch
point at its first, middle and last batch), then with SIGKILL at times spread over the clean run's
duration (interpreter start to exit). It opens a Retriever on what the kill left (every other case: it
must work or raise a RagError with a hint), reruns the ingest to completion and compares the home with
the clean one: chunk ids, documents, metadatas, embeddings, collection metadata and marker, the side
index on disk, and the results of a few searches. Rebuild cases kill `rag ingest --rebuild` of a
finished home (rerun with and without --rebuild); repair cases kill the repairing rerun too.
Prints one row per case and "N kills / N clean recoveries"; writes artifacts/bench/ingest_kill.json.
tests/test_ingest_kill.py runs the named points with default chunks (testing/ingest_kill.py).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from testing.ingest_kill import Clean, Kill, Row, clean_home, kill_case
from testing.seeds import ROOT

SMALL = {"chunk_size": 64, "chunk_overlap": 8, "ingest_batch": 64}  # 3,487 chunks in 55 write batches


def named_points(clean: Clean) -> list[tuple[str, Kill, Kill | None]]:
    """(case, kill, repair kill) at every named point a first ingest, a rebuild and a repair reach."""
    batches = -(-clean.total // clean.kw["ingest_batch"])
    writing = [f"ingest:batch-stored:{n}" for n in sorted({1, (batches + 1) // 2, batches})]
    first = ["ingest:locked", "ingest:marker-cleared", *writing, "side-index:before-switch", "ingest:before-marker",
             "ingest:marker-set"]
    plan: list[tuple[str, Kill, Kill | None]] = [("first", p, None) for p in first]
    plan += [("rebuild-plain", "store:rebuild-dropped", None), ("rebuild", "store:rebuild-dropped", None)]
    plan += [("rebuild" if i % 2 else "rebuild-plain", p, None) for i, p in enumerate(writing)]
    plan += [("repair", writing[1], "ingest:batch-stored:2")]
    return plan


def spread(n: int, seconds: float, lo: float = 0.03, hi: float = 1.0) -> list[float]:
    """n kill times evenly over [lo, hi] of a run that takes `seconds`."""
    return [seconds * (lo + (hi - lo) * (i + 0.5) / n) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=40, help="kill points in a first ingest")
    ap.add_argument("--rebuild-kills", type=int, default=8, help="kill points in `rag ingest --rebuild`")
    ap.add_argument("--repair-kills", type=int, default=6, help="kill points that also kill the repairing rerun")
    ap.add_argument("--no-points", action="store_true", help="timed kills only, not the named points")
    ap.add_argument("--chunk-size", type=int, default=SMALL["chunk_size"], help="RAG_CHUNK_SIZE (tokens)")
    ap.add_argument("--chunk-overlap", type=int, default=SMALL["chunk_overlap"], help="RAG_CHUNK_OVERLAP (tokens)")
    ap.add_argument("--batch", type=int, default=SMALL["ingest_batch"], help="RAG_INGEST_BATCH (chunks per write)")
    args = ap.parse_args()
    faulthandler.enable()  # a crash inside Chroma's native code would otherwise print nothing
    kw = {"chunk_size": args.chunk_size, "chunk_overlap": args.chunk_overlap, "ingest_batch": args.batch}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="ingest-kill-") as tmp:
        base = Path(tmp)
        clean = clean_home(base / "clean", kw)
        print(f"clean ingest: {clean.total} chunks in {clean.seconds:.2f} s with {kw}")
        plan = [] if args.no_points else named_points(clean)
        plan += [("first", t, None) for t in spread(args.kills, clean.seconds)]
        plan += [("rebuild" if i % 2 else "rebuild-plain", t, None)
                 for i, t in enumerate(spread(args.rebuild_kills, clean.seconds))]
        plan += [("repair", t, r) for t, r in zip(spread(args.repair_kills, clean.seconds, 0.4, 0.9),
                                                  spread(args.repair_kills, clean.seconds, 0.3, 0.9)[::-1])]
        print(f"{'#':>3} {'case':<14} {'kill at':>24}  {'recovered':<9}  phase / probe / problems")
        for n, (case, at, repair) in enumerate(plan):
            row = kill_case(clean, base / f"k{n}", at, case=case, check=n % 2 == 0, repair_kill=repair)
            rows.append(row)
            shutil.rmtree(base / f"k{n}", ignore_errors=True)
            note = "; ".join(filter(None, [row.phase, row.probe, *row.problems]))
            print(f"{n:>3} {case:<14} {row.at:>24}  {'yes' if row.recovered else 'NO':<9}  {note}", flush=True)
    kills = sum(r.kills for r in rows)
    killed_rows = [r for r in rows if r.kills]
    clean_ok = sum(r.recovered for r in killed_rows)
    print(f"\n{kills} kills at {len(killed_rows)} kill points / {clean_ok} clean recoveries "
          f"({len(rows) - len(killed_rows)} points finished before their kill; "
          f"{sum(r.recovered for r in rows)}/{len(rows)} of all points ended equal to the clean ingest)")
    out = ROOT / "artifacts" / "bench" / "ingest_kill.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "settings": kw, "clean_seconds": round(clean.seconds, 3), "clean_chunks": clean.total,
        "kills": kills, "kill_points": len(killed_rows), "clean_recoveries": clean_ok,
        "points": len(rows), "rows": [asdict(r) for r in rows],
    }, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
