"""Hugging Face Daily Papers page dumps -> Records: parse both page layouts, drop page chrome.

Pure: reads files, writes nothing. Problems (unreadable files, orphan abstracts, truncated entries)
are collected with file and line, never raised, so one bad file cannot stop the rest of the corpus.
Files are read line by line: a line that is not UTF-8, holds control bytes or is binary junk costs that
line only (reported), never the well-formed papers around it.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.corpus.decode import MAX_LINE_CHARS, read_lines
from rag.corpus.records import Record
from rag.types import Problem

# Lines that belong to the page, not to a paper.
CHROME = {
    "new",
    "subscribe",
    "daily papers",
    "byak and the research community",
}
CHROME_PREFIXES = ("get trending papers",)
GLUED_PREFIX = "Subscribe"  # one dump glues the first title to the Subscribe button

MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
# Digit runs are bounded: int() of a 5,000-digit "upvotes" count raises ValueError (Python's 4,300-digit limit).
DATE_RE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{1,2})(?:, (\d{4}))?(?: (\d{1,9}))?$")
AUTHORS_RE = re.compile(r"^•\s*(\d{1,6})\s+authors?$")
DOT = "·"
# An abstract is prose: long, or several sentences. Titles in these dumps are at most ~160 chars.
ABSTRACT_MIN_CHARS = 250
# A file's problems listed one by one, at most; the rest are counted in one summary problem each (skips,
# notes), so a dump of a million junk lines cannot make a million-line report.
MAX_PROBLEMS_PER_FILE = 1_000


def _is_chrome(text: str) -> bool:
    low = text.casefold()
    return low in CHROME or low.startswith(CHROME_PREFIXES)


def _looks_like_abstract(text: str) -> bool:
    if len(text) > MAX_LINE_CHARS:
        return False
    return len(text) >= ABSTRACT_MIN_CHARS or (len(text) > 160 and text.count(". ") >= 2)


def _is_short(text: str) -> bool:
    """Short enough for an organisation line (neither prose nor an over-long line)."""
    return len(text) < ABSTRACT_MIN_CHARS and not _looks_like_abstract(text)


class Capped(list):
    """A file's problems: the first MAX_PROBLEMS_PER_FILE kept, the rest only counted (memory stays bounded)."""

    def __init__(self) -> None:
        super().__init__()
        self.rest: dict[bool, list[Problem]] = {True: [], False: []}  # skipped -> [first, last] of those left
        self.left = {True: 0, False: 0}

    def append(self, p: Problem) -> None:
        if len(self) < MAX_PROBLEMS_PER_FILE:
            return super().append(p)
        ends = self.rest[p.skipped]
        if ends:
            ends[1] = p
        else:
            ends += [p, p]
        self.left[p.skipped] += 1

    def summaries(self) -> list[Problem]:
        """One problem for the skips and one for the notes not listed."""
        out = []
        for skipped, (first, last) in [(k, v) for k, v in self.rest.items() if v]:
            what = "papers skipped" if skipped else "other problems"
            where = f"lines {first.line}-{last.line}"
            msg = f"{self.left[skipped]:,} more {what} not listed ({where}), e.g. {first.message}"
            out.append(Problem(first.file, first.line, msg, skipped, count=self.left[skipped]))
        return out


def parse_file(path: Path, problems: list[Problem]) -> list[Record]:
    """Parse one page dump (either layout) into records; append problems found."""
    found = Capped()
    text = read_lines(path, found)
    if text is None:
        problems.extend(found)
        return []
    records = _parse_lines(path.name, text.items, found)
    if not records and text.damaged:
        # Nothing readable came out of a damaged file: report it as unreadable, so ingest keeps its stored papers.
        what = ("binary file, not a text page dump" if "binary" in text.kinds else
                "not UTF-8 text; save it as UTF-8." if "encoding" in text.kinds else "no page-dump text in it;")
        problems.append(Problem(path.name, text.damaged, f"{what} No paper could be read; file skipped", True, True))
        return []
    problems.extend(sorted(found, key=lambda p: p.line) + found.summaries())
    return records


def _parse_lines(name: str, lines: list[tuple[int, str]], problems: list[Problem]) -> list[Record]:
    """The records of one file's clean lines."""
    records: list[Record] = []
    i = 0
    while i < len(lines):
        no, text = lines[i]
        nxt = lines[i + 1][1] if i + 1 < len(lines) else None
        if _is_chrome(text):
            i += 1
            continue
        if not records and text.startswith(GLUED_PREFIX) and text[len(GLUED_PREFIX) : len(GLUED_PREFIX) + 1].isupper():
            text = text[len(GLUED_PREFIX) :].strip()  # "SubscribeAgentPS: ..." above the first paper only
        if DATE_RE.match(text) and not records:
            i += 1  # the page's own date, above the first paper
            continue
        if AUTHORS_RE.match(text) or text == DOT or DATE_RE.match(text):
            problems.append(Problem(name, no, f"metadata line {text!r} with no paper above it; ignored", False))
            i += 1
            continue
        if len(text) > MAX_LINE_CHARS:
            problems.append(Problem(name, no, f"line of {len(text):,} characters, too long for a paper; ignored",
                                    False))
            i += 1
            continue
        if _looks_like_abstract(text):
            problems.append(Problem(name, no, "abstract with no title above it; paper skipped"))
            i += 1
            continue
        if nxt is None or not _looks_like_abstract(nxt):
            why = "file ends after it (truncated?)" if nxt is None else "next line is not an abstract"
            problems.append(Problem(name, no, f"title {text[:60]!r} has no abstract: {why}; paper skipped"))
            i += 1
            continue
        rec = Record(title=text, abstract=nxt, file=name, line=no)
        i = _parse_meta(lines, i + 2, rec, problems)
        records.append(rec)
    return records


def _parse_meta(lines: list[tuple[int, str]], i: int, rec: Record, problems: list[Problem]) -> int:
    """Read the optional '• N authors' / organisation, '·', 'Mon D[, YYYY] [upvotes]' block."""
    n = len(lines)
    if i < n and (m := AUTHORS_RE.match(lines[i][1])):
        rec.authors = int(m.group(1))
        i += 1
    elif i + 1 < n and lines[i + 1][1] == DOT and _is_short(lines[i][1]):
        rec.organization = lines[i][1]
        i += 1
    if i < n and lines[i][1] == DOT:
        i += 1
        if i < n and (m := DATE_RE.match(lines[i][1])):
            month, day, year, votes = m.groups()
            rec.date_parts = (MONTHS[month], int(day), int(year) if year else None)
            rec.date_text = lines[i][1] if votes is None else lines[i][1][: -len(votes)].strip()
            rec.upvotes = int(votes) if votes else None
            i += 1
        else:
            problems.append(Problem(rec.file, lines[i - 1][0], "'·' not followed by a date; date left empty", False))
    return i


