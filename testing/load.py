"""Answers under load, for tests/test_load.py and bench/load.py: a question mix of every kind, asking it through
the Python API or the app's /ask, and running many at once (threads released together by a barrier).

Every answer under load must equal the one asked alone: `snapshot` drops only what may differ (timings).
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")
R = TypeVar("R")
VOLATILE = ("timings_ms", "done")  # what may differ between two askings of the same question


@dataclass(frozen=True)
class Case:
    """One question as a client sends it: the /ask arguments (history as the dicts /ask returns)."""

    question: str
    k: int = 0  # 0: the default (RAG_ANSWER_K)
    since: str = ""
    until: str = ""
    history: tuple[dict[str, Any], ...] = field(default=(), hash=False)  # dicts: hashed by the rest

    def label(self) -> str:
        extra = [f"k={self.k}"] * bool(self.k) + [f"{self.since}..{self.until}"] * bool(self.since or self.until)
        extra += [f"{len(self.history)} earlier turn(s)"] * bool(self.history)
        return self.question[:70] + (f" ({', '.join(extra)})" if extra else "")


def _turn(question: str, titles: list[str]) -> dict[str, Any]:
    """An earlier turn that cited the given papers as [1], [2], ... (as /ask would have returned it)."""
    from rag.corpus.records import paper_id

    return {"question": question, "answer": "",
            "citations": [{"n": i, "paper_id": paper_id(t), "title": t} for i, t in enumerate(titles, 1)]}


def cases() -> list[Case]:
    """26 distinct questions of every kind, from the golden set (deterministic)."""
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines() if line.strip()]
    by_type: dict[str, list[dict]] = {}
    for r in rows:
        by_type.setdefault(r["type"], []).append(r)
    out = [Case(r["question"]) for t, n in (("single", 5), ("paraphrase", 3), ("title", 2), ("multi", 2))
           for r in by_type[t][:n]]
    out += [Case(r["question"]) for r in by_type["unanswerable"][:4]]
    out += [Case(r["question"], since=r.get("since") or "", until=r.get("until") or "") for r in by_type["dated"][:3]]
    out += [Case(r["question"], since="2024-01-01")]  # an open-ended range on an answerable question
    out += [Case(by_type["single"][5]["question"], k=1), Case(by_type["single"][6]["question"], k=3),
            Case(by_type["multi"][2]["question"], k=10)]
    out += [Case(r["question"], history=tuple(_turn(h["question"], h.get("answer_titles", [])) for h in r["history"]))
            for r in by_type["followup"][:2]]
    multi = by_type["multi"][0]
    out += [Case("what about [2]?", history=(_turn(multi["question"], multi["expected_titles"]),))]
    return out


def snapshot(answer: Any) -> dict[str, Any]:
    """An answer (rag Answer or /ask dict) without what may differ between two askings (timings)."""
    d = answer.to_dict() if hasattr(answer, "to_dict") else dict(answer)
    return {k: v for k, v in d.items() if k not in VOLATILE}


def ask_api(answerer: Any, case: Case, mode: str = "extractive") -> Any:
    """The case through rag's Python API: the Answer."""
    from datetime import date

    from ui.backend import turns_from_dicts  # the app's own conversion of /ask history

    day = lambda s: date.fromisoformat(s) if s else None  # noqa: E731
    return answerer.ask(case.question, turns_from_dicts(list(case.history)), k=case.k or None, since=day(case.since),
                        until=day(case.until), mode=mode)


def ask_web(client: Any, case: Case, mode: str = "extractive") -> dict[str, Any]:
    """The case through the app's /ask endpoint (gradio_client): the final result."""
    return client.predict(question=case.question, k=case.k, since=case.since, until=case.until, mode=mode,
                          history=list(case.history), api_name="/ask")


def together(fn: Callable[[T], R], items: list[T], timeout: float = 300) -> tuple[list[R | BaseException], list[float], float]:
    """fn over items, each in its own thread, all released at once by a barrier.

    Returns (result or exception per item, latency per item in ms, wall time from release to the last answer in s)."""
    barrier = threading.Barrier(len(items))
    results: list[Any] = [None] * len(items)
    spans = [(0.0, 0.0)] * len(items)

    def run(i: int) -> None:
        barrier.wait(timeout=timeout)
        t = time.perf_counter()
        try:
            results[i] = fn(items[i])
        except Exception as e:  # noqa: BLE001  reported per request; the others go on
            results[i] = e
        spans[i] = (t, time.perf_counter())

    with ThreadPoolExecutor(len(items)) as pool:
        for f in [pool.submit(run, i) for i in range(len(items))]:
            f.result(timeout=timeout)
    latency = [(end - start) * 1000 for start, end in spans]
    return results, latency, max(e for _, e in spans) - min(s for s, _ in spans)
