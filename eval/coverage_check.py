"""The answerability questions keep their claims: an `absent` question's names occur in no title or abstract,
a `mentioned` one's occur only in passing (in some abstracts, in no title, at most twice in any abstract), a
`twin`'s occur in its gold paper; and the question names them in a form the system can find.

    python -m eval.coverage_check [--questions eval/questions.jsonl]      (from the project root)

tests/test_golden_coverage.py runs the same check.
"""

from __future__ import annotations

import argparse
from pathlib import Path

KINDS = ("absent", "mentioned", "twin")
ABOUT_COUNT = 3  # an abstract that names something this often is about it (as is a title that names it)


def problems(questions: list, papers: dict[str, str]) -> list[str]:
    """Every broken claim of the absent/mentioned/twin questions (papers: title -> abstract)."""
    from rag import SurfaceIndex, question_names, surface_key

    titles = list(papers)
    in_titles = SurfaceIndex(titles)
    in_abstracts = SurfaceIndex([papers[t] for t in titles])
    out = []
    for q in questions:
        if q.type not in KINDS:
            continue
        if not q.names:
            out.append(f"{q.id}: no `names` listed")
            continue
        found = {n.key for n in question_names(q.question)}
        for name in q.names:
            key = surface_key(name)
            if key not in found:
                out.append(f"{q.id}: the question does not name {name!r} in a form the system finds "
                           f"(it finds {sorted(found)})")
            t_hits, a_hits = in_titles.find(key), in_abstracts.find(key)
            if q.type == "absent" and (t_hits or a_hits):
                where = sorted({titles[i] for i in [*t_hits, *a_hits]})[:3]
                out.append(f"{q.id}: {name!r} is absent by claim but occurs in {where}")
            if q.type == "mentioned":
                if not a_hits:
                    out.append(f"{q.id}: {name!r} is mentioned by claim but occurs in no abstract")
                about = [titles[i] for i in t_hits] + [titles[i] for i, n in a_hits.items() if n >= ABOUT_COUNT]
                if about:
                    out.append(f"{q.id}: {name!r} is mentioned-only by claim but papers are about it: {about[:3]}")
            if q.type == "twin":
                gold = [titles.index(t) for t in q.expected_titles if t in papers]
                if not gold:
                    out.append(f"{q.id}: expected title not in the corpus")
                elif not any(i in t_hits or i in a_hits for i in gold):
                    out.append(f"{q.id}: {name!r} does not occur in its gold paper")
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
