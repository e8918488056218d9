"""Optional LLM judge: per-sentence faithfulness to the cited abstracts, and answer relevance.

Only used with `rag eval --judge` and an OpenAI-compatible endpoint (OPENAI_API_KEY / OPENAI_BASE_URL).
Every reply is cached on disk under a key made of the model and the exact prompt, so a rerun of the
same answers costs nothing. The gate never uses it: judges drift, the gate must not.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from rag import answer_sentences

FAITHFUL = ("You check claims against sources. Reply with one word: 'yes' if every fact in the claim is stated "
            "in the sources, 'no' otherwise.")
RELEVANT = ("You grade answers. Reply with one digit from 1 to 5: how directly and completely the answer addresses "
            "the question (5 = fully, 1 = not at all). Judge relevance only, not truth.")


class Judge:
    """Asks an LLM for yes/no faithfulness and 1-5 relevance; replies cached under cache_dir."""

    def __init__(self, llm: Any, cache_dir: Path) -> None:
        self.llm = llm  # rag.llm.client.LLM (or anything with .model and .complete(messages, max_tokens))
        self.cache_dir = Path(cache_dir)
        self.calls = 0
        self.cached = 0

    def ask(self, messages: list[dict[str, str]]) -> str:
        """The judge's reply to messages, from the cache when this model has seen this prompt before."""
        self.calls += 1
        key = hashlib.sha256(json.dumps([self.llm.model, messages], sort_keys=True).encode()).hexdigest()
        path = self.cache_dir / key[:2] / f"{key}.json"
        if path.exists():
            self.cached += 1
            return json.loads(path.read_text())["reply"]
        reply, _ = self.llm.complete(messages, max_tokens=8)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"model": self.llm.model, "reply": reply}))
        tmp.replace(path)  # a killed run never leaves a half-written cache entry
        return reply

    def faithfulness(self, text: str, sources: dict[int, str]) -> list[bool]:
        """For each cited sentence of an answer: is it supported by the abstracts it cites?"""
        verdicts = []
        for sentence, ns in answer_sentences(text):
            cited = [f"[{n}] {sources[n]}" for n in ns if n in sources]
            if not cited:
                continue
            claim = re.sub(r"\s*\[\d+\]", "", sentence).strip()
            reply = self.ask([{"role": "system", "content": FAITHFUL},
                              {"role": "user", "content": "Sources:\n" + "\n\n".join(cited) + f"\n\nClaim: {claim}"}])
            verdicts.append(reply.strip().casefold().startswith("yes"))
        return verdicts

    def relevance(self, question: str, text: str) -> float | None:
        """Answer relevance scaled to 0..1 (None when the judge wrote no digit 1-5)."""
        reply = self.ask([{"role": "system", "content": RELEVANT},
                          {"role": "user", "content": f"Question: {question}\n\nAnswer: {text}"}])
        digit = re.search(r"[1-5]", reply)
        return (int(digit.group()) - 1) / 4 if digit else None


def judge_rows(judge: Judge, rows: list[dict[str, Any]], sources: dict[str, dict[int, str]]) -> dict[str, Any]:
    """Judge every non-abstaining answer; adds judge_* fields to rows and returns the totals."""
    sentences = supported = 0
    relevance: list[float] = []
    for r in rows:
        if r["abstained"]:
            continue
        verdicts = judge.faithfulness(r["answer"], sources.get(r["id"], {}))
        r["judge_faithfulness"] = sum(verdicts) / len(verdicts) if verdicts else None
        sentences += len(verdicts)
        supported += sum(verdicts)
        rel = judge.relevance(r["question"], r["answer"])
        r["judge_relevance"] = rel
        if rel is not None:
            relevance.append(rel)
    return {"model": judge.llm.model, "faithfulness": supported / sentences if sentences else None,
            "sentences": sentences, "relevance": sum(relevance) / len(relevance) if relevance else None,
            "answers": len(relevance), "calls": judge.calls, "cached": judge.cached}
