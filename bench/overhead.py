"""Our own time per answer: offline answers, and the LLM mode with a model that answers instantly.

    python -m bench.overhead [-n 50]

The LLM mode is timed with an in-process client that returns a fixed cited reply at once (streamed
in 5-character pieces), so everything measured is ours: retrieval, prompt assembly with token
budgeting, the citation filter on the stream, validation and support checks.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
REPLY = ("The authors propose a memory manager for the KV cache that pages attention keys and values [1]. "
         "It reduces fragmentation and raises throughput over earlier serving systems [1][2]. "
         "Another paper compresses the cache across layers [3].")


class InstantClient:
    """Implements the part of openai's client the LLM class uses; replies at once."""

    def __init__(self) -> None:
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **kw):  # noqa: ANN003, ANN201
        if not kw.get("stream"):
            msg = SimpleNamespace(content="How do systems reduce KV cache memory?")
            return SimpleNamespace(choices=[SimpleNamespace(message=msg)], usage=None)
        pieces = [REPLY[i : i + 5] for i in range(0, len(REPLY), 5)]
        return iter([SimpleNamespace(usage=None, choices=[SimpleNamespace(delta=SimpleNamespace(content=p))])
                     for p in pieces])


def pct(xs: list[float], q: float) -> float:
    """The q-quantile of xs."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def main() -> None:
    import json

    from rag.answer.answerer import Answerer
    from rag.config import Settings
    from rag.ingestion.pipeline import ingest
    from rag.llm.client import LLM

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=60)
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines()]
    questions = questions[: args.n]
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(_env_file=None, home=Path(home), seeds=ROOT / "seeds", abstain=False)
        ingest(settings)
        offline = Answerer(settings)
        llm = Answerer(settings, retriever=offline.retriever, llm=LLM(settings, client=InstantClient()))
        for name, answerer, mode in (("offline (extractive)", offline, "extractive"), ("LLM, instant model", llm, "llm")):
            answerer.ask("warm up the caches", mode=mode)
            total, retrieve = [], []
            for q in questions:
                t = time.perf_counter()
                a = answerer.ask(q, mode=mode)
                total.append((time.perf_counter() - t) * 1000)
                retrieve.append(a.timings_ms["retrieve"])
            print(f"{name}: total p50 {statistics.median(total):.1f} ms, p95 {pct(total, 0.95):.1f} ms; "
                  f"retrieval p50 {statistics.median(retrieve):.1f} ms ({len(questions)} questions, warm)")


if __name__ == "__main__":
    main()
