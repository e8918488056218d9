"""The answerability questions keep their claims: an `absent` question's names occur in no title or abstract,
a `mentioned` one's occur only in passing (in some abstracts, in no title, at most twice in any abstract), a
`twin`'s occur in its gold paper; and the question names them in a form the system can find. A `described`
question describes a well-known method in other words: its names occur in no title or abstract, nor in the
question itself. A `famous` question asks about a well-known method by its name (or a spelling of it) that papers
mention (its expected papers are exactly those) and none introduces (a reader's judgement, not checked here); an
`introduced` one about a method its gold paper introduces, and names it.

    python -m eval.coverage_check [--questions eval/questions.jsonl]      (from the project root)

tests/test_golden_coverage.py runs the same check.
"""

from __future__ import annotations

import argparse
from pathlib import Path

KINDS = ("absent", "mentioned", "twin", "described", "famous", "introduced")


def problems(questions: list, papers: dict[str, str]) -> list[str]:
    """Every broken claim of the absent/mentioned/twin questions (papers: title -> abstract), judged by the
    answerer's own reading of the corpus (rag's name_coverage: missing, only in passing, or some paper about it)
    over the titles and abstracts as published."""
    from rag import SurfaceIndex, name_coverage, surface_key

    titles = list(papers)
    in_titles = SurfaceIndex(titles)
    in_abstracts = SurfaceIndex([papers[t] for t in titles])

    def mentions(key: str) -> dict[str, tuple[int, bool]]:
        found = {titles[i]: (n, False) for i, n in in_abstracts.find(key).items()}
        for i in in_titles.find(key):
            found[titles[i]] = (found.get(titles[i], (0, False))[0], True)
        return found

    out = []
    for q in questions:
        if q.type not in KINDS:
            continue
        if not q.names:
            out.append(f"{q.id}: no `names` listed")
            continue
        if q.type == "described":
            in_question = SurfaceIndex([q.question])
            for name in q.names:
                if mentions(surface_key(name)):
                    out.append(f"{q.id}: {name!r} is absent by claim but occurs in {sorted(mentions(surface_key(name)))[:3]}")
                if in_question.find(surface_key(name)):
                    out.append(f"{q.id}: the question names {name!r}, which it should describe in other words")
            continue
        if q.type in ("famous", "introduced"):
            out += _named_by_papers(q, mentions, SurfaceIndex([q.question]))
            continue
        cov = name_coverage(q.question, mentions)
        found = {n.text: n for n in cov.names}
        for name in q.names:
            key = surface_key(name)
            asked = next((n.text for n in cov.names if n.key == key), None)
            if asked is None:
                out.append(f"{q.id}: the question does not name {name!r} in a form the system finds "
                           f"(it finds {sorted(found)})")
                continue
            papers_with = mentions(key)
            if q.type == "absent" and asked not in cov.missing:
                out.append(f"{q.id}: {name!r} is absent by claim but occurs in {sorted(papers_with)[:3]}")
            if q.type == "mentioned" and asked not in cov.passing:
                out.append(f"{q.id}: {name!r} is mentioned-only by claim but "
                           + (f"papers are about it: {cov.about[asked][:3]}" if asked in cov.about
                              else "occurs in no abstract"))
            if q.type == "twin" and not any(t in papers_with for t in q.expected_titles):
                out.append(f"{q.id}: {name!r} does not occur in its gold paper")
    return out


def _named_by_papers(q, mentions, in_question) -> list[str]:
    """A famous/introduced question names its method (some spelling of it), papers mention it, and its expected
    papers are exactly those that do (famous) or its gold paper does (introduced)."""
    from rag import surface_key

    out = []
    if not any(in_question.find(surface_key(n)) for n in q.names):
        out.append(f"{q.id}: the question names none of {q.names}")
    with_name = {t for n in q.names for t in mentions(surface_key(n))}
    if q.type == "famous":
        if len(with_name) < 2:
            out.append(f"{q.id}: {q.names[0]!r} is mentioned by {len(with_name)} paper(s), famous asks for 2 or more")
        stray = [t for t in q.expected_titles if t not in with_name]
        if stray:
            out.append(f"{q.id}: expected papers that do not mention {q.names[0]!r}: {stray[:3]}")
    elif not set(q.expected_titles) <= with_name:
        out.append(f"{q.id}: its gold paper does not name {q.names[0]!r}")
    return out


def main() -> None:
    from eval import golden
    from eval.hardness import corpus_papers

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, default=golden.QUESTIONS)
    ap.add_argument("--seeds", type=Path, default=Path(__file__).resolve().parent.parent / "seeds")
    args = ap.parse_args()
    qs = golden.load(args.questions)
    found = problems(qs, corpus_papers(args.seeds))
    for p in found:
        print(p)
    counts = {k: sum(q.type == k for q in qs) for k in KINDS}
    print(f"{counts}; {len(found)} problems")


if __name__ == "__main__":
    main()
