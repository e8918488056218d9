"""`rag eval`: build the index, run the configurations, judge (optionally), gate, and write the reports."""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from eval import gate as g
from eval import golden
from eval.harness import Config, eval_settings, flat, run_config, summarize, targets
from rag import Paths, RagError, Settings

# the settings that decide what an answer is; a baseline made with other values is flagged
SNAPSHOT = ("embedder", "st_model", "chunk_size", "chunk_overlap", "index_titles", "candidates", "fusion", "dense_weight",
            "bm25_weight", "pair_weight", "rrf_k", "answer_k", "abstain")

# `rag eval --compare`: the same questions under each of these
COMPARE = [
    Config("default"),
    Config("bm25 only", {"fusion": "zscore", "dense_weight": 0.0, "bm25_weight": 1.0, "pair_weight": 0.0}),
    Config("dense only", {"fusion": "zscore", "dense_weight": 1.0, "bm25_weight": 0.0, "pair_weight": 0.0}),
    Config("rrf k=60", {"fusion": "rrf", "rrf_k": 60.0, "dense_weight": 1.0, "bm25_weight": 1.0}),
    Config("chunks 128", {"chunk_size": 128, "chunk_overlap": 16}),
    Config("chunks 256", {"chunk_size": 256, "chunk_overlap": 32}),
    Config("k=3", {"answer_k": 3}),
    Config("k=10", {"answer_k": 10}),
]


def parse_config(spec: str) -> Config:
    """'name:key=value,key=value' (or just 'key=value,...') as a Config; values are validated by Settings."""
    name, _, body = spec.rpartition(":") if ":" in spec else (spec, "", spec)
    overrides = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, eq, value = part.partition("=")
        if not eq or key.strip() not in Settings.model_fields:
            raise RagError(f"bad --config part {part!r}", "write name:setting=value,setting=value with setting names "
                                                         "of rag's Settings, e.g. 'wide:answer_k=8,rrf_k=30'")
        overrides[key.strip()] = value.strip()
    return Config(name or body, overrides)


def snapshot(settings: Settings, mode: str) -> dict[str, Any]:
    """The settings that decide the answers, for the baseline and the reports."""
    out = {k: getattr(settings, k) for k in SNAPSHOT}
    out["mode"] = mode
    if mode == "llm":
        out["llm_model"] = settings.llm_model
    return out


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=True)


def run_one(base: Settings, config: Config, questions: list[golden.Question], mode: str, fresh_home: Path | None,
            progress: Any, judge: Any = None) -> dict[str, Any]:
    """Evaluate one configuration: (build its index,) answer, score, summarise, optionally judge."""
    from rag import ingest

    settings = eval_settings(base, fresh_home, config) if fresh_home else base
    ingest_s = None
    if fresh_home:
        task = progress.add_task(f"[{config.name}] building the index from {settings.seeds}", total=None)
        t = time.perf_counter()
        ingest(settings)  # a no-op when an earlier configuration built the same collection
        ingest_s = round(time.perf_counter() - t, 2)
        progress.remove_task(task)
    task = progress.add_task(f"[{config.name}] answering", total=len(questions))
    sources: dict[str, dict[int, str]] | None = {} if judge else None
    rows = run_config(settings, questions, mode, lambda: progress.advance(task), sources)
    progress.remove_task(task)
    summary = summarize(rows)
    result = {"config": config.name, "overrides": config.overrides, "mode": mode, "settings": snapshot(settings, mode),
              "questions_digest": golden.digest(questions), "ingest_s": ingest_s, "summary": summary,
              "flat": flat(summary), "targets": targets(summary), "rows": rows}
    if judge:
        from eval.judge import judge_rows

        task = progress.add_task(f"[{config.name}] LLM judge ({judge.llm.model})", total=None)
        result["judge"] = judge_rows(judge, rows, sources or {})
        progress.remove_task(task)
    return result


def apply_gate(result: dict[str, Any], baseline: dict[str, Any] | None) -> None:
    """Attach the gate verdict (regressions, what changed, caveats) to result."""
    if baseline is None:
        result["gate"] = None
        return
    notes = []
    if baseline.get("questions_digest") != result["questions_digest"]:
        notes.append("the question set differs from the baseline's; per-question changes cover shared ids only")
    diff = {k: (v, result["settings"].get(k)) for k, v in baseline.get("settings", {}).items()
            if result["settings"].get(k) != v}
    if diff:
        notes.append("settings differ from the baseline's: " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in diff.items()))
    rules = g.load_rules()
    regressions = g.check(result["flat"], baseline["metrics"], rules)
    shared = baseline["metrics"].keys() & result["flat"].keys()
    result["gate"] = {"regressions": regressions, "checked": sum(g.gated(m, rules) for m in shared),
                      "slower": g.check(result["flat"], baseline["metrics"], rules, ungated=True),
                      "changes": g.changes(result["rows"], baseline), "note": "; ".join(notes)}


def make_judge(settings: Settings) -> Any:
    """The LLM judge over the configured endpoint (RAG_JUDGE_MODEL or RAG_LLM_MODEL), cached under RAG_HOME."""
    from eval.judge import Judge
    from rag import LLM

    judged = settings.replace(llm_model=settings.judge_model or settings.llm_model)
    return Judge(LLM(judged), Paths.of(settings).judge_cache)


def evaluate(settings: Settings, questions_path: Path, *, mode: str, configs: list[Config], index: str,
             judge: bool = False) -> list[dict[str, Any]]:
    """Run every configuration over the questions; index 'fresh' builds one from the seeds in a temp folder,
    'current' uses the configured index (RAG_HOME or RAG_CHROMA_URL) as it is."""
    questions = golden.load(questions_path)
    the_judge = make_judge(settings) if judge else None
    results = []
    with ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rag-eval-"))) if index == "fresh" else None
        progress = stack.enter_context(_progress())
        for config in configs:
            if index != "fresh" and config.overrides:
                raise RagError("--compare and --config need a fresh index", "leave out --index current")
            results.append(run_one(settings, config, questions, mode, home, progress, the_judge))
    return results


def to_json(result: dict[str, Any]) -> dict[str, Any]:
    """The result as plain JSON data (regressions as dicts)."""
    out = dict(result)
    if out.get("gate"):
        out["gate"] = {**out["gate"], "regressions": [vars(r) for r in out["gate"]["regressions"]]}
    return out


def write_json(path: Path, results: list[dict[str, Any]]) -> None:
    """All metrics and per-question results of every configuration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [to_json(r) for r in results]
    path.write_text(json.dumps(data[0] if len(data) == 1 else {"configurations": data}, indent=1, default=str))
