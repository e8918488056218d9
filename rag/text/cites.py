"""Citation marks in text: every form models write ([1], [1, 2], [1-3], [Source 2], [^1], 【1】, (source 3)),
the normalised form [n], and the numbers they name. The one owner of the citation pattern."""

from __future__ import annotations

import re

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


def group_numbers(group: str) -> list[int]:
    """The numbers a citation group names, ranges expanded ([1-3] -> 1, 2, 3), in order, without repeats."""
    out: list[int] = []
    for m in re.finditer(rf"(\d+)(?:\s*(?:–|-|—)\s*{_LABEL}?\^?(\d+))?", group, re.IGNORECASE):
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        span = range(lo, hi + 1) if 0 <= hi - lo <= 20 else (lo, hi)
        out.extend(n for n in span if n not in out)
    return out


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


