"""Golden question sets (eval/*.jsonl in the golden format) are well-formed and agree with the real corpus.

A file is in the golden format when its records carry `type` and `expected_keywords` (eval/questions.jsonl);
files without them, such as eval/paraphrase_queries.jsonl, are skipped.
Files named questions.jsonl or golden_*.jsonl are always checked, so a broken golden file cannot hide by failing
to parse. Every failure message names the file, the line or question id, and what is wrong.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from eval import golden
from testing.seeds import ROOT

EVAL_DIR = ROOT / "eval"
QUESTIONS = EVAL_DIR / "questions.jsonl"

TYPES = set(golden.TYPES)
REQUIRED: dict[str, type] = {
    "id": str,
    "type": str,
    "question": str,
    "expected_titles": list,
    "expected_keywords": list,
}
MULTI_MIN, MULTI_MAX = 2, 5
QUESTIONS_MIN, PARAPHRASE_MIN = 120, 30


# --------------------------------------------------------------------------- discovery and parsing

def _json_objects(path: Path) -> list[Any]:
    """Every line of path that parses as JSON (unparseable lines are left out)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _is_golden(path: Path) -> bool:
    if path.name == QUESTIONS.name or path.name.startswith("golden_"):
        return True
    objs = _json_objects(path)
    return bool(objs) and all(isinstance(o, dict) and "type" in o and "expected_keywords" in o for o in objs)


GOLDEN_FILES = sorted(p for p in EVAL_DIR.glob("*.jsonl") if _is_golden(p))
by_file = pytest.mark.parametrize("path", GOLDEN_FILES, ids=[p.name for p in GOLDEN_FILES])


def load_records(path: Path) -> tuple[list[tuple[str, dict]], list[str]]:
    """(label, record) for every line that is a JSON object, and a problem for every line that is not.

    label is "<file>:<line> id=<id>" so messages point at both the line and the question.
    """
    records: list[tuple[str, dict]] = []
    problems: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue  # tolerate blank lines (e.g. a trailing one)
        where = f"{path.name}:{n}"
        try:
            obj = json.loads(line)
        except ValueError as e:
            problems.append(f"{where}: line is not valid JSON ({e})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{where}: line is a JSON {type(obj).__name__}, not an object")
            continue
        records.append((f"{where} id={obj.get('id')!r}", obj))
    return records, problems


def well_typed(path: Path) -> list[tuple[str, dict]]:
    """The records whose required fields exist with the right types (the shape test reports the others).

    Records with other faults (unknown type, empty id, ...) are kept so that the other checks still see them.
    """
    records, _ = load_records(path)
    return [(label, r) for label, r in records if _has_typed_fields(r)]


def _has_typed_fields(r: dict) -> bool:
    return all(isinstance(r.get(field), kind) for field, kind in REQUIRED.items()) and all(
        isinstance(x, str) for field in ("expected_titles", "expected_keywords") for x in r[field]
    )


def _shape_problems(r: dict) -> list[str]:
    problems = []
    for field, kind in REQUIRED.items():
        if field not in r:
            problems.append(f"missing field {field!r}")
        elif not isinstance(r[field], kind):
            problems.append(f"field {field!r} should be {kind.__name__}, is {type(r[field]).__name__}")
    if problems:
        return problems
    if not r["id"].strip():
        problems.append("empty id")
    if not r["question"].strip():
        problems.append("empty question")
    if r["type"] not in TYPES:
        problems.append(f"unknown type {r['type']!r} (expected one of {sorted(TYPES)})")
    for field in ("expected_titles", "expected_keywords"):
        bad = [x for x in r[field] if not isinstance(x, str) or not x.strip()]
        if bad:
            problems.append(f"{field} must hold non-empty strings, has {bad!r}")
    if len(set(r["expected_titles"])) != len(r["expected_titles"]):
        problems.append("expected_titles lists a title twice")
    if "history" in r and not isinstance(r["history"], list):
        problems.append(f"history should be a list, is {type(r['history']).__name__}")
    for field in ("since", "until"):
        if field in r and r[field] is not None and not isinstance(r[field], str):
            problems.append(f"{field} should be a YYYY-MM-DD string, is {type(r[field]).__name__}")
    return problems


def _fail_if(problems: list[str], what: str) -> None:
    if problems:
        shown = "\n  ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        pytest.fail(f"{len(problems)} {what}:\n  {shown}{more}", pytrace=False)


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@pytest.fixture(scope="session")
def papers_by_title(corpus) -> dict:
    return {p.title: p for p in corpus.papers}


# --------------------------------------------------------------------------- tests

def test_golden_files_discovered():
    assert GOLDEN_FILES, f"no golden-format *.jsonl file found in {EVAL_DIR}"


@by_file
def test_lines_parse_with_required_fields(path):
    records, problems = load_records(path)
    assert records or problems, f"{path.name} is empty"
    for label, r in records:
        problems += [f"{label}: {p}" for p in _shape_problems(r)]
    _fail_if(problems, f"malformed lines in {path.name}")


@by_file
def test_ids_unique(path):
    seen: dict[str, str] = {}
    problems = []
    for label, r in load_records(path)[0]:
        qid = r.get("id")
        if not isinstance(qid, str):
            continue  # reported by the shape test
        if qid in seen:
            problems.append(f"{label}: duplicate id, first used at {seen[qid]}")
        else:
            seen[qid] = label
    _fail_if(problems, f"duplicate ids in {path.name}")


@by_file
def test_expected_titles_exist(path, papers_by_title):
    problems = []
    for label, r in well_typed(path):
        for t in r["expected_titles"]:
            if t not in papers_by_title:
                problems.append(f"{label}: expected title not in corpus: {t!r}")
    _fail_if(problems, f"unknown titles in {path.name}")


