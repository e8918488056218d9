"""The hard-paraphrase rule, checked: a "hard" golden question shares no name, no number and no run of three
words with its paper's title and abstract (common words alone may be shared), the way users who never read
the abstract ask.

    python -m eval.hardness [--questions eval/questions.jsonl]      (from the project root)

prints every violation, then how often BM25 alone (over title + abstract, one document a paper) ranks the
question's paper in the top 5: the issue asks for 0.5-0.7 (higher: still too easy; near 0: stricter than users).
tests/test_golden_hard.py runs the same check, so a question that breaks the rule cannot enter the set.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

HARD = "hard"  # the golden type these questions carry
WORD = re.compile(r"[A-Za-z0-9]+")
NUMBER_WORDS = frozenset(
    "two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred hundreds "
    "thousand thousands million millions billion billions trillion dozen dozens half double triple "
    "twice thrice quarter percent".split()
)
SENTENCE_END = re.compile(r"[.!?:;]\s+$")


@dataclass(frozen=True)
class Violation:
    """One way a question breaks the rule."""

    kind: str  # "name", "number" or "3-gram"
    what: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.what}"


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric runs ("GPT-4o" -> gpt, 4o): the unit of the three-word rule."""
    return [w.lower() for w in WORD.findall(text)]


def names(title: str, abstract: str, common: frozenset[str] = frozenset()) -> frozenset[str]:
    """Lower-cased names in a paper: name-shaped tokens anywhere (the system's own test, so generic acronyms such as
    LLM are words), and words the abstract capitalises in mid-sentence that neither it nor any text in common (the
    corpus) writes in lower case (Adam, Llama, Python; not Mixture in "Mixture-of-Experts")."""
    from rag import GENERIC_WORDS, is_name_token

    found = {m.group().lower() for m in WORD.finditer(f"{title}\n{abstract}") if is_name_token(m.group())}
    lower = {m.group() for m in WORD.finditer(abstract) if m.group().islower()} | common
    for m in WORD.finditer(abstract):
        tok = m.group()
        if tok[0].isupper() and tok.lower() not in lower and tok.lower() not in GENERIC_WORDS and m.start() > 0:
            before = abstract[max(0, m.start() - 3):m.start()]
            if not SENTENCE_END.search(before) and not before.endswith("\n"):
                found.add(tok.lower())
    return frozenset(found)


def lower_words(papers: dict[str, str]) -> frozenset[str]:
    """Every word the corpus's abstracts write in lower case somewhere: common words, not names."""
    return frozenset(m.group() for text in papers.values() for m in WORD.finditer(text) if m.group().islower())


def violations(question: str, title: str, abstract: str, common: frozenset[str] = frozenset()) -> list[Violation]:
    """Every way question breaks the hard-paraphrase rule against its paper (empty: it keeps the rule);
    common: words written in lower case elsewhere in the corpus (lower_words)."""
    out: list[Violation] = []
    q_words = words(question)
    paper_words = words(f"{title}\n{abstract}")
    paper_set = set(paper_words)
    for w in dict.fromkeys(q_words):
        if any(c.isdigit() for c in w):
            out.append(Violation("number", w))
        elif w in NUMBER_WORDS and w in paper_set:
            out.append(Violation("number", w))
    for w in sorted(set(q_words) & names(title, abstract, common)):
        if not any(c.isdigit() for c in w):
            out.append(Violation("name", w))
    grams = {tuple(paper_words[i:i + 3]) for i in range(len(paper_words) - 2)}
    for i in range(len(q_words) - 2):
        g = tuple(q_words[i:i + 3])
        if g in grams:
            out.append(Violation("3-gram", " ".join(g)))
    return out


def shared_terms(question: str, title: str, abstract: str) -> list[str]:
    """Stemmed content words the question shares with its paper (allowed; a reader shares a few)."""
    from rag import content_terms

    return sorted(content_terms(question) & content_terms(f"{title}\n{abstract}"))


def bm25_top5(questions: list[tuple[str, str]], papers: dict[str, str]) -> float:
    """Share of (question, title) pairs whose paper BM25 alone ranks in the top 5 (papers: title -> text)."""
    import bm25s

    from rag import bm25_tokenize as tokenize

    titles = list(papers)
    index = bm25s.BM25()
    index.index(tokenize([f"{t}\n{papers[t]}" for t in titles]), show_progress=False)
    hits = 0
    for question, title in questions:
        scores = index.get_scores(tokenize([question])[0])
        top = sorted(range(len(titles)), key=lambda i: -scores[i])[:5]
        hits += title in {titles[i] for i in top}
    return hits / max(1, len(questions))


def corpus_papers(seeds: Path) -> dict[str, str]:
    """title -> abstract of every paper in the seed folder."""
    from rag import load_corpus

    return {p.title: p.abstract for p in load_corpus([seeds]).papers}


def main() -> None:
    from eval import golden

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, default=golden.QUESTIONS)
    ap.add_argument("--verbose", action="store_true", help="also list the content words each question shares")
    ap.add_argument("--seeds", type=Path, default=Path(__file__).resolve().parent.parent / "seeds")
    args = ap.parse_args()
    papers = corpus_papers(args.seeds)
    hard = [q for q in golden.load(args.questions) if q.type == HARD]
    common = lower_words(papers)
    bad = 0
    for q in hard:
        title = q.expected_titles[0]
        if title not in papers:
            print(f"{q.id}: expected title not in the corpus: {title!r}")
            bad += 1
            continue
        v = violations(q.question, title, papers[title], common)
        if args.verbose:
            print(f"{q.id}: shares {', '.join(shared_terms(q.question, title, papers[title])) or 'nothing'}")
        if v:
            bad += 1
            print(f"{q.id}: " + "; ".join(map(str, v)))
    print(f"{len(hard)} hard questions, {bad} break the rule")
    for split in sorted({q.split for q in hard}):
        sel = [(q.question, q.expected_titles[0]) for q in hard if q.split == split and q.expected_titles[0] in papers]
        print(f"BM25 alone, top-5, split {split or '(none)'}: {bm25_top5(sel, papers):.3f} over {len(sel)}")


if __name__ == "__main__":
    main()
