"""`rag eval` end to end on the shared real index: reports, baseline, the gate, --compare, the LLM judge.

Runs on a subset of the golden set (two questions of each type plus off-topic unanswerables) with
`--index current`, so every run reuses the session's ingested seeds; the full set with a fresh index runs
in scripts/test.sh as the CI gate.
"""

from __future__ import annotations

import json
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from eval import golden
from eval.judge import FAITHFUL


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    """A small golden file: two questions per type, and three off-topic unanswerable ones; no `described` ones (most
    are answered, with a caveat: the planted regression below is an abstention switched off) nor `famous` ones
    (abstaining on them passes too)."""
    lines = [json.loads(x) for x in golden.QUESTIONS.read_text().splitlines() if x.strip()]
    picked, per_type = [], {}
    for q in lines:
        off_topic = q["type"] == "unanswerable" and not q.get("near_title")
        if q["type"] in ("described", "famous"):
            continue
        if per_type.get(q["type"], 0) < (3 if off_topic else 2) and (off_topic or q["type"] != "unanswerable"):
            picked.append(q)
            per_type[q["type"]] = per_type.get(q["type"], 0) + 1
    path = tmp_path_factory.mktemp("eval") / "subset.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in picked) + "\n")
    return path


def _eval(cli, home: Path, *args, env=None):
    return cli("eval", "--index", "current", *args, home=home, env=env)


class _Tags(HTMLParser):
    """Counts open/close tags and collects img sources, to check the page is well-formed."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.imgs: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs).get("src", ""))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_reports_baseline_and_gate(cli, full_settings, subset, tmp_path):
    base, js, page = tmp_path / "baseline.json", tmp_path / "r.json", tmp_path / "r.html"
    first = _eval(cli, full_settings.home, "--questions", subset, "--baseline", base, "--update-baseline",
                  "--json", js, "--html", page)
    assert first.returncode == 0, first.stderr
    assert "| single |" in first.stdout and "### Targets" in first.stdout and "wrote the new baseline" in first.stdout
    baseline = json.loads(base.read_text())
    n = len(subset.read_text().splitlines())
    assert len(baseline["questions"]) == n and baseline["metrics"]["all.citation_validity"] == 1.0
    report = json.loads(js.read_text())
    assert len(report["rows"]) == n and report["gate"]["regressions"] == []
    row = report["rows"][0]
    assert {"hit@5", "ndcg@10", "citation_precision", "keyword_recall", "reason", "passed", "answer_ms"} <= row.keys()
    tags = _Tags()
    tags.feed(page.read_text())
    assert tags.errors == [] and tags.stack == []  # every tag closed, in order
    assert len(tags.imgs) == 3 and all(s.startswith("data:image/png;base64,") for s in tags.imgs)  # no outside requests

    # Latency depends on the machine and what else runs on it: two runs minutes apart on a busy machine differ
    # by more than any tolerance. The gate's latency rule is checked on numbers (test_eval_metrics.py); here
    # the baseline keeps the quality metrics only (the gate ignores a metric the baseline lacks).
    assert {"latency.answer_p50_ms", "latency.answer_p95_ms"} <= baseline["metrics"].keys()
    baseline["metrics"] = {k: v for k, v in baseline["metrics"].items() if not k.startswith("latency.")}
    base.write_text(json.dumps(baseline))
    again = _eval(cli, full_settings.home, "--questions", subset, "--baseline", base)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "passed: no metric worse than the baseline allows" in again.stdout

    # a planted regression: switch abstention off, so off-topic questions get answered
    worse = _eval(cli, full_settings.home, "--questions", subset, "--baseline", base, "--json", js,
                  env={"RAG_ABSTAIN": "false"})
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "FAILED" in worse.stdout and "unanswerable.abstention: 1.000 -> 0.000" in worse.stdout
    assert "settings differ from the baseline's: abstain True -> False" in worse.stdout
    unanswerable = sum(not json.loads(x)["expected_titles"] for x in subset.read_text().splitlines() if x.strip())
    assert f"newly failed ({unanswerable})" in worse.stdout and "answered instead of abstaining" in worse.stdout
    assert json.loads(js.read_text())["gate"]["regressions"]


def test_compare_prints_one_row_per_configuration(cli, full_settings, subset, tmp_path):
    small = tmp_path / "two.jsonl"
    small.write_text("\n".join(subset.read_text().splitlines()[:4]) + "\n")
    # the table's mechanics, not the model: WordLlama embeds the 128- and 256-token chunkings in seconds, where
    # MiniLM (the default) takes a minute
    out = cli("eval", "--questions", small, "--compare", "--config", "tight:answer_k=2", home=full_settings.home,
              env={"RAG_EMBEDDER": "wordllama"}, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ") and not line.startswith("| configuration")]
    assert [r.split("|")[1].strip() for r in rows] == ["default", "bm25 only", "dense only", "rrf k=60", "chunks 128",
                                                       "chunks 256", "k=3", "k=10", "tight"]


def test_a_bad_questions_file_fails_with_the_line(cli, full_settings, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "type": "single", "question": "Q", "expected_titles": []}\n{oops\n')
    out = _eval(cli, full_settings.home, "--questions", bad)
    assert out.returncode == 1 and "bad.jsonl:2: not valid JSON" in out.stderr and "Traceback" not in out.stderr


@pytest.fixture
def judge_server():
    """A local OpenAI-compatible endpoint that judges: 'yes' to every claim, relevance 4; it logs each request."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append(body)
            text = "yes" if body["messages"][0]["content"] == FAITHFUL else "4"
            payload = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": text}}]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1", seen
    server.shutdown()


