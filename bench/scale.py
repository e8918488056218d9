"""Scale benchmark: ingest, search and update cost from 615 to 100k papers, embedded store and Chroma server.

For each corpus size (synthetic, deterministic from the seeds: bench/synth.py) and each mode it measures,
every phase in its own child process so peaks do not pollute each other: ingest throughput (warm: timed
after the imports and the embedder load, as the naive path is; and cold: from process start, what a
`rag ingest` user pays) and peak memory; disk size; Retriever open time; warm search latency p50/p95 over
200 queries; re-ingest of the unchanged corpus; the full read of the collection and the BM25 build;
adding 100 papers, and how long until a new Retriever, and one already running, finds one of them.
It also ingests the same corpus the naive way (llama-index VectorStoreIndex.from_documents, same
embedder, into Chroma).

    python -m bench.scale [--sizes 615,10000,100000] [--quick] [--naive-max 100000] [--embedder wordllama]
                          [--out artifacts/bench]

Needs the `bench` extra (pip install -e '.[bench]') for the naive path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent
EMBEDDER = ["wordllama"]  # set from --embedder
ADDED = 100  # papers added to an ingested corpus by the add phase


def _settings(job: dict) -> Settings:
    from rag.config import Settings

    return Settings(_env_file=None, home=Path(job["home"]), chroma_url=job.get("url"), collection=job["collection"])


def _load_ingest_deps(settings: Settings) -> None:
    """Import what our ingest needs and load the embedder, as phase_naive does before its timer."""
    import chromadb.api.rust  # noqa: F401  (Chroma's local core, imported on the first client)
    import llama_index.core.node_parser  # noqa: F401

    from rag.embed.base import get_embedder
    from rag.text.llm_tokens import encoding
    from rag.text.terms import load_bm25s

    load_bm25s()  # its tokenizer (and scipy)

    encoding()  # loaded before phase_naive's timer too
    get_embedder(settings).embed(["warm"])


def phase_ingest(job: dict) -> dict:
    """Ingest the synthetic corpus through our real path (ingest_papers): warm (timed after the imports and
    the embedder load) and cold (from the child's spawn, less making the synthetic corpus)."""
    from bench.synth import synth_corpus

    t = time.perf_counter()
    papers = synth_corpus(job["size"])
    synth_s = time.perf_counter() - t
    settings = _settings(job)
    _load_ingest_deps(settings)
    from rag.ingestion.pipeline import ingest_papers

    t = time.perf_counter()
    summary = ingest_papers(settings, papers)
    seconds = time.perf_counter() - t
    return {"ingest_s": seconds, "papers_per_s": len(papers) / seconds, "chunks": summary.chunks,
            "cold_ingest_s": time.time() - job["spawned"] - synth_s}


def phase_search(job: dict) -> dict:
    """Open a Retriever, time warm searches, re-ingest unchanged, time the full read and the BM25 build."""
    from rag.ingestion.pipeline import ingest_papers
    from rag.store.side_index import SideIndex
    from rag.search.retriever import Retriever
    from bench.synth import queries, synth_corpus

    settings = _settings(job)
    t = time.perf_counter()
    r = Retriever(settings)
    open_s = time.perf_counter() - t
    qs = queries()
    for q in qs[:10]:  # warm-up: first-call costs (numpy, HTTP keep-alive) are not search latency
        r.search(q)
    ms = []
    for q in qs:
        t = time.perf_counter()
        r.search(q)
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    papers = synth_corpus(job["size"])
    t = time.perf_counter()
    again = ingest_papers(settings, papers)
    reingest_s = time.perf_counter() - t
    assert again.added + again.updated + again.removed == 0, "re-ingest of an unchanged corpus wrote"
    # The side index's rebuild from Chroma (after its files are lost): the collection read page by page, and
    # the same read with the index built from it, as refresh_side_index does it.
    t = time.perf_counter()
    for _ in r.store.pages():
        pass
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    update = SideIndex.empty(int(r.store.params["dim"])).updater()
    for page in r.store.pages():
        update.add(*page)
    update.finish()
    return {"open_s": open_s, "p50_ms": statistics.median(ms), "p95_ms": ms[int(0.95 * len(ms)) - 1],
            "reingest_s": reingest_s, "read_all_s": read_s, "bm25_build_s": time.perf_counter() - t - read_s}


def phase_naive(job: dict) -> dict:
    """The naive path: llama-index VectorStoreIndex.from_documents with the same embedder into Chroma."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.embed.base import get_embedder
    from rag.text.llm_tokens import encoding
    from bench.synth import synth_corpus

    encoding()  # sets TIKTOKEN_CACHE_DIR to llama-index's bundled encodings (offline)
    emb = get_embedder(_settings(job))
    emb.embed(["warm"])

    class OurEmbedderLI(BaseEmbedding):
        """Our embedder (the one the settings pick, as our ingest uses) behind llama-index's interface."""

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return emb.embed(texts).tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embedding(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embedding(query)

    papers = synth_corpus(job["size"])
    docs = [Document(text=f"{p.title}\n{p.abstract}", metadata={"paper_id": p.paper_id, "title": p.title})
            for p in papers]
    import chromadb.api.rust  # noqa: F401  (imported before our timer too)

    t = time.perf_counter()  # opening the store is timed on both paths (ours opens it inside ingest_papers)
    client = chromadb.PersistentClient(path=str(Path(job["home"]) / "naive"), settings=ChromaSettings(anonymized_telemetry=False))
    col = client.get_or_create_collection("naive", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    VectorStoreIndex.from_documents(
        docs, storage_context=StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col)),
        embed_model=OurEmbedderLI(), transformations=[SentenceSplitter(chunk_size=512, chunk_overlap=64)],
    )
    seconds = time.perf_counter() - t
    return {"naive_s": seconds, "naive_papers_per_s": len(papers) / seconds, "naive_chunks": col.count()}


def phase_add(job: dict) -> dict:
    """Ingest the corpus plus ADDED new papers while a Retriever opened before is running (its clock is ours);
    time the ingest and that Retriever's first search after it, for a new paper's title (the search reloads)."""
    from rag.ingestion.pipeline import ingest_papers
    from rag.search.retriever import Retriever
    from bench.synth import queries, synth_corpus

    settings = _settings(job)
    now = [0.0]
    running = Retriever(settings, clock=lambda: now[0])
    running.search(queries(1)[0])
    papers = synth_corpus(job["size"] + ADDED)
    t = time.perf_counter()
    summary = ingest_papers(settings, papers)
    add_s = time.perf_counter() - t
    assert (summary.added, summary.updated, summary.removed) == (ADDED, 0, 0), f"adding {ADDED} papers: {summary}"
    now[0] += 2.0  # past the once-a-second freshness check
    new = papers[-1]
    t = time.perf_counter()
    hits = running.search(new.title)
    return {"add100_s": add_s, "running_app_sees_s": time.perf_counter() - t,
            "running_app_found": found(hits, new.paper_id)}


def phase_visible(job: dict) -> dict:
    """After phase_add, in a fresh process (a new app): open a new Retriever and search one added paper's exact
    title, timed together; the embedder is loaded first, as it is in the process that ingested."""
    from rag.embed.base import get_embedder
    from rag.search.retriever import Retriever
    from bench.synth import synth_corpus

    settings = _settings(job)
    get_embedder(settings).embed(["warm"])
    new = synth_corpus(job["size"] + 1)[-1]
    t = time.perf_counter()
    hits = Retriever(settings).search(new.title)
    return {"new_reader_s": time.perf_counter() - t, "add100_found": found(hits, new.paper_id)}


def found(hits: list, paper_id: str) -> bool:
    """Whether the paper is among the top 3 hits for its title (a synthetic title shares its second half with a
    seed paper's, which may rank first)."""
    return any(h.paper_id == paper_id for h in hits[:3])


PHASES = {"ingest": phase_ingest, "search": phase_search, "add": phase_add, "visible": phase_visible,
          "naive": phase_naive}


def child(phase: str, job: dict) -> dict:
    """Run one phase in a fresh Python process; returns its result plus its peak memory (PHASE_peak_mb).
    The job's `spawned` is the wall time just before the spawn, for cold timings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_EMBEDDER"] = EMBEDDER[0]  # both paths embed with the same model
    job = {**job, "spawned": time.time()}
    proc = subprocess.run([sys.executable, "-m", "bench.scale", "--phase", phase, "--job", json.dumps(job)],
                          capture_output=True, text=True, env=env, cwd=str(ROOT))
    if proc.returncode:
        raise SystemExit(f"phase {phase} {job} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def disk_mb(*folders: Path) -> float:
    """Bytes under the folders, in MB."""
    return sum(p.stat().st_size for f in folders if f.exists() for p in f.rglob("*") if p.is_file()) / 1e6


def measure(mode: str, size: int, work: Path, repeats: int) -> dict:
    """All phases for one mode and size; ingest repeated on fresh homes, the median run reported."""
    from testing.chroma_server import ChromaServer

    runs = []
    for rep in range(repeats):
        home = work / f"{mode}-{size}-{rep}"
        server = ChromaServer(work / f"server-{size}-{rep}" / "data").start() if mode == "server" else None
        job = {"home": str(home), "size": size, "collection": "papers", "url": server.url if server else None}
        try:
            row = child("ingest", job)
            row["disk_mb"] = disk_mb(home, server.path if server else home / "none")
            row["server_peak_mb"] = server.peak_rss_mb() if server else 0.0
            if rep == 0:  # search latency is already a median over 200 queries; one pass per size
                row.update(child("search", job))
                row.update(child("add", job))
                row.update(child("visible", job))
                row["add100_visible_s"] = row["add100_s"] + row["new_reader_s"]
        finally:
            if server:
                server.stop()
        runs.append(row)
    median = sorted(runs, key=lambda r: r["papers_per_s"])[len(runs) // 2]
    ingest_keys = ("ingest_s", "papers_per_s", "cold_ingest_s", "ingest_peak_mb", "disk_mb", "server_peak_mb")
    return {**runs[0], **{k: median[k] for k in ingest_keys}, "mode": mode, "size": size,
            "ingest_runs": [round(r["papers_per_s"], 1) for r in runs]}


def save(out: Path, rows: list[dict], naive: list[dict]) -> dict:
    """Write scale.json (also after every row) and return the report."""
    report = {"cpus": os.cpu_count(), "embedder": EMBEDDER[0], "rows": rows, "naive": naive}
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> None:
    """Run every size and mode, print the table, write scale.json and scale.png."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--job", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="615,10000,100000")
    ap.add_argument("--quick", action="store_true", help="small sizes (615, 2000) for a smoke run")
    ap.add_argument("--modes", default="embedded,server")
    ap.add_argument("--naive-max", type=int, default=100000, help="largest size for the naive llama-index path")
    ap.add_argument("--repeats", type=int, default=3, help="ingest runs per size below 10k (larger sizes: one)")
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    ap.add_argument("--embedder", default="wordllama", help="RAG_EMBEDDER of every phase, ours and naive (issue 20 "
                    "measures with WordLlama: a transformer makes embedding the whole cost of both paths)")
    args = ap.parse_args()
    EMBEDDER[0] = args.embedder
    if args.phase:
        from testing.memory import vm_hwm_mb

        result = PHASES[args.phase](json.loads(args.job))
        print(json.dumps({**result, f"{args.phase}_peak_mb": vm_hwm_mb()}))
        return
    sizes = [615, 2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="rag-scale-"))
    rows, naive = [], []
    for size in sizes:
        for mode in args.modes.split(","):
            rows.append(measure(mode, size, work, args.repeats if size < 10000 else 1))
            print(json.dumps(rows[-1]), flush=True)
            save(args.out, rows, naive)  # partial results survive an interrupted run
        if size <= args.naive_max:
            job = {"home": str(work / f"naive-{size}"), "size": size, "collection": "papers"}
            naive.append({"size": size, **child("naive", job)})
            print(json.dumps(naive[-1]), flush=True)
            save(args.out, rows, naive)
    from bench.report import plot, table

    report = save(args.out, rows, naive)
    print(table(report))
    plot(report, args.out / "scale.png")
    print(f"\nwrote {args.out / 'scale.json'} and {args.out / 'scale.png'} (work folder {work})")


if __name__ == "__main__":
    main()
