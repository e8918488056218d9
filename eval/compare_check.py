"""Sanity check for the "compare papers" golden questions (type "compare" in eval/questions.jsonl).

    python -m eval.compare_check [--questions eval/questions.jsonl] [--seeds seeds] [-v]

Prints one line per problem and exits 1 if there is any:
  * ids unique, type "compare", split "dev"/"holdout" balanced (equal counts), aspect result/method/setting;
  * 2-5 gold titles, each present verbatim in the corpus, expected_facts keyed by exactly those titles;
  * 1-3 facts per gold paper, each at most MAX_FACT_WORDS words and a case-sensitive substring of that
    paper's abstract;
  * the question shares at most MAX_TITLE_OVERLAP content words with each gold title.
Lines starting with "note:" are information, not problems: a fact that also occurs in another gold paper's
abstract of the same question (not unique), and with -v every question/title word overlap.
Standard library plus rag.load_corpus; no retrieval or answering is run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

from rag import load_corpus

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
SPLITS = ("dev", "holdout")
ASPECTS = ("result", "method", "setting")
MIN_GOLD, MAX_GOLD = 2, 5
MIN_FACTS, MAX_FACTS = 1, 3
MAX_FACT_WORDS = 6
MAX_TITLE_OVERLAP = 2
# Function words and question boilerplate that say nothing about a paper's topic.
STOP = frozenset(
    """what which that this these those with from into onto over under than then them they their there
    were have been does doing each both some such also only more most much many very when where while whose
    about after before between across through using used make makes made like other report reports reported
    paper papers work works study studies approach approaches method methods compare list results result
    towards toward your""".split()
)


def content_words(text: str) -> set[str]:
    """Lower-cased alphabetic words of 4+ letters, minus STOP."""
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4 and w not in STOP}


def problems(questions: list[dict], abstracts: dict[str, str], verbose: bool = False) -> tuple[list[str], list[str]]:
    """(problems, notes) for the questions, judged against abstracts (title -> abstract)."""
    out: list[str] = []
    notes: list[str] = []
    ids = Counter(q.get("id") for q in questions)
    out += [f"{i}: duplicate id ({n} times)" for i, n in ids.items() if n > 1]
    splits = Counter(q.get("split") for q in questions)
    if set(splits) - set(SPLITS) or len({splits[s] for s in SPLITS}) != 1:
        out.append(f"splits not balanced between {SPLITS}: {dict(splits)}")
    for q in questions:
        qid = q.get("id", "?")
        if q.get("type") != "compare":
            out.append(f"{qid}: type {q.get('type')!r}, expected 'compare'")
        if q.get("aspect") not in ASPECTS:
            out.append(f"{qid}: aspect {q.get('aspect')!r} not in {ASPECTS}")
        titles: list[str] = q.get("expected_titles", [])
        facts: dict[str, list[str]] = q.get("expected_facts", {})
        if not MIN_GOLD <= len(set(titles)) == len(titles) <= MAX_GOLD:
            out.append(f"{qid}: {len(titles)} gold titles (distinct, {MIN_GOLD}-{MAX_GOLD} expected)")
        if set(facts) != set(titles):
            out.append(f"{qid}: expected_facts keys differ from expected_titles: {sorted(set(facts) ^ set(titles))}")
        qwords = content_words(q.get("question", ""))
        for t in titles:
            if t not in abstracts:
                out.append(f"{qid}: title not in corpus: {t!r}")
                continue
            shared = sorted(qwords & content_words(t))
            if len(shared) > MAX_TITLE_OVERLAP:
                out.append(f"{qid}: question shares {len(shared)} words with {t!r}: {shared}")
            elif verbose:
                notes.append(f"note: {qid}: overlap with {t[:50]!r}: {shared}")
            fs = facts.get(t, [])
            if not MIN_FACTS <= len(fs) <= MAX_FACTS:
                out.append(f"{qid}: {len(fs)} facts for {t!r} ({MIN_FACTS}-{MAX_FACTS} expected)")
            for f in fs:
                if len(f.split()) > MAX_FACT_WORDS:
                    out.append(f"{qid}: fact {f!r} longer than {MAX_FACT_WORDS} words")
                if f not in abstracts[t]:
                    out.append(f"{qid}: fact {f!r} not in the abstract of {t!r}")
                    continue
                also = [o for o in titles if o != t and f in abstracts.get(o, "")]
                if also:
                    notes.append(f"note: {qid}: fact {f!r} of {t[:40]!r} not unique, also in {[o[:40] for o in also]}")
    return out, notes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, default=QUESTIONS)
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print every question/title overlap")
    args = ap.parse_args()
    questions: list[dict] = []
    bad: list[str] = []
    for n, line in enumerate(args.questions.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                questions.append(json.loads(line))
            except json.JSONDecodeError as e:
                bad.append(f"{args.questions.name}:{n}: not JSON ({e.msg})")
    questions = [q for q in questions if q.get("type") == "compare"]
    abstracts = {p.title: p.abstract for p in load_corpus([args.seeds]).papers}
    found, notes = problems(questions, abstracts, args.verbose)
    found = bad + found
    for line in notes + found:
        print(line)
    print(f"{len(questions)} questions, {len(abstracts)} papers; {len(found)} problems")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
