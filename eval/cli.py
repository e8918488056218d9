"""The body of `rag eval` (kept out of rag/cli/ so the library does not grow an eval dependency)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from eval import gate as g
from eval import golden
from eval.report import compare_table, html_report, markdown
from eval.runner import COMPARE, Config, apply_gate, evaluate, parse_config, write_json
from rag import RagError, Settings


def run_eval(settings: Settings, *, questions: Path | None, json_out: Path | None, html_out: Path | None,
             baseline: Path | None, update_baseline: bool, compare: bool, configs: list[str], index: str,
             mode: str, judge: bool, echo: Callable[..., Any]) -> int:
    """Run the eval and write its reports; returns the exit code (1 when the gate found a regression)."""
    if index not in ("fresh", "current"):
        raise RagError(f"unknown --index {index!r}", "use --index fresh or --index current")
    extra = [parse_config(c) for c in configs]
    runs = (COMPARE + extra) if compare else (extra or [Config("default")])
    if update_baseline and (len(runs) > 1 or extra):
        raise RagError("--update-baseline takes one default run", "leave out --compare and --config")
    results = evaluate(settings, questions or golden.QUESTIONS, mode=mode, configs=runs, index=index, judge=judge)
    if json_out:
        write_json(json_out, results)
    if len(results) > 1:
        echo(f"## rag eval --compare: {len(results[0]['rows'])} questions, mode {mode}\n")
        echo(compare_table(results))
        if html_out:
            html_out.parent.mkdir(parents=True, exist_ok=True)
            html_out.write_text(html_report(results[0], None))
        return 0
    result = results[0]
    base_path = baseline or g.BASELINE
    if update_baseline:
        data = g.make_baseline(result["flat"], result["rows"], result["questions_digest"], result["settings"])
        base_path.write_text(json.dumps(data, indent=1, default=str) + "\n")
        apply_gate(result, data)
        echo(markdown(result))
        echo(f"\nwrote the new baseline {base_path}")
    else:
        base = g.load_baseline(base_path)
        if base and base.get("questions_digest") != result["questions_digest"]:
            if questions is None:  # the committed golden set changed: the baseline must follow it
                raise RagError("eval/questions.jsonl changed since the baseline was made",
                               "run `rag eval --update-baseline`, check the report, and commit eval/baseline.json")
            if baseline is None:  # another question file against the default baseline: nothing comparable
                base = None
                echo("note: not gated: eval/baseline.json was made on other questions (pass --baseline FILE)")
        apply_gate(result, base)
        echo(markdown(result))
    if html_out:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(html_report(result, g.load_baseline(base_path)))
        echo(f"\nHTML report: {html_out}")
    if json_out:
        write_json(json_out, results)  # again, now with the gate verdict
    return 1 if result["gate"] and result["gate"]["regressions"] else 0
