"""Abstention calibration on the golden set (the rest of answer quality is `rag eval`).

    python -m bench.answers [--questions eval/questions.jsonl] [--out artifacts/bench]     (from the project root)

Answers every question through eval's harness with abstention switched off, so each question's evidence
features are known, then applies the abstain rule of rag/answer/abstain.py over a grid of thresholds and prints
the best points (abstention on unanswerable questions at most 5% false abstention on answerable ones).
Writes a scatter plot of the two features with the current abstain region (abstain-EMBEDDER.png).
RAG_EMBEDDER=minilm python -m bench.answers calibrates the rule for another embedder (rag/answer/abstain.py THRESHOLDS).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def calibrate(rows: list[dict], max_false: float = 0.05) -> list[tuple[float, float, float, float]]:
    """(max unknown, min dense, abstained on unanswerable, abstained on answerable) over a grid, best first,
    keeping only points whose false abstention is at most max_false."""
    from rag.answer.abstain import is_weak

    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    grid = []
    for unknown in [x / 20 for x in range(1, 21)]:
        for dense in [x / 20 for x in range(0, 21)]:
            tp = sum(is_weak(r["evidence"], unknown, dense) for r in una) / max(1, len(una))
            fp = sum(is_weak(r["evidence"], unknown, dense) for r in ans) / max(1, len(ans))
            grid.append((unknown, dense, tp, fp))
    ok = [g for g in grid if g[3] <= max_false]
    return sorted(ok, key=lambda g: (-g[2], g[3], g[0]))


def main() -> None:
    from eval import golden
    from eval.harness import Config, eval_settings, run_config
    from rag.config import Settings
    from rag.embed.base import get_embedder
    from rag.answer.abstain import thresholds
    from rag.ingestion.pipeline import ingest

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, default=golden.QUESTIONS)
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    ap.add_argument("--holdout", action="store_true",
                    help="also calibrate on the held-out split (never do it for numbers you report on it)")
    args = ap.parse_args()
    questions = [q for q in golden.load(args.questions) if args.holdout or q.split != "holdout"]
    with tempfile.TemporaryDirectory() as home:
        settings = eval_settings(Settings(_env_file=None), Path(home), Config("no abstention", {"abstain": False}))
        ingest(settings)
        rows = run_config(settings, questions)
    name = get_embedder(settings).name
    max_unknown, min_dense = thresholds(name, settings.abstain_min_dense)
    print(f"embedder {name}, {len(rows)} questions; current rule: abstain when no question word is in the top "
          f"papers, or unknown >= {max_unknown} and dense < {min_dense}")
    print("best thresholds (abstained on unanswerable / on answerable):")
    for g in calibrate(rows)[:8]:
        print(f"  unknown>={g[0]:.2f} and dense<{g[1]:.2f}: {g[2]:.3f} / {g[3]:.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows_file = args.out / f"abstain-{settings.embedder}.json"
    rows_file.write_text(json.dumps([{k: r[k] for k in ("id", "type", "split", "answerable", "evidence")} for r in rows]))
    print(f"wrote {rows_file} (each question's evidence features)")
    _plot(rows, max_unknown, min_dense, args.out / f"abstain-{settings.embedder}.png")
    print(f"wrote {args.out / f'abstain-{settings.embedder}.png'}")


def _plot(rows: list[dict], cov: float, dense: float, path: Path) -> None:
    """Unknown-word share vs dense cosine, answerable vs unanswerable, with the abstain region."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for label, sel, color in (("answerable", True, "tab:blue"), ("unanswerable", False, "tab:red")):
        pts = [(r["evidence"]["unknown"], r["evidence"]["dense"]) for r in rows if r["answerable"] == sel]
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
