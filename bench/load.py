"""Answers under load: 50 at once through rag's Python API, 20 at once through the app's /ask endpoint.

    python -m bench.load [--home DIR] [--api 50] [--web 20] [--rounds 3]     (from the project root)

One shared Answerer (extractive, offline) answers a mix of 26 questions (answerable ones of
eval/questions.jsonl, unanswerable, date-filtered, other k, follow-ups with history) one at a time,
then --api of them at once from as many threads, started together at a barrier; then `rag serve`
(started here on a free port of 127.0.0.1) answers them alone through gradio_client, then --web at
once, each from its own Client. Every answer under load must equal the one asked alone (timings aside).
Prints p50 / p95 / max latency and requests/s per load and writes artifacts/bench/load.json and
load.png (latency distribution alone and under load). The mix and the barrier are testing/load.py's, which
tests/test_load.py uses too.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

from testing.load import ROOT, Case, ask_api, ask_web, cases, snapshot, together

T = TypeVar("T")
R = TypeVar("R")


def alone(fn: Callable[[T], R], items: list[T]) -> tuple[list[R], list[float]]:
    """fn over items one after the other: (results, latency per item in ms)."""
    results, latency = [], []
    for item in items:
        t = time.perf_counter()
        results.append(fn(item))
        latency.append((time.perf_counter() - t) * 1000)
    return results, latency


def pct(xs: list[float], q: float) -> float:
    """The q-quantile of xs (nearest rank)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def summary(latency: list[float], wall_s: float | None = None) -> dict[str, float]:
    """p50 / p95 / max in ms, and requests per second (over the load's wall time, else over the sum)."""
    s = {"n": len(latency), "p50_ms": round(pct(latency, 0.5), 1), "p95_ms": round(pct(latency, 0.95), 1),
         "max_ms": round(max(latency), 1)}
    s["requests_per_s"] = round(len(latency) / (wall_s if wall_s else sum(latency) / 1000), 2)
    return s


def server_ms(results: list[Any]) -> list[float]:
    """The answerer's own time per answer (its timings_ms total), to tell queueing and transport from work."""
    out = []
    for r in results:
        if not isinstance(r, BaseException):
            timings = r.timings_ms if hasattr(r, "timings_ms") else r.get("timings_ms", {})
            out.append(float(timings.get("total", 0.0)))
    return out


def mismatches(cases_run: list[Case], got: list[Any], expected: dict[Case, dict[str, Any]]) -> list[str]:
    """The cases whose answer under load failed or differs from the one asked alone."""
    bad = []
    for case, result in zip(cases_run, got):
        if isinstance(result, BaseException):
            bad.append(f"{case.label()}: {type(result).__name__}: {result}")
        elif snapshot(result) != expected[case]:
            bad.append(f"{case.label()}: differs from the answer asked alone")
    return bad


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) a process has used so far: this one, or another by PID (Linux)."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, fn: Callable[[Case], Any], mix: list[Case], n: int, rounds: int,
            load_fn: Callable[[int, Case], Any] | None = None, server_pid: int | None = None) -> dict[str, Any]:
    """The mix asked alone with fn (`rounds` times), then n at once (`rounds` times) with load_fn(caller, case)
    (default: fn); latencies and the answers under load that failed or differed from the ones asked alone."""
    load_fn = load_fn or (lambda _, case: fn(case))
    expected: dict[Case, dict[str, Any]] = {}
    alone_ms: list[float] = []
    alone_work: list[float] = []
    cpu = {"alone": 0.0, "load": 0.0}  # of the server when there is one, else of this process
    own = {"alone": 0.0, "load": 0.0}  # of this process (the callers, and the answerer without a server)
    for _ in range(rounds):
        c0, o0 = cpu_s(server_pid), cpu_s()
        results, ms = alone(fn, mix)
        alone_ms += ms
        alone_work += server_ms(results)
        cpu["alone"] += cpu_s(server_pid) - c0
        own["alone"] += cpu_s() - o0
        for case, r in zip(mix, results):
            if expected.setdefault(case, snapshot(r)) != snapshot(r):
                print(f"warning: {name}: the same question asked alone twice gave two answers: {case.label()}")
    load = [mix[i % len(mix)] for i in range(n)]
    load_ms, load_work, walls, bad = [], [], [], []
    for _ in range(rounds):
        c0, o0 = cpu_s(server_pid), cpu_s()
        got, ms, wall = together(lambda i: load_fn(i, load[i]), list(range(n)))
        cpu["load"] += cpu_s(server_pid) - c0
        own["load"] += cpu_s() - o0
        load_ms += ms
        load_work += server_ms(got)
        walls.append(wall)
        bad += mismatches(load, got, expected)
    alone_s, load_s = summary(alone_ms), summary(load_ms, sum(walls))
    print(f"{name:4s} alone       p50 {alone_s['p50_ms']:7.1f}  p95 {alone_s['p95_ms']:7.1f}  "
          f"max {alone_s['max_ms']:7.1f} ms  {alone_s['requests_per_s']:6.1f} req/s  (n={alone_s['n']})")
    print(f"{name:4s} {n} at once  p50 {load_s['p50_ms']:7.1f}  p95 {load_s['p95_ms']:7.1f}  "
          f"max {load_s['max_ms']:7.1f} ms  {load_s['requests_per_s']:6.1f} req/s  (n={load_s['n']}, "
          f"{len(bad)} failed or differed)")
    work = {"alone": summary(alone_work), "load": summary(load_work)}
    per = lambda c: {k: round(c[k] * 1000 / max(1, rounds * (len(mix) if k == "alone" else n)), 1) for k in c}  # noqa: E731
    cpu_per, own_per = per(cpu), per(own)
    print(f"     the answerer's own time (timings_ms total): alone p50 {work['alone']['p50_ms']:.1f} ms, "
          f"at once p50 {work['load']['p50_ms']:.1f}  p95 {work['load']['p95_ms']:.1f} ms; "
          f"{'server' if server_pid else 'process'} CPU per answer: alone {cpu_per['alone']} ms, "
          f"at once {cpu_per['load']} ms" + (f"; callers' CPU per answer: alone {own_per['alone']} ms, "
                                              f"at once {own_per['load']} ms" if server_pid else ""))
    for line in bad[:10]:
        print(f"  {line}")
    return {"concurrent": n, "rounds": rounds, "alone": alone_s, "load": load_s, "mismatches": bad,
            "cpu_ms_per_answer": cpu_per, "cpu_of": "server" if server_pid else "this process",
            "callers_cpu_ms_per_answer": own_per,
            "answerer_ms": {k: {x: v[x] for x in ("p50_ms", "p95_ms", "max_ms")} for k, v in work.items()},
            "alone_each_ms": [round(x, 1) for x in alone_ms], "load_each_ms": [round(x, 1) for x in load_ms],
            "load_wall_s": [round(w, 3) for w in walls]}


