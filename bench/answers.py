"""Answer benchmark: abstention calibration, citation validity, keyword recall and latency on the golden set.

    python bench/answers.py [--questions eval/questions.jsonl ...] [--calibrate] [--mode extractive]

Answers every question with abstention switched off, so each question's evidence features are
known, then applies the abstain rule of rag/evidence.py (or, with --calibrate, a grid of
thresholds) and reports per question type. Writes artifacts/bench/answers.json (+ a plot).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_questions(paths: list[Path]) -> list[dict]:
    """Golden-format questions from JSONL files."""
    out = []
    for path in paths:
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def history_of(q: dict, ids: dict[str, str]) -> list:
    """The question's earlier turn as history: the gold answer papers cited as [1], [2], ..."""
    from rag.types import Citation, Turn

    return [Turn(h["question"], "", [Citation(i, ids[t], t) for i, t in enumerate(h.get("answer_titles", []), 1)])
            for h in q.get("history", [])]


def run(answerer, questions: list[dict], ids: dict[str, str]) -> list[dict]:
    """Answer each question (abstention off) and record what the metrics need."""
    from datetime import date

    rows = []
    for q in questions:
        since = date.fromisoformat(q["since"]) if q.get("since") else None
        until = date.fromisoformat(q["until"]) if q.get("until") else None
        t = time.perf_counter()
        a = answerer.ask(q["question"], history_of(q, ids), since=since, until=until)
        ms = (time.perf_counter() - t) * 1000
        expected = [ids[t] for t in q["expected_titles"]]
        text = a.text.casefold()
        kws = q.get("expected_keywords", [])
        valid_ns = {s.n for s in a.sources}
        rows.append({
            "id": q["id"], "type": q["type"], "near_miss": bool(q.get("near_title")), "expected": expected, "evidence": a.evidence,
            "sources": [s.paper_id for s in a.sources], "cited": [c.paper_id for c in a.citations],
            "citations_valid": all(c.n in valid_ns for c in a.citations),
            "keyword_recall": sum(k.casefold() in text for k in kws) / len(kws) if kws else None,
            "flags": len(a.flags), "ms": ms, "retrieve_ms": a.timings_ms.get("retrieve", 0.0),
        })
    return rows


def decide(row: dict, max_unknown: float, min_dense: float) -> bool:
    """The abstain rule of rag/evidence.py with given thresholds."""
    from rag.evidence import is_weak

    return is_weak(row["evidence"], max_unknown, min_dense)


def summary(rows: list[dict], max_unknown: float, min_dense: float) -> dict[str, dict]:
    """Per type and overall: abstention, citation validity/precision/recall, keyword recall, hit@5."""
    out: dict[str, dict] = {}
    groups = {kind: [r for r in rows if r["type"] == kind] for kind in sorted({r["type"] for r in rows})}
    groups["unanswerable: off-topic or absent"] = [r for r in rows if r["type"] == "unanswerable" and not r["near_miss"]]
    groups["unanswerable: near miss"] = [r for r in rows if r["near_miss"]]
    groups["all answerable"] = [r for r in rows if r["expected"]]
    for kind, rs in groups.items():
        if not rs:
            continue
        abst = [decide(r, max_unknown, min_dense) for r in rs]
        answered = [r for r, a in zip(rs, abst) if not a and r["expected"]]
        prec = [len(set(r["cited"]) & set(r["expected"])) / len(r["cited"]) for r in answered if r["cited"]]
        rec = [len(set(r["cited"]) & set(r["expected"])) / len(r["expected"]) for r in answered]
        kw = [r["keyword_recall"] for r in answered if r["keyword_recall"] is not None]
        out[kind] = {
            "n": len(rs),
            "abstained": sum(abst) / len(rs),
            "citation_validity": sum(r["citations_valid"] for r in rs) / len(rs),
            "citation_precision": statistics.mean(prec) if prec else None,
            "citation_recall": statistics.mean(rec) if rec else None,
            "keyword_recall": statistics.mean(kw) if kw else None,
            "keywords_half": sum(k >= 0.5 for k in kw) / len(kw) if kw else None,
            "hit@5": (sum(bool(set(r["sources"][:5]) & set(r["expected"])) for r in rs if r["expected"])
                      / max(1, sum(1 for r in rs if r["expected"]))),
        }
    return out


