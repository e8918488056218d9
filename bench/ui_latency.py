"""Time to the first streamed answer text of the app, offline mode: in the browser and through gradio_client.

    python -m bench.ui_latency [-n 20] [--home DIR]     (from the project root)

Starts `rag serve` on a free port of 127.0.0.1 (over --home, or over a fresh ingest of the seeds in a
temporary folder), then for n questions of eval/paraphrase_queries.jsonl:
- browser: Debian's chromium (Playwright), from the keydown of Enter to the first answer text in the
  chat (a MutationObserver in the page, so both times are the page's own clock);
- the server's own part of it: the chat handler's "first text" figure shown under the chat;
- gradio_client: from `submit` of /ask to its first streamed output, and to the final answer.
Prints p50 / p90 / max and writes artifacts/bench/ui_latency.json. Needs /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def summary(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"n": len(xs), "p50": round(statistics.median(xs), 1), "p90": round(xs[int(0.9 * (len(xs) - 1))], 1),
            "max": round(xs[-1], 1)}


def browser_times(url: str, questions: list[str]) -> tuple[list[float], list[float]]:
    """(Enter to first text in the page, first text as the server's handler measured it) per question, ms."""
    import re

    from playwright.sync_api import sync_playwright

    from testing.browser import QUESTION, ask, launch_chromium

    out, server = [], []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.goto(url, wait_until="load")
        page.wait_for_selector(QUESTION, timeout=60_000)
        for turn, q in enumerate(questions):
            out.append(ask(page, q, turn))
            server.append(float(re.search(r"first text (\d+) ms", page.inner_text("#figures"))[1]))
        browser.close()
    return out, server


def client_times(url: str, questions: list[str]) -> tuple[list[float], list[float]]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    first, total = [], []
    for q in questions:
        t = time.perf_counter()
        job = client.submit(q, api_name="/ask")
        for _ in job:
            first.append((time.perf_counter() - t) * 1000)
            break
        job.result()
        total.append((time.perf_counter() - t) * 1000)
    return first, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20, help="questions per measurement")
    ap.add_argument("--home", type=Path, help="an ingested RAG_HOME (default: ingest the seeds into a temp folder)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before gradio_client is imported
    lines = (ROOT / "eval" / "paraphrase_queries.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines][: args.n]

    from rag.config import Settings
    from rag.ingestion.pipeline import ingest
    from testing.app_server import app_process

    with tempfile.TemporaryDirectory() as tmp:
        home = args.home
        if home is None:
            home = Path(tmp) / "home"
            ingest(Settings(_env_file=None, home=home, seeds=ROOT / "seeds"))
        server = app_process(home, Path(tmp) / "serve.log").start(timeout=120)
        url = server.ready_url.rstrip("/")
        try:
            browser, server_first = browser_times(url, questions)
            first, total = client_times(url, questions)
        finally:
            server.stop()
    report = {"browser_enter_to_first_text_ms": summary(browser), "server_handler_first_text_ms": summary(server_first),
              "client_submit_to_first_output_ms": summary(first),
              "client_submit_to_answer_ms": summary(total), "questions": len(questions)}
    for name, s in report.items():
        if isinstance(s, dict):
            print(f"{name:36s} p50 {s['p50']:7.1f}  p90 {s['p90']:7.1f}  max {s['max']:7.1f}  (n={s['n']})")
    print(f"browser, each question in order (ms): {[round(x) for x in browser]}")
    out = ROOT / "artifacts" / "bench" / "ui_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**report, "browser_each_ms": [round(x, 1) for x in browser]}, indent=2))


if __name__ == "__main__":
    main()
