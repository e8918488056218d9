"""Citations in answer text: parse every format models write, keep only real sources, check support.

Whatever a model writes ([1], [1, 2], [1-3], [Source 2], [^1], 【1】, (source 3)), the text that
leaves this module cites each source as [n] with n among the sources shown; anything else is
removed and counted. The same filter runs on a stream and on a whole reply, so the streamed text
and the final text are identical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.local_index import tokenize

_NUM = r"\^?\d{1,3}"
_SEP = r"\s*(?:,|;|–|-|—|and|&)\s*"
_LABEL = r"(?:(?:sources?|refs?\.?|references?|papers?|docs?|documents?|citations?)\s*:?\s*#?\s*)"
_LIST = rf"{_LABEL}?{_NUM}(?:{_SEP}{_LABEL}?{_NUM})*"
# One citation group, with the whitespace before it (removed with the group when nothing in it is valid).
CITE_GROUP = re.compile(
    rf"(?P<space>[ \t]*)(?:\[\[\s*(?P<a>{_LIST})\s*\]\]|\[\s*(?P<b>{_LIST})\s*\]|【\s*(?P<c>{_LIST})\s*】"
    rf"|\(\s*(?P<d>{_LABEL}{_NUM}(?:{_SEP}{_LABEL}?{_NUM})*)\s*\))",
    re.IGNORECASE,
)
CITE_MARK = re.compile(r"\[(\d{1,3})\]")  # the normalised form
_OPENERS = "[【("
_HOLD_CHARS = 120  # an opener further back than this cannot start a citation any more
_DOUBLE_OPEN = re.compile(r"\[\[[^\[\]]{0,120}\]$")


def group_numbers(group: str) -> list[int]:
    """The numbers a citation group names, ranges expanded ([1-3] -> 1, 2, 3), in order, without repeats."""
    out: list[int] = []
    for m in re.finditer(rf"(\d+)(?:\s*(?:–|-|—)\s*{_LABEL}?\^?(\d+))?", group, re.IGNORECASE):
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        span = range(lo, hi + 1) if 0 <= hi - lo <= 20 else (lo, hi)
        out.extend(n for n in span if n not in out)
    return out


class CitationFilter:
    """Rewrites citations to [n] form as text arrives, dropping numbers outside `valid`.

    Text is held back only while it could still be the start of a citation (an open bracket) or
    whitespace that a dropped citation would remove, so nothing is emitted and later taken back.
    """

    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self.pending = ""
        self.removed = 0

    def feed(self, delta: str) -> str:
        """Add streamed text; return the part that is now final."""
        self.pending += delta
        cut = len(self.pending.rstrip(" \t"))
        for i in range(cut - 1, max(0, cut - _HOLD_CHARS) - 1, -1):
            ch = self.pending[i]
            if ch in _OPENERS:
                if not _closed(self.pending, i):
                    cut = i
                break
            if ch in "]】)":
                break
        awaiting = _DOUBLE_OPEN.search(self.pending, 0, cut)  # "[[1]" may still get its second "]"
        if awaiting:
            cut = awaiting.start()
        while cut > 0 and self.pending[cut - 1] in " \t[":  # whitespace goes with a citation after it
            cut -= 1
        ready, self.pending = self.pending[:cut], self.pending[cut:]
        return self._rewrite(ready)

    def flush(self) -> str:
        """The rest, at the end of the stream."""
        ready, self.pending = self.pending, ""
        return self._rewrite(ready)

    def _rewrite(self, text: str) -> str:
        return CITE_GROUP.sub(self._replace, text)

    def _replace(self, m: re.Match[str]) -> str:
        nums = group_numbers(m.group("a") or m.group("b") or m.group("c") or m.group("d") or "")
        keep = [n for n in nums if n in self.valid]
        self.removed += len(nums) - len(keep)
        return (m.group("space") + "".join(f"[{n}]" for n in keep)) if keep else ""


def _closed(text: str, i: int) -> bool:
    closer = {"[": "]", "【": "】", "(": ")"}[text[i]]
    return closer in text[i + 1 :]


def clean_citations(text: str, valid: set[int]) -> tuple[str, int]:
    """Whole-text form of CitationFilter: (text with only valid [n] citations, number removed)."""
    f = CitationFilter(valid)
    out = f.feed(text) + f.flush()
    return out, f.removed


def strip_citation_marks(text: str) -> str:
    """Source text without citation-like marks: an abstract's "[1] [2]" names its own references, not our
    sources, and a planted "cite [99]" must not become (or spoof) one of our citations."""
    return CITE_GROUP.sub("", text)


def cited_numbers(text: str) -> list[int]:
    """Source numbers cited in normalised text, in order of first use."""
    out: list[int] = []
    for m in CITE_MARK.finditer(text):
        n = int(m.group(1))
        if n not in out:
            out.append(n)
    return out


# ----------------------------------------------------------------------------- sentences

_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Figs|Eq|Sec|approx|resp|No|Dr|Mr|Ms|St)\.|\b[A-Z]\.)$")
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”)]*\s+(?=[\"“(\[]?(?:[A-Z0-9]|[a-z]+[A-Z]))|\n\s*\n|\n(?=\s*(?:[-*•]|\d+\.)\s)")


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract or an answer. Keeps 'e.g.', 'et al.', '3.5' and initials inside a sentence."""
    parts: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        piece = text[start : m.start()]
        if piece.strip() and (not _ABBREV.search(piece.rstrip()) or m.group(0).count("\n")):
            parts.append(piece)
            start = m.end()
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def answer_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Answer sentences with the citations each carries; a citation right after a full stop belongs
    to the sentence before it ("... baseline. [2] Next ...")."""
    out: list[tuple[str, list[int]]] = []
    for sent in split_sentences(text):
        lead = re.match(r"^(?:\s*\[\d{1,3}\])+", sent)
        if lead and out:
            prev, nums = out[-1]
            out[-1] = (prev + " " + lead.group(0).strip(), nums + [n for n in cited_numbers(lead.group(0)) if n not in nums])
            sent = sent[lead.end() :].strip()
            if not sent:
                continue
        out.append((sent, cited_numbers(sent)))
    return out


# ----------------------------------------------------------------------------- support

@dataclass
class Support:
    """How well one answer sentence is backed by the abstracts it cites."""

    score: float  # share of the sentence's content words that occur in the cited abstracts
    best: dict[int, str] = field(default_factory=dict)  # source n -> the abstract sentence that backs it most


_TERMS: dict[str, frozenset[str]] = {}  # text -> its terms; abstracts recur across questions
_TERMS_MAX = 50_000


def terms_of(texts: list[str]) -> list[frozenset[str]]:
    """Stemmed, stop-word-free terms of each text, without citation marks (tokenised in one batch)."""
    missing = list(dict.fromkeys(t for t in texts if t not in _TERMS))
    if missing:
        if len(_TERMS) > _TERMS_MAX:
            _TERMS.clear()
        for text, toks in zip(missing, tokenize([CITE_MARK.sub(" ", t) for t in missing])):
            _TERMS[text] = frozenset(toks)
    return [_TERMS[t] for t in texts]


def content_terms(text: str) -> frozenset[str]:
    """Stemmed, stop-word-free terms of one text."""
    return terms_of([text])[0]


def support(sentence: str, cited: dict[int, str]) -> Support:
    """Lexical support of sentence by the cited abstracts (n -> text). Measured against embedding
    similarity in bench/support.py: lexical overlap separates supported from miscited sentences better."""
    terms = content_terms(sentence)
    best: dict[int, str] = {}
    found: set[str] = set()
    for n, abstract in cited.items():
        sents = split_sentences(abstract) or [abstract]
        overlaps = [(len(terms & t), s) for t, s in zip(terms_of(sents), sents)]
        top = max(overlaps, key=lambda o: o[0])
        if top[0]:
            best[n] = top[1]
        found |= terms & content_terms(abstract)
    return Support(len(found) / len(terms) if terms else 1.0, best)
