"""SIGKILL `rag ingest` at many points; after a rerun the store must hold exactly what a clean ingest holds.

    python bench/ingest_kill.py [--kills 40] [--rebuild-kills 8] [--repair-kills 6] [--chunk-size 64 --batch 64]

A clean ingest of the real seeds is timed first (small write batches, so there are many commit
points; by default also small chunks, so batches end inside papers: RAG_CHUNK_SIZE=64,
RAG_INGEST_BATCH=64). Then each kill point starts the same `python -m rag.cli ingest` on a fresh
home, SIGKILLs it at a time spread over the clean run's duration (interpreter start to exit), opens
a Retriever on what it left (every other point: it must work or raise a RagError with a hint),
reruns the ingest to completion and compares the home with the clean one: chunk ids, documents,
metadatas, embeddings, collection metadata and marker, the BM25 mirror on disk, and the results of
a few searches. Rebuild kills SIGKILL `rag ingest --rebuild` of a finished home (rerun with and
without --rebuild); repair kills SIGKILL the repairing rerun too.
Prints one row per kill point and "N kills / N clean recoveries"; writes artifacts/bench/ingest_kill.json.
tests/test_ingest_kill.py uses the same functions with fewer points.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from rag.store.paths import Paths

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL = {"chunk_size": 64, "chunk_overlap": 8, "ingest_batch": 64}  # 3,487 chunks in 55 write batches
QUERIES = ["mixture of experts inference", "KV cache compression for long context",
           "video generation with diffusion models", "reinforcement learning for reasoning"]


def settings_for(home: Path, **kw: Any) -> Any:
    """Settings of a home (the real seeds, no .env), as the ingest subprocess sees them."""
    from rag.config import Settings

    return Settings(_env_file=None, home=home, seeds=ROOT / "seeds", **kw)


def env_for(home: Path, kw: dict[str, Any], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The subprocess environment: no RAG_* of ours but RAG_HOME, RAG_SEEDS and kw as RAG_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_HOME": str(home), "RAG_SEEDS": str(ROOT / "seeds"), "HF_HUB_OFFLINE": "1"})
    env.update({f"RAG_{k.upper()}": str(v) for k, v in kw.items()})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def start(home: Path, kw: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m rag.cli ingest --json ARGS` in the background."""
    return subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", "--json", *args], cwd=str(home.parent),
                            env=env_for(home, kw, env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(home: Path, kw: dict[str, Any], *args: str, env: dict[str, str] | None = None,
        timeout: float = 300) -> tuple[int, dict, str]:
    """Run an ingest to the end: (exit code, its JSON summary or {}, stderr)."""
    proc = start(home, kw, *args, env=env)
    out, err = proc.communicate(timeout=timeout)
    try:
        summary = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except json.JSONDecodeError:
        summary = {}
    return proc.returncode, summary, err


def kill_at(proc: subprocess.Popen, started: float, at: float) -> bool:
    """SIGKILL proc `at` seconds after `started`; False if it had already exited by then."""
    time.sleep(max(0.0, started + at - time.monotonic()))
    if proc.poll() is not None:
        proc.communicate()
        return False
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return proc.returncode == -signal.SIGKILL


def drop_chroma_clients() -> None:
    """Forget this process's cached Chroma systems, so the next open reads what another process wrote."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def _open(settings: Any) -> Any:
    from rag.embed.base import get_embedder
    from rag.store.chroma import Store, build_params

    emb = get_embedder(settings)
    return Store.open(settings, build_params(settings, emb.name, emb.dim), create=False)


def _sidecar(settings: Any) -> dict | None:
    from rag.store.side_index import SideIndex

    try:
        return json.loads(SideIndex.chunks_file(Paths.of(settings).side_index_dir).read_text())
    except (OSError, ValueError):
        return None


def snapshot(settings: Any) -> dict[str, Any]:
    """Everything a finished home holds that a clean ingest must reproduce."""
    import numpy as np

    from rag.store.side_index import SideIndex
    from rag.search.retriever import Retriever
    from rag.store.chroma import digest

    try:
        store = _open(settings)
        ids, docs, metas, vectors = store.all_chunks()
        meta = dict(store.client.get_collection(settings.collection, embedding_function=None).metadata or {})
        side = _sidecar(settings)  # read before a Retriever could rebuild it
        mirror = SideIndex.load(Paths.of(settings).side_index_dir, side["fingerprint"]) if side else None
        r = Retriever(settings)
        searches = [[(h.paper_id, h.score) for h in r.search(q, k=5)] for q in QUERIES]
        used_saved = side is not None and r.index.fingerprint == side["fingerprint"]
    finally:
        drop_chroma_clients()
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return {
        "ids": [ids[i] for i in order], "docs": [docs[i] for i in order], "metas": [metas[i] for i in order],
        "vectors": np.asarray(vectors)[order] if len(ids) else np.zeros((0, 0)), "collection_meta": meta,
        "digest": digest(ids, metas), "mirror": None if mirror is None else {
            "fingerprint": mirror.fingerprint, "chunks": dict(zip(mirror.ids, mirror.docs)), "n": len(mirror.ids)},
        "retriever_used_saved_mirror": used_saved, "searches": searches,
    }


def differences(got: dict[str, Any], clean: dict[str, Any]) -> list[str]:
    """What differs between a recovered home's snapshot and the clean one's (empty: recovered cleanly)."""
    import numpy as np

    out = []
    ids, want = got["ids"], set(clean["ids"])
    if len(ids) != len(set(ids)):
        out.append(f"{len(ids) - len(set(ids))} duplicate chunk ids")
    if set(ids) != want:
        out.append(f"{len(set(ids) - want)} orphaned and {len(want - set(ids))} missing chunks")
    elif got["docs"] != clean["docs"] or got["metas"] != clean["metas"]:
        out.append("documents or metadatas differ")
    elif got["vectors"].shape != clean["vectors"].shape or not np.allclose(got["vectors"], clean["vectors"], atol=1e-6):
        out.append("embeddings differ")
    if got["collection_meta"] != clean["collection_meta"]:
        out.append(f"collection metadata differs: {got['collection_meta']} vs {clean['collection_meta']}")
    if got["collection_meta"].get("content_digest") != got["digest"]:
        out.append("the marker does not match the store's contents")
    mirror, chunks = got["mirror"], dict(zip(got["ids"], got["docs"]))
    if mirror is None:
        out.append("no loadable BM25 mirror on disk")
    elif mirror["fingerprint"] != (clean["mirror"] or {}).get("fingerprint") or mirror["chunks"] != chunks \
            or mirror["n"] != len(ids) or not mirror["fingerprint"].startswith(got["digest"] + "|"):
        out.append("the BM25 mirror on disk does not match the store")
    if not got["retriever_used_saved_mirror"]:
        out.append("a Retriever did not use the saved BM25 mirror")
    if not same_searches(got["searches"], clean["searches"]):
        out.append("search results differ")
    return out


def same_searches(a: list, b: list) -> bool:
    """Same papers in the same order, scores equal up to float summation order."""
    return all([p for p, _ in x] == [p for p, _ in y] and all(abs(s - t) < 1e-4 for (_, s), (_, t) in zip(x, y))
               for x, y in zip(a, b)) and len(a) == len(b)


def phase(settings: Any, total: int, old_collection: str | None = None) -> str:
    """Where a killed ingest stopped, told by what it left: the store, its marker, the BM25 sidecar."""
    from rag.errors import RagError
    from rag.store.chroma import digest

    if not Paths.of(settings).chroma_dir.is_dir():
        return "before the store was opened"
    try:
        store = _open(settings)
        ids, metas = store.snapshot()
        marker, col_id = store.marker(), str(store.collection.id)
        partial = sum(p.found < p.n_chunks for p in store.papers((ids, metas)).values())
    except RagError:
        return "store created, no collection yet"
    finally:
        drop_chroma_clients()
    side = _sidecar(settings)
    mirrored = side is not None and side["fingerprint"].startswith(digest(ids, metas) + "|")
    if old_collection is not None and col_id == old_collection:
        return "old collection not dropped yet" if marker else "old collection, marker cleared"
    if not ids:
        return "collection created, no chunk stored yet"
    if len(ids) < total:
        return f"writing: {len(ids)}/{total} chunks stored" + (f", {partial} papers partly" if partial else "")
    if marker:
        return "done (marker set), not yet exited"
    return "all chunks stored, marker pending" + (" (mirror saved)" if mirrored else " (mirror not saved)")


def probe(settings: Any) -> str:
    """Open a Retriever on a half-written home and search: it must work or raise a RagError with a hint."""
    from rag.errors import RagError
    from rag.search.retriever import Retriever

    try:
        hits = Retriever(settings).search(QUERIES[0], k=3)
        return f"search ok ({len(hits)} hits)"
    except RagError as e:
        if not e.hint:
            raise AssertionError(f"RagError without a hint: {e.message}") from e
        return f"RagError: {e.message} (hint: {e.hint})"
    finally:
        drop_chroma_clients()


@dataclass
class Row:
    """One kill point and what came of it."""

    case: str
    at_s: float
    killed: bool
    phase: str = ""
    probe: str = ""
    recovered: bool = False
    problems: list[str] = field(default_factory=list)
    kills: int = 0  # SIGKILLs that hit a running ingest in this case (a repair case kills twice)


@dataclass
class Clean:
    """The reference home: its snapshot, chunk count and how long its ingest took."""

    home: Path
    kw: dict[str, Any]
    seconds: float
    snap: dict[str, Any]

    @property
    def total(self) -> int:
        return len(self.snap["ids"])


def clean_home(home: Path, kw: dict[str, Any]) -> Clean:
    """Ingest into home without interruption, timed from process start to exit."""
    t0 = time.monotonic()
    rc, _, err = run(home, kw)
    if rc != 0:
        raise RuntimeError(f"clean ingest failed: {err[-2000:]}")
    return Clean(home, kw, time.monotonic() - t0, snapshot(settings_for(home, **kw)))


def kill_case(clean: Clean, home: Path, at: float, *, case: str = "first", check: bool = True,
              repair_at: float | None = None) -> Row:
    """Kill one ingest at `at` s (case first/rebuild/repair), maybe probe, rerun to the end, compare."""
    kw, settings = clean.kw, settings_for(home, **clean.kw)
    old = None
    args: tuple[str, ...] = ()
    if case.startswith("rebuild"):
        shutil.copytree(clean.home, home)
        old, args = str(_open(settings).collection.id), ("--rebuild",)
        drop_chroma_clients()
    proc = start(home, kw, *args)
    row = Row(case, round(at, 2), kill_at(proc, time.monotonic(), at))
    row.kills = int(row.killed)
    row.phase = phase(settings, clean.total, old) if row.killed else "finished before the kill"
    if repair_at is not None:  # kill the rerun that repairs it as well
        proc = start(home, kw)
        killed = kill_at(proc, time.monotonic(), repair_at)
        row.kills += int(killed)
        row.phase += f"; rerun killed at {repair_at:.2f} s: " + (phase(settings, clean.total) if killed else "finished")
    if check:
        row.probe = probe(settings)
    rc, _, err = run(home, kw, *(args if case == "rebuild" else ()))  # "rebuild-plain" reruns without --rebuild
    if rc != 0:
        row.problems = [f"rerun exited {rc}: {err.strip()[-300:]}"]
        return row
    row.problems = differences(snapshot(settings), clean.snap)
    row.recovered = not row.problems
    return row


def spread(n: int, seconds: float, lo: float = 0.03, hi: float = 1.0) -> list[float]:
    """n kill times evenly over [lo, hi] of a run that takes `seconds`."""
    return [seconds * (lo + (hi - lo) * (i + 0.5) / n) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=40, help="kill points in a first ingest")
    ap.add_argument("--rebuild-kills", type=int, default=8, help="kill points in `rag ingest --rebuild`")
    ap.add_argument("--repair-kills", type=int, default=6, help="kill points that also kill the repairing rerun")
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
        plan = [("first", t, None) for t in spread(args.kills, clean.seconds)]
        plan += [("rebuild" if i % 2 else "rebuild-plain", t, None)
                 for i, t in enumerate(spread(args.rebuild_kills, clean.seconds))]
        plan += [("repair", t, r) for t, r in zip(spread(args.repair_kills, clean.seconds, 0.4, 0.9),
                                                  spread(args.repair_kills, clean.seconds, 0.3, 0.9)[::-1])]
        print(f"{'#':>3} {'case':<14} {'kill at':>8}  {'recovered':<9}  phase / probe / problems")
        for n, (case, at, repair) in enumerate(plan):
            row = kill_case(clean, base / f"k{n}", at, case=case, check=n % 2 == 0, repair_at=repair)
            rows.append(row)
            shutil.rmtree(base / f"k{n}", ignore_errors=True)
            note = "; ".join(filter(None, [row.phase, row.probe, *row.problems]))
            print(f"{n:>3} {case:<14} {at:>7.2f}s  {'yes' if row.recovered else 'NO':<9}  {note}", flush=True)
    kills = sum(r.kills for r in rows)
    killed_rows = [r for r in rows if r.kills]
    clean_ok = sum(r.recovered for r in killed_rows)
    print(f"\n{kills} kills at {len(killed_rows)} kill points / {clean_ok} clean recoveries "
          f"({len(rows) - len(killed_rows)} points finished before their kill time; "
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
