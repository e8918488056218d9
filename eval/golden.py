"""Golden questions: one JSON object per line (id, type, question, expected_titles, expected_keywords, ...).

Loading is strict: a malformed line is a clear error naming the file and line, never a silently
smaller question set (a gate over fewer questions would pass for the wrong reason).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rag import RagError, parse_day

QUESTIONS = Path(__file__).resolve().parent / "questions.jsonl"
TYPES = ("single", "title", "paraphrase", "hard", "multi", "compare", "dated", "followup", "fact", "twin", "mentioned",
         "absent", "described", "famous", "introduced", "unanswerable")


@dataclass
class Question:
    """One golden question; expected_titles empty means the corpus cannot answer it."""

    id: str
    type: str
    question: str
    expected_titles: list[str]
    expected_keywords: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # [{question, answer_titles}]
    since: date | None = None
    until: date | None = None
    near_title: str | None = None  # near miss: a corpus paper that is close but does not state the fact
    split: str = ""  # "holdout": never looked at one by one nor tuned on (only its totals are read)
    # absent/mentioned/twin/famous/introduced: the names the question asks about (famous: a well-known method the
    # corpus mentions and no paper introduces; introduced: one a paper introduces); described: the names it
    # describes without using them
    names: list[str] = field(default_factory=list)
    expected_facts: dict[str, list[str]] = field(default_factory=dict)  # compare: gold title -> facts its abstract states

    @property
    def answerable(self) -> bool:
        """True when some corpus paper answers it."""
        return bool(self.expected_titles)

    @property
    def group(self) -> str:
        """The type, with unanswerable split into near misses and the rest (they fail for different reasons)."""
        if self.type == "unanswerable":
            return "unanswerable (near miss)" if self.near_title else "unanswerable (off-topic)"
        return self.type


def parse(record: Any, where: str) -> Question:
    """One golden record as a Question, or a RagError saying what is wrong at where (file:line)."""
    if not isinstance(record, dict):
        raise RagError(f"{where}: expected a JSON object", "write one question object per line")
    missing = [k for k in ("id", "type", "question", "expected_titles") if k not in record]
    if missing:
        raise RagError(f"{where}: missing field(s) {', '.join(missing)}",
                       "every question needs id, type, question and expected_titles")
    if not isinstance(record["expected_titles"], list) or not isinstance(record.get("expected_keywords", []), list):
        raise RagError(f"{where}: expected_titles and expected_keywords must be lists", "use JSON arrays")
    if not str(record["question"]).strip():
        raise RagError(f"{where}: the question is empty", "write the question text")
    return Question(
        id=str(record["id"]), type=str(record["type"]), question=str(record["question"]),
        expected_titles=[str(t) for t in record["expected_titles"]],
        expected_keywords=[str(k) for k in record.get("expected_keywords", [])],
        history=list(record.get("history", [])),
        since=parse_day(record.get("since"), f"{where}:"), until=parse_day(record.get("until"), f"{where}:"),
        near_title=record.get("near_title"), split=str(record.get("split", "")),
        names=[str(n) for n in record.get("names", [])],
        expected_facts={str(t): [str(f) for f in fs] for t, fs in dict(record.get("expected_facts", {})).items()},
    )


def load(path: Path = QUESTIONS) -> list[Question]:
    """Every question in a golden JSONL file (blank lines allowed); RagError on the first bad line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise RagError(f"cannot read the questions file {path}: {e.strerror or e}",
                       "pass --questions with a JSONL file in the golden format") from None
    out: list[Question] = []
    seen: set[str] = set()
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{no}"
        try:
            record = json.loads(line)
        except ValueError as e:
            raise RagError(f"{where}: not valid JSON ({e})", "write one JSON object per line") from None
        q = parse(record, where)
        if q.id in seen:
            raise RagError(f"{where}: duplicate id {q.id!r}", "give every question its own id")
        seen.add(q.id)
        out.append(q)
    if not out:
        raise RagError(f"{path} holds no questions", "write one JSON question object per line")
    return out


def digest(questions: list[Question]) -> str:
    """A short hash of the question set, so a baseline knows whether it was made on the same questions."""
    text = json.dumps([[q.id, q.type, q.question, q.expected_titles, q.expected_keywords] for q in questions])
    return hashlib.sha256(text.encode()).hexdigest()[:12]
