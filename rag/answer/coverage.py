"""Does the corpus hold what the question names? The names it asks about (rag/text/names.py), looked up by surface
form in every chunk and title of the index: a name no paper mentions, a name papers mention only in passing (no
paper is about it), and a name some paper is about.

Users ask about the famous methods they know; most are not among the papers. Retrieval always returns the
nearest papers, and an answer from them would look checked while being about something else, so a question
whose names are all absent is not answered. A name with papers about it is evidence enough to answer.

A question about a method itself (rag/answer/subject.py: "What is DPO?", "How does PPO's clipped objective
work?", "Explain the architecture of BERT") needs more: a paper that introduces it (rag/text/introduces.py). Famous
methods are used by many papers and introduced by none of them: such a subject is said to be only used, and the
answer cites only papers that name it. A name in any other place of a question ("... with Microsoft's system",
"Which JAX toolkits ...") is not held to that: the paper asked for may not name it. A concept asked about by the
corpus's own term ("speculative decoding") is held to it only when the question asks where it comes from ("Who
came up with ...", "the original paper"): otherwise the papers on it answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from rag.answer.subject import CONTEXT_NAMES, MAKERS, ORIGIN, asks_itself, compared_with, concept_names
from rag.text.introduces import introduces
from rag.text.names import Name, lowercase_names, question_names

ABOUT_COUNT = 3  # a paper whose chunks name something this often (or whose title does) is about it
MAX_PAPERS = 5
SUBJECT_WORDS = 4  # a name this early in a question ("How does the Lion optimizer ...") is what it asks about


@dataclass
class Coverage:
    """What the corpus holds of the names a question asks about."""

    names: list[Name] = field(default_factory=list)  # in the order the question has them
    question: str = ""
    missing: list[str] = field(default_factory=list)  # names no paper mentions
    passing: dict[str, list[str]] = field(default_factory=dict)  # name -> paper ids that mention it in passing
    about: dict[str, list[str]] = field(default_factory=dict)  # name -> paper ids about it
    mentioning: dict[str, frozenset[str]] = field(default_factory=dict)  # name -> every paper id mentioning it
    subject: str | None = None  # the name the question asks about itself ("How does PPO work?"), if any
    unintroduced: list[str] = field(default_factory=list)  # the subject, when papers use it and none introduces it
    concepts: list[str] = field(default_factory=list)  # names that are the corpus's terms for a concept
    own: list[str] = field(default_factory=list)  # the papers that introduce the subject (and what it is compared with)
    unretrieved: list[str] = field(default_factory=list)  # names the corpus has but no retrieved paper mentions

    @property
    def subject_missing(self) -> bool:
        """What the question asks about is not in the corpus: no paper mentions any name it asks about, or its
        first name, early in the question ("How does YaRN extend RoPE?"), is missing while the corpus has the
        others only in passing (what the corpus has of it is beside the point). A question that describes a paper
        by names in passing ("Which index ... beats DiskANN in RAM?") is not abstained on. Products named as the
        setting (CONTEXT_NAMES) never count as missing, and concepts asked about (the corpus's own terms) are
        beside the point: "How does speculative decoding work in Medusa?" asks about Medusa."""
        names = [n for n in self.names if n.text not in self.concepts]
        missing = [n for n in names if n.text in self.missing and n.key not in CONTEXT_NAMES]
        if not missing:
            return False
        if all(n.text in self.missing for n in names):
            return True
        first = names[0]
        about = {k: v for k, v in self.about.items() if k not in self.concepts}
        return first in missing and not about and _is_subject(self.question, first)

    def say_absent(self) -> str:
        """Why the question is not answered: the names no paper mentions, and those only mentioned in passing."""
        said = say_missing(self.missing)
        if self.passing:
            it = "it" if len(self.passing) == 1 else "them"
            said += f" No paper is about {_join(list(self.passing))} either; papers only mention {it} in passing."
        return said

    def say_only_used(self) -> list[str]:
        """The caveats for names the answer's papers only mention or use, when no name asked has a paper about it:
        'No paper ... is about X itself' and, for a method asked about that papers use, 'No paper ... introduces
        X'."""
        if not self.only_passing:
            return []
        passing = [n for n in self.only_passing if n not in self.unintroduced]
        return ([say_passing(passing)] if passing else []) + (
            [say_unintroduced(self.unintroduced)] if self.unintroduced else [])

    def naming(self) -> frozenset[str]:
        """The papers that name any method the question names (not a maker, not a concept)."""
        keys = {n.text: n.key for n in self.names}
        return frozenset().union(*(papers for name, papers in self.mentioning.items()
                                   if name not in self.concepts and keys.get(name) not in MAKERS))

    @property
    def only_passing(self) -> list[str]:
        """Names only mentioned in passing, when no name of the question has a paper about it (the question's
        subject is not the subject of any paper)."""
        return [] if self.about else list(self.passing)

    def required_papers(self) -> tuple[list[str], list[str]]:
        """(papers to put first, papers to add last), each once: the papers that introduce the method the question
        asks about; for a name the corpus has but no retrieved paper mentions, the search again with it required
        (papers about it first, papers that only mention it last); for a name no paper is about, its papers that
        mention it most (last).

        Papers that only mention a name are never put first: a question naming hardware, a company or a benchmark
        in passing ("on A100s", "Microsoft's") would lose its paper to them (tried: single-paper hit@1 0.95 ->
        0.80)."""
        first: list[str] = list(self.own)  # asked about a method itself: its own paper first
        last: list[str] = []
        # and the papers that mention most the method the question asks about when none is about it (the answer
        # cites only papers that mention it)
        asked = [self.subject] if (self.subject in self.only_passing and self.subject not in self.unretrieved
                                   and self.subject not in self.concepts) else []
        for name in self.unretrieved + asked:
            if name in self.about:
                first += [p for p in self.about[name] if p not in first]
            else:
                last += [p for p in self.passing.get(name, []) if p not in last]
        return first, [p for p in last if p not in first]


def check(question: str, mentions: Callable[[str], dict[str, tuple[int, bool]]],
          retrieved: set[str] | frozenset[str] = frozenset(),
          spellings: Callable[[list[str]], list[str]] | None = None,
          paper_text: Callable[[str], tuple[str, str] | None] | None = None,
          concepts: frozenset[str] = frozenset()) -> Coverage:
    """The coverage of a question's names; mentions(key) -> paper id -> (occurrences, in title); retrieved: the
    ids of the papers the search returned; paper_text(id) -> (title, abstract): with it, the question's subject
    counts as covered only when a paper introduces it; concepts: surface keys of the corpus's terms for concepts
    ("knowledgedistillation"), taken as names when the question asks about one itself."""
    names = question_names(question)
    if spellings is not None:  # and names typed in lower case that the corpus writes as names
        names += lowercase_names(question, spellings, {n.key for n in names})
    asked_concepts = concept_names(question, concepts, {n.key for n in names})
    names += asked_concepts
    cov = Coverage(sorted(names, key=lambda n: _at(question, n.text)), question, concepts=[n.text for n in asked_concepts])
    cov.subject = next((n.text for n in cov.names if asks_itself(question, n)), None)
    asked = {cov.subject, *compared_with(question, cov.names, cov.subject)} - {None}
    for name in cov.names:
        found = mentions(name.key)
        if not found:
            cov.missing.append(name.text)
            continue
        cov.mentioning[name.text] = frozenset(found)
        if name.key in MAKERS:
            continue  # "Meta's", "Google's": who made what is asked about; papers about Meta-learning are beside it
        if not set(found) & set(retrieved):
            cov.unretrieved.append(name.text)
        ranked = sorted(found, key=lambda p: (-found[p][1], -found[p][0], p))
        about = [p for p in ranked if found[p][1] or found[p][0] >= ABOUT_COUNT]
        if about and name.text in asked and paper_text is not None and (
                name not in asked_concepts or ORIGIN.search(question)):
            own = [p for p in about[:MAX_PAPERS] if (text := paper_text(p)) is not None and introduces(*text, name.key)]
            cov.own += own
            if not own:
                cov.unintroduced.append(name.text)  # used, improved on or compared with by papers that do not introduce it
                about = []
        if about:
            cov.about[name.text] = about[:MAX_PAPERS]
        else:
            cov.passing[name.text] = ranked[:MAX_PAPERS]
    return cov


def _is_subject(question: str, name: Name) -> bool:
    """A name this early in the question is what it asks about ("How does YaRN extend RoPE?")."""
    return name.key not in CONTEXT_NAMES and len(question[: max(question.find(name.text), 0)].split()) < SUBJECT_WORDS


def _at(question: str, text: str) -> int:
    i = question.find(text)
    return i if i >= 0 else len(question)


def say_missing(names: list[str]) -> str:
    """'No paper in the corpus mentions X.' (or X or Y)."""
    return f"No paper in the corpus mentions {_join(names)}."


def say_passing(names: list[str]) -> str:
    """'No paper in the corpus is about X itself; the papers cited below only mention or use it.'"""
    it = "it" if len(names) == 1 else "them"
    return f"No paper in the corpus is about {_join(names)} itself; the papers cited below only mention or use {it}."


def say_unintroduced(names: list[str]) -> str:
    """'No paper in the corpus introduces X; the papers cited below build on or use it.'"""
    it = "it" if len(names) == 1 else "them"
    return f"No paper in the corpus introduces {_join(names)}; the papers cited below build on or use {it}."


def _join(names: list[str]) -> str:
    """'A', 'A or B', 'A, B or C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"