def test_llm_judge_scores_and_caches_its_replies(cli, full_settings, subset, tmp_path, judge_server):
    url, seen = judge_server
    env = {"OPENAI_BASE_URL": url, "RAG_JUDGE_MODEL": "judge-1"}
    js = tmp_path / "j.json"
    first = cli("eval", "--index", "current", "--questions", subset, "--judge", "--json", js,
                    home=full_settings.home, env=env)
    assert first.returncode == 0, first.stderr
    judged = json.loads(js.read_text())["judge"]
    assert judged["model"] == "judge-1" and judged["faithfulness"] == 1.0 and judged["relevance"] == 0.75
    # a prompt asked twice in one run (the same sentence in two answers) is sent once
    assert len(seen) > 0 and judged["calls"] == len(seen) + judged["cached"]
    assert len({json.dumps(b["messages"]) for b in seen}) == len(seen)
    assert {b["model"] for b in seen} == {"judge-1"}
    calls = judged["calls"]
    second = cli("eval", "--index", "current", "--questions", subset, "--judge", "--json", js,
                     home=full_settings.home, env=env)
    assert second.returncode == 0, second.stderr
    assert len(seen) == calls - judged["cached"]  # every reply came from the disk cache
    assert json.loads(js.read_text())["judge"]["cached"] == calls
    assert f"({calls} of {calls} replies from cache)" in second.stdout


def test_a_changed_golden_set_needs_a_new_baseline(full_settings, subset, monkeypatch):
    from eval.cli import run_eval
    from rag.errors import RagError

    monkeypatch.setattr(golden, "QUESTIONS", subset)  # as if eval/questions.jsonl had been edited
    with pytest.raises(RagError, match="changed since the baseline") as e:
        run_eval(full_settings, questions=None, json_out=None, html_out=None, baseline=None, update_baseline=False,
                 compare=False, configs=[], index="current", mode="extractive", judge=False, echo=lambda *a: None)
    assert "--update-baseline" in e.value.hint


def test_other_questions_are_not_gated_against_the_default_baseline(cli, full_settings, subset):
    out = _eval(cli, full_settings.home, "--questions", subset)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "not gated: eval/baseline.json was made on other questions" in out.stdout
    assert "not gated: no baseline for these questions" in out.stdout
