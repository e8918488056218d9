"""Does the corpus hold what the question names? The names it asks about (rag/text/names.py), looked up by surface
form in every chunk and title of the index: a name no paper mentions, a name papers mention only in passing (no
paper is about it), and a name some paper is about.

Users ask about the famous methods they know; most are not among the papers. Retrieval always returns the
nearest papers, and an answer from them would look checked while being about something else, so a question
whose names are all absent is not answered. A name with papers about it is evidence enough to answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from rag.text.names import Name, lowercase_names, question_names

# Products, platforms and languages a question names as its setting ("actions on an iPhone", "Java functions"),
# not as what it asks about: when they are the only names and the corpus lacks them, the question is answered
# and the answer says so, instead of abstaining. Methods, models and datasets are never on this list.
CONTEXT_NAMES = frozenset(
    "iphone ipad mac macos ios android windows linux ubuntu chrome firefox safari excel powerpoint outlook whatsapp "
    "wechat slack zoom teams python java javascript typescript kotlin swift rust golang bash jupyter wikipedia "
    "reddit twitter youtube tiktok instagram facebook netflix spotify uber airbnb ebay walmart alexa siri".split())
ABOUT_COUNT = 3  # a paper whose chunks name something this often (or whose title does) is about it
MAX_PAPERS = 5
SUBJECT_WORDS = 4  # a name this early in a question ("How does the Lion optimizer ...") is what it asks about  # papers kept per name


@dataclass
class Coverage:
    """What the corpus holds of the names a question asks about."""

    names: list[Name] = field(default_factory=list)  # in the order the question has them
    question: str = ""
    missing: list[str] = field(default_factory=list)  # names no paper mentions
    passing: dict[str, list[str]] = field(default_factory=dict)  # name -> paper ids that mention it in passing
    about: dict[str, list[str]] = field(default_factory=dict)  # name -> paper ids about it
    unretrieved: list[str] = field(default_factory=list)  # names the corpus has but no retrieved paper mentions

    @property
    def subject_missing(self) -> bool:
        """What the question asks about is not in the corpus: no paper mentions any name it asks about, or its
        first name, early in the question ("How does YaRN extend RoPE?"), is missing while the corpus has the
        others only in passing (what the corpus has of it is beside the point). A question that describes a paper
        by names in passing ("Which index ... beats DiskANN in RAM?") is not abstained on. Products named as the
        setting (CONTEXT_NAMES) never count as missing."""
        missing = [n for n in self.names if n.text in self.missing and n.key not in CONTEXT_NAMES]
        if not missing:
            return False
        if len(self.missing) == len(self.names):
            return True
        first = self.names[0]
        return (first in missing and not self.about
                and len(self.question[: max(self.question.find(first.text), 0)].split()) < SUBJECT_WORDS)

    def say_absent(self) -> str:
        """Why the question is not answered: the names no paper mentions, and those only mentioned in passing."""
        said = say_missing(self.missing)
        if self.passing:
            it = "it" if len(self.passing) == 1 else "them"
            said += f" No paper is about {_join(list(self.passing))} either; papers only mention {it} in passing."
        return said

    @property
    def only_passing(self) -> list[str]:
        """Names only mentioned in passing, when no name of the question has a paper about it (the question's
        subject is not the subject of any paper)."""
        return [] if self.about else list(self.passing)

    def required_papers(self) -> tuple[list[str], list[str]]:
        """(papers to put first, papers to add last), each once: for a name the corpus has but no retrieved paper
        mentions, the search again with it required (papers about it first, papers that only mention it last).

        Papers that only mention a name are never put first: a question naming hardware, a company or a benchmark
        in passing ("on A100s", "Microsoft's") would lose its paper to them (tried: single-paper hit@1 0.95 ->
        0.80)."""
        first: list[str] = []
        last: list[str] = []
        for name in self.unretrieved:
            if name in self.about:
                first += [p for p in self.about[name] if p not in first]
            else:
                last += [p for p in self.passing.get(name, []) if p not in last]
        return first, [p for p in last if p not in first]


def check(question: str, mentions: Callable[[str], dict[str, tuple[int, bool]]],
          retrieved: set[str] | frozenset[str] = frozenset(),
          spellings: Callable[[list[str]], list[str]] | None = None) -> Coverage:
    """The coverage of a question's names; mentions(key) -> paper id -> (occurrences, in title); retrieved: the
    ids of the papers the search returned."""
    names = question_names(question)
    if spellings is not None:  # and names typed in lower case that the corpus writes as names
        names += lowercase_names(question, spellings, {n.key for n in names})
    cov = Coverage(sorted(names, key=lambda n: _at(question, n.text)), question)
    for name in cov.names:
        found = mentions(name.key)
        if not found:
            cov.missing.append(name.text)
            continue
        if not set(found) & set(retrieved):
            cov.unretrieved.append(name.text)
        ranked = sorted(found, key=lambda p: (-found[p][1], -found[p][0], p))
        about = [p for p in ranked if found[p][1] or found[p][0] >= ABOUT_COUNT]
        if about:
            cov.about[name.text] = about[:MAX_PAPERS]
        else:
            cov.passing[name.text] = ranked[:MAX_PAPERS]
    return cov


def _at(question: str, text: str) -> int:
    i = question.find(text)
    return i if i >= 0 else len(question)


def say_missing(names: list[str]) -> str:
    """'No paper in the corpus mentions X.' (or X or Y)."""
    return f"No paper in the corpus mentions {_join(names)}."


def say_passing(names: list[str]) -> str:
    """'No paper in the corpus is about X; the papers below only mention it.'"""
    it = "it" if len(names) == 1 else "them"
    return f"No paper in the corpus is about {_join(names)}; the papers cited below only mention {it}."


def _join(names: list[str]) -> str:
    """'A', 'A or B', 'A, B or C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"
