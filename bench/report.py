"""The scale benchmark's table (markdown, for docs/reports/scale.md) and plot (throughput, memory, latency and
update costs against size, with the goals). Rows from older runs may lack some keys: those cells show "-"."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

NAIVE_FACTOR = 1.5  # goal: ingest at least this many times the naive llama-index throughput
GOAL_PEAK_MB = 1500
GOAL_P95_MS = 25
GOAL_REINGEST_S = 3
GOAL_VISIBLE_S = 10


def _cell(row: dict, key: str, spec: str) -> str:
    """row[key] formatted, or "-" when an older run did not measure it."""
    return format(row[key], spec) if row.get(key) is not None else "-"


def table(report: dict) -> str:
    """One markdown row per (size, mode), with the naive llama-index ratio (warm throughputs) and the
    server/embedded latency ratio."""
    naive = {n["size"]: n["naive_papers_per_s"] for n in report["naive"]}
    p95 = {(r["mode"], r["size"]): r["p95_ms"] for r in report["rows"] if "p95_ms" in r}
    lines = [
        ("| papers | store | ingest papers/s (warm) | ingest s warm / cold | vs naive | peak MB (client + server) "
         "| disk MB | search p50 / p95 ms | server/embedded p95 | open s | re-ingest s | add 100 s / visible s "
         "| running app sees s | full read s | BM25 build s |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(report["rows"], key=lambda r: (r["size"], r["mode"])):
        size = r["size"]
        ratio = f"{r['papers_per_s'] / naive[size]:.2f}x" if size in naive else "-"
        peak = f"{r['ingest_peak_mb']:.0f}" + (f" + {r['server_peak_mb']:.0f}" if r.get("server_peak_mb") else "")
        vs = (f"{r['p95_ms'] / p95[('embedded', size)]:.2f}x"
              if r["mode"] == "server" and "p95_ms" in r and ("embedded", size) in p95 else "-")
        latency = f"{_cell(r, 'p50_ms', '.1f')} / {_cell(r, 'p95_ms', '.1f')}"
        running = _cell(r, "running_app_sees_s", ".2f")
        if "running_app_found" in r:
            running += "" if r["running_app_found"] else " (not found)"
        visible = _cell(r, "add100_visible_s", ".2f") + ("" if r.get("add100_found", True) else " (not found)")
        lines.append(
            f"| {size:,} | {r['mode']} | {r['papers_per_s']:,.0f} "
            f"| {r['ingest_s']:.1f} / {_cell(r, 'cold_ingest_s', '.1f')} | {ratio} | {peak} | {_cell(r, 'disk_mb', ',.0f')} | {latency} | {vs} | {_cell(r, 'open_s', '.2f')} "
            f"| {_cell(r, 'reingest_s', '.2f')} | {_cell(r, 'add100_s', '.2f')} / {visible} | {running} "
            f"| {_cell(r, 'read_all_s', '.2f')} | {_cell(r, 'bm25_build_s', '.2f')} |"
        )
    for n in report["naive"]:
        lines.append(f"\nnaive llama-index `VectorStoreIndex.from_documents` at {n['size']:,} papers: "
                     f"{n['naive_papers_per_s']:,.0f} papers/s ({n['naive_s']:.1f} s, peak {n['naive_peak_mb']:.0f} MB)")
    return "\n".join(lines)


def _line(ax: Axes, rows: list[dict], key: str, style: str, **kw: Any) -> None:
    """Plot row[key] against size for the rows that have it (no legend entry when none has)."""
    have = [r for r in rows if r.get(key) is not None]
    if have:
        ax.plot([r["size"] for r in have], [r[key] for r in have], style, **kw)


def plot(report: dict, path: Path) -> None:
    """Four panels against corpus size (log x): ingest throughput, peak memory, search latency p50/p95 and
    update costs, each with its goal."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ((thr, mem), (lat, upd)) = plt.subplots(2, 2, figsize=(12, 8.5))
    naive = sorted(report["naive"], key=lambda n: n["size"])
    for mode, color in (("embedded", "tab:blue"), ("server", "tab:orange")):
        rows = sorted((r for r in report["rows"] if r["mode"] == mode), key=lambda r: r["size"])
        if not rows:
            continue
        _line(thr, rows, "papers_per_s", "o-", color=color, label=f"ours, {mode}")
        sizes = [r["size"] for r in rows]
        mem.plot(sizes, [r["ingest_peak_mb"] + r.get("server_peak_mb", 0) for r in rows], "o-", color=color,
                 label=f"ours ingest, {mode}" + (" (client + server)" if mode == "server" else ""))
        _line(mem, rows, "search_peak_mb", "s--", color=color, label=f"ours search, {mode}")
        _line(lat, rows, "p50_ms", "o-", color=color, label=f"{mode} p50")
        _line(lat, rows, "p95_ms", "s--", color=color, label=f"{mode} p95")
        _line(upd, rows, "reingest_s", "o-", color=color, label=f"unchanged re-ingest, {mode}")
        _line(upd, rows, "add100_visible_s", "s--", color=color, label=f"add 100 until visible, {mode}")
        _line(upd, rows, "running_app_sees_s", "^:", color=color, label=f"running app's reload search, {mode}")
    if naive:
        sizes = [n["size"] for n in naive]
        thr.plot(sizes, [n["naive_papers_per_s"] for n in naive], "x-", color="tab:gray", label="naive llama-index")
        thr.plot(sizes, [NAIVE_FACTOR * n["naive_papers_per_s"] for n in naive], ":", color="tab:red",
                 label=f"goal {NAIVE_FACTOR}x naive")
        _line(mem, naive, "naive_peak_mb", "x-", color="tab:gray", label="naive ingest")
    mem.axhline(GOAL_PEAK_MB, color="tab:red", lw=0.8, ls=":", label=f"goal {GOAL_PEAK_MB / 1000} GB")
    lat.axhline(GOAL_P95_MS, color="tab:red", lw=0.8, ls=":", label=f"goal p95 {GOAL_P95_MS} ms")
    upd.axhline(GOAL_REINGEST_S, color="tab:red", lw=0.8, ls=":", label=f"goal re-ingest {GOAL_REINGEST_S} s")
    upd.axhline(GOAL_VISIBLE_S, color="tab:purple", lw=0.8, ls=":", label=f"goal add 100 visible {GOAL_VISIBLE_S} s")
    upd.set_yscale("log")
    for ax, title, unit in ((thr, "Ingest throughput (warm)", "papers/s"), (mem, "Peak memory", "MB"),
                            (lat, "Search latency (warm)", "ms"), (upd, "Update costs", "s")):
        ax.set_xscale("log")
        ax.set_xlabel("papers in the index")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