def plot(report: dict[str, Any], path: Path) -> None:
    """Latency distribution (empirical CDF) alone and under load, one panel per path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in zip(axes, ("api", "web"), ("Python API (one shared Answerer)", "App /ask (gradio_client)")):
        r = report[key]
        for which, color, label in (("alone_each_ms", "tab:blue", "asked alone"),
                                    ("load_each_ms", "tab:orange", f"{r['concurrent']} at once")):
            xs = sorted(r[which])
            ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post", color=color,
                    label=f"{label} (p50 {pct(xs, 0.5):.0f}, p95 {pct(xs, 0.95):.0f} ms)")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # labelled minor ticks overlap
        ax.set_xlabel("latency per answer, ms (log)")
        ax.set_ylabel("share of answers")
        ax.set_title(title)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Extractive answers under load (load average {report['loadavg_start'][0]:.1f} at start)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, help="an ingested RAG_HOME (default: ingest the seeds into a temp folder)")
    ap.add_argument("--api", type=int, default=50, help="answers at once through the Python API")
    ap.add_argument("--web", type=int, default=20, help="answers at once through the app's /ask")
    ap.add_argument("--rounds", type=int, default=3, help="times each load (and the mix alone) is run")
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before gradio_client is imported

    from gradio_client import Client

    from rag.answer.answerer import Answerer
    from rag.config import Settings
    from rag.ingestion.pipeline import ingest
    from ui.api import CONCURRENCY
    from testing.app_server import app_process

    mix = cases()
    report: dict[str, Any] = {"cases": len(mix), "cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home
        if home is None:
            home = Path(tmp) / "home"
            ingest(Settings(_env_file=None, home=home, seeds=ROOT / "seeds"))
        answerer = Answerer(Settings(_env_file=None, home=home, seeds=ROOT / "seeds"))
        answerer.ask("warm up the search and the sentence scorer", mode="extractive")
        report["api"] = measure("api", lambda c: ask_api(answerer, c), mix, args.api, args.rounds)
        server = app_process(home, Path(tmp) / "serve.log").start(timeout=180)
        try:
            url = server.ready_url.rstrip("/")
            client = Client(url, verbose=False)
            with ThreadPoolExecutor(8) as pool:  # each simultaneous caller has its own Client (its own session)
                clients = list(pool.map(lambda _: Client(url, verbose=False), range(args.web)))
            report["web"] = measure("web", lambda c: ask_web(client, c), mix, args.web, args.rounds,
                                    load_fn=lambda i, c: ask_web(clients[i], c), server_pid=server.proc.pid)
        finally:
            server.stop()
    report["loadavg_end"] = os.getloadavg()
    report["app_concurrency_limit"] = CONCURRENCY
    print(f"load average (1, 5, 15 min): at start {report['loadavg_start']}, at end {report['loadavg_end']}; "
          f"{report['cpus']} CPUs; the app answers {CONCURRENCY} at a time (ui/api.py CONCURRENCY)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.json").write_text(json.dumps(report, indent=1))
    plot(report, args.out / "load.png")


if __name__ == "__main__":
    main()