def calibrate(rows: list[dict], max_false: float = 0.05) -> list[tuple[float, float, float, float]]:
    """(max unknown, min dense, abstained on unanswerable, abstained on answerable) over a grid, best first,
    keeping only points whose false abstention is at most max_false."""
    ans = [r for r in rows if r["expected"]]
    una = [r for r in rows if not r["expected"]]
    grid = []
    for unknown in [x / 20 for x in range(1, 21)]:
        for dense in [x / 20 for x in range(0, 21)]:
            tp = sum(decide(r, unknown, dense) for r in una) / max(1, len(una))
            fp = sum(decide(r, unknown, dense) for r in ans) / max(1, len(ans))
            grid.append((unknown, dense, tp, fp))
    ok = [g for g in grid if g[3] <= max_false]
    return sorted(ok, key=lambda g: (-g[2], g[3], g[0]))


def main() -> None:
    from rag.answer import Answerer
    from rag.config import Settings
    from rag.corpus import load_corpus
    from rag.evidence import MAX_UNKNOWN, MIN_DENSE
    from rag.ingest import ingest

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, nargs="*", default=None)
    ap.add_argument("--calibrate", action="store_true", help="print the best abstain thresholds on a grid")
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    args = ap.parse_args()
    paths = args.questions or [ROOT / "eval" / "questions.jsonl"]
    questions = load_questions(paths)
    corpus = load_corpus([ROOT / "seeds"])
    ids = {p.title: p.paper_id for p in corpus.papers}
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(_env_file=None, home=Path(home), seeds=ROOT / "seeds", abstain=False, llm="extractive")
        ingest(settings)
        answerer = Answerer(settings)
        answerer.ask("warm up")
        rows = run(answerer, questions, ids)
    cov, dense = MAX_UNKNOWN, MIN_DENSE
    if args.calibrate:
        best = calibrate(rows)
        print("best thresholds (abstain on unanswerable / on answerable):")
        for g in best[:8]:
            print(f"  unknown>={g[0]:.2f} and dense<{g[1]:.2f}: {g[2]:.3f} / {g[3]:.3f}")
    table = summary(rows, cov, dense)
    print(f"\nrule: abstain when no question word is in the top papers, or unknown >= {cov} and dense < {dense}")
    cols = ["n", "abstained", "citation_validity", "citation_precision", "citation_recall", "keyword_recall",
            "keywords_half", "hit@5"]
    print("| type | " + " | ".join(cols) + " |\n" + "|---" * (len(cols) + 1) + "|")
    for kind, m in table.items():
        cells = [str(m[c]) if isinstance(m[c], int) else ("–" if m[c] is None else f"{m[c]:.3f}") for c in cols]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    ms = sorted(r["ms"] for r in rows)
    print(f"\nanswer latency (warm, offline, abstention off): p50 {statistics.median(ms):.1f} ms, "
          f"p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms over {len(ms)} questions")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "answers.json").write_text(json.dumps({"rows": rows, "summary": table}, indent=1))
    _plot(rows, cov, dense, args.out / "abstain.png")


def _plot(rows: list[dict], cov: float, dense: float, path: Path) -> None:
    """Unknown-word share vs dense cosine, answerable vs unanswerable, with the abstain region."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 5))
    for label, sel, color in (("answerable", True, "tab:blue"), ("unanswerable", False, "tab:red")):
        pts = [(r["evidence"]["unknown"], r["evidence"]["dense"]) for r in rows if bool(r["expected"]) == sel]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=12, alpha=0.6, color=color, label=label)
    ax.axvline(cov, color="gray", ls="--")
    ax.axhline(dense, color="gray", ls="--")
    ax.fill_between([cov, 1], 0, dense, color="gray", alpha=0.15, label="abstain")
    ax.set_xlabel("share of the question (idf-weighted) in words the corpus never uses")
    ax.set_ylabel("dense cosine of the top paper")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