@by_file
def test_keywords_in_expected_abstracts(path, papers_by_title):
    problems = []
    for label, r in well_typed(path):
        abstracts = [papers_by_title[t].abstract.casefold() for t in r["expected_titles"] if t in papers_by_title]
        if len(abstracts) != len(r["expected_titles"]):
            continue  # unknown titles are reported by test_expected_titles_exist
        for kw in r["expected_keywords"]:
            if not any(kw.casefold() in a for a in abstracts):
                problems.append(f"{label}: keyword {kw!r} is in none of the expected abstracts")
    _fail_if(problems, f"keywords not found in {path.name}")


@by_file
def test_title_counts_per_type(path):
    problems = []
    for label, r in well_typed(path):
        n = len(r["expected_titles"])
        kind = r["type"]
        if kind in ("unanswerable", "absent", "described"):
            if n:
                problems.append(f"{label}: unanswerable question must have no expected_titles, has {n}")
            if r["expected_keywords"]:
                problems.append(f"{label}: unanswerable question must have no expected_keywords")
        elif kind in ("single", "paraphrase", "hard", "fact", "twin"):
            if n != 1:
                problems.append(f"{label}: {kind} question must have exactly 1 expected title, has {n}")
        elif kind == "multi":
            if not MULTI_MIN <= n <= MULTI_MAX:
                problems.append(f"{label}: multi question must have {MULTI_MIN}-{MULTI_MAX} expected titles, has {n}")
        elif n == 0:
            problems.append(f"{label}: {kind} question has no expected titles")
    _fail_if(problems, f"wrong number of expected titles in {path.name}")


@by_file
def test_followup_history(path, papers_by_title):
    problems = []
    for label, r in well_typed(path):
        if r["type"] != "followup":
            continue
        history = r.get("history")
        if not isinstance(history, list) or not history:
            problems.append(f"{label}: followup needs a non-empty history list, has {history!r}")
            continue
        for i, turn in enumerate(history):
            where = f"{label} history[{i}]"
            if not isinstance(turn, dict):
                problems.append(f"{where}: turn should be an object, is {type(turn).__name__}")
                continue
            if not isinstance(turn.get("question"), str) or not turn["question"].strip():
                problems.append(f"{where}: missing or empty 'question'")
            titles = turn.get("answer_titles")
            if not isinstance(titles, list) or not titles:
                problems.append(f"{where}: 'answer_titles' should be a non-empty list, is {titles!r}")
                continue
            for t in titles:
                if t not in papers_by_title:
                    problems.append(f"{where}: answer title not in corpus: {t!r}")
    _fail_if(problems, f"bad followup histories in {path.name}")


@by_file
def test_dated_ranges(path, papers_by_title):
    problems = []
    for label, r in well_typed(path):
        for field in ("since", "until"):
            if r.get(field) is not None and _parse_date(r[field]) is None:
                problems.append(f"{label}: {field}={r[field]!r} is not a YYYY-MM-DD date")
        if r["type"] != "dated":
            continue
        if r.get("since") is None and r.get("until") is None:
            problems.append(f"{label}: dated question needs 'since' and/or 'until'")
            continue
        lo, hi = _parse_date(r.get("since")), _parse_date(r.get("until"))
        if (r.get("since") is not None and lo is None) or (r.get("until") is not None and hi is None):
            continue  # unparseable bound, reported above
        if lo and hi and lo > hi:
            problems.append(f"{label}: since {lo} is after until {hi}")
            continue
        for t in r["expected_titles"]:
            paper = papers_by_title.get(t)
            if paper is None:
                continue  # reported by test_expected_titles_exist
            if paper.published is None:
                problems.append(f"{label}: expected paper has no published date: {t!r}")
            elif (lo and paper.published < lo) or (hi and paper.published > hi):
                problems.append(f"{label}: {t!r} published {paper.published} is outside [{lo or '...'}, {hi or '...'}]")
    _fail_if(problems, f"bad date ranges in {path.name}")


@pytest.mark.skipif(not QUESTIONS.exists(), reason="eval/questions.jsonl not written yet")
def test_questions_file_coverage():
    records = [r for _, r in well_typed(QUESTIONS)]
    counts = {kind: sum(r["type"] == kind for r in records) for kind in TYPES}
    problems = []
    if len(records) < QUESTIONS_MIN:
        problems.append(f"{QUESTIONS.name}: {len(records)} well-formed questions, need at least {QUESTIONS_MIN}")
    if counts["paraphrase"] < PARAPHRASE_MIN:
        problems.append(f"{QUESTIONS.name}: {counts['paraphrase']} paraphrase questions, need at least {PARAPHRASE_MIN}")
    missing = sorted(kind for kind, n in counts.items() if n == 0)
    if missing:
        problems.append(f"{QUESTIONS.name}: no question of type {', '.join(missing)}")
    _fail_if(problems, f"coverage problems in {QUESTIONS.name} (counts: {counts})")


def test_compare_questions_are_what_they_claim():
    """The `compare` questions (several gold papers each): every gold title is in the corpus, every expected fact
    is written in its own paper's abstract, the question does not copy the titles (eval/compare_check.py)."""
    from eval.compare_check import problems
    from rag.corpus.readers import load_corpus

    records = [r for _, r in well_typed(QUESTIONS) if r["type"] == "compare"]
    abstracts = {p.title: p.abstract for p in load_corpus([ROOT / "seeds"]).papers}
    found, _ = problems(records, abstracts, False)
    assert len(records) >= 20 and not found, found
