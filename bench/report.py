"""The scale benchmark's table (markdown, for docs/reports/scale.md) and plot (latency and throughput against size)."""

from __future__ import annotations

from pathlib import Path


def table(report: dict) -> str:
    """One markdown row per (size, mode), with the naive llama-index ratio and server/embedded latency ratio."""
    naive = {n["size"]: n["naive_papers_per_s"] for n in report["naive"]}
    p95 = {(r["mode"], r["size"]): r["p95_ms"] for r in report["rows"]}
    lines = [
        "| papers | store | ingest papers/s | vs naive | peak MB (client + server) | disk MB | search p50 / p95 ms "
        "| server/embedded p95 | open s | re-ingest s | full read s | BM25 build s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(report["rows"], key=lambda r: (r["size"], r["mode"])):
        size = r["size"]
        ratio = f"{r['papers_per_s'] / naive[size]:.1f}x" if size in naive else "-"
        peak = f"{r['ingest_peak_mb']:.0f}" + (f" + {r['server_peak_mb']:.0f}" if r["server_peak_mb"] else "")
        vs = f"{r['p95_ms'] / p95[('embedded', size)]:.2f}x" if r["mode"] == "server" and ("embedded", size) in p95 else "-"
        lines.append(
            f"| {size:,} | {r['mode']} | {r['papers_per_s']:,.0f} | {ratio} | {peak} | {r['disk_mb']:,.0f} "
            f"| {r['p50_ms']:.1f} / {r['p95_ms']:.1f} | {vs} | {r['open_s']:.2f} | {r['reingest_s']:.2f} "
            f"| {r['read_all_s']:.2f} | {r['bm25_build_s']:.2f} |"
        )
    for n in report["naive"]:
        lines.append(f"\nnaive llama-index `VectorStoreIndex.from_documents` at {n['size']:,} papers: "
                     f"{n['naive_papers_per_s']:,.0f} papers/s ({n['naive_s']:.1f} s, peak {n['naive_peak_mb']:.0f} MB)")
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    """Two panels against corpus size (log x): search latency p50/p95, ingest throughput."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(11, 4))
    for mode, color in (("embedded", "tab:blue"), ("server", "tab:orange")):
        rows = sorted((r for r in report["rows"] if r["mode"] == mode), key=lambda r: r["size"])
        if not rows:
            continue
        sizes = [r["size"] for r in rows]
        lat.plot(sizes, [r["p50_ms"] for r in rows], "o-", color=color, label=f"{mode} p50")
        lat.plot(sizes, [r["p95_ms"] for r in rows], "s--", color=color, label=f"{mode} p95")
        thr.plot(sizes, [r["papers_per_s"] for r in rows], "o-", color=color, label=f"{mode} (ours)")
    if report["naive"]:
        thr.plot([n["size"] for n in report["naive"]], [n["naive_papers_per_s"] for n in report["naive"]], "x:",
                 color="tab:gray", label="naive llama-index")
    lat.axhline(50, color="tab:red", lw=0.8, ls=":", label="goal p95 50 ms")
    thr.axhline(500, color="tab:red", lw=0.8, ls=":", label="goal 500 papers/s")
    for ax, title, unit in ((lat, "Search latency (warm)", "ms"), (thr, "Ingest throughput", "papers/s")):
        ax.set_xscale("log")
        ax.set_xlabel("papers in the index")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
