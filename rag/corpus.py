"""Seed page dumps -> Paper records: parse both page layouts, drop page chrome, dedupe by title.

Pure: reads files, writes nothing. Problems (unreadable files, orphan abstracts, truncated entries)
are collected with file and line, never raised, so one bad file cannot stop the rest of the corpus.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rag.errors import CorpusError
from rag.types import Paper, Problem

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
DATE_RE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{1,2})(?:, (\d{4}))?(?: (\d+))?$")
AUTHORS_RE = re.compile(r"^•\s*(\d+)\s+authors?$")
DOT = "·"
# An abstract is prose: long, or several sentences. Titles in these dumps are at most ~160 chars.
ABSTRACT_MIN_CHARS = 250


@dataclass
class Record:
    """One appearance of a paper in one file (before dedupe)."""

    title: str
    abstract: str
    file: str
    line: int
    authors: int | None = None
    organization: str | None = None
    date_parts: tuple[int, int, int | None] | None = None  # month, day, year (None: current year)
    date_text: str | None = None
    upvotes: int | None = None


@dataclass
class Corpus:
    """Result of reading the seeds: unique papers, every record, and what was skipped or odd."""

    papers: list[Paper]
    records: int
    files: list[str]
    problems: list[Problem] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Number of would-be papers not ingested."""
        return sum(p.skipped for p in self.problems)


def normalize_title(title: str) -> str:
    """Key for dedupe: Unicode-normalised, case-folded, punctuation and spacing collapsed."""
    t = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", t).split())


def paper_id(title: str) -> str:
    """Stable id: the same title gives the same id on every run and machine."""
    return "p" + hashlib.sha1(normalize_title(title).encode("utf-8")).hexdigest()[:12]


def _is_chrome(text: str) -> bool:
    low = text.casefold()
    return low in CHROME or low.startswith(CHROME_PREFIXES)


def _looks_like_abstract(text: str) -> bool:
    return len(text) >= ABSTRACT_MIN_CHARS or (len(text) > 160 and text.count(". ") >= 2)


def read_lines(path: Path, problems: list[Problem]) -> list[tuple[int, str]] | None:
    """Non-blank (line number, stripped text) pairs, or None (with a problem) if not UTF-8 text."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.append(Problem(path.name, 0, f"cannot read file: {e.strerror or e}; file skipped", whole_file=True))
        return None
    if b"\x00" in raw[:8192]:
        problems.append(Problem(path.name, 0, "binary file, not a text page dump; file skipped", whole_file=True))
        return None
    try:
        text = raw.decode("utf-8-sig")  # tolerate a byte-order mark
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        problems.append(
            Problem(path.name, line, f"not UTF-8 text (byte {e.start}); save it as UTF-8. File skipped", whole_file=True)
        )
        return None
    return [(i, s.strip()) for i, s in enumerate(text.splitlines(), 1) if s.strip()]


def parse_file(path: Path, problems: list[Problem]) -> list[Record]:
    """Parse one page dump (either layout) into records; append problems found."""
    lines = read_lines(path, problems)
    if lines is None:
        return []
    name = path.name
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
    elif i + 1 < n and lines[i + 1][1] == DOT and not _looks_like_abstract(lines[i][1]):
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


def _resolve_date(parts: tuple[int, int, int | None] | None, current_year: int | None) -> date | None:
    """Pages omit the year for dates in the year they were scraped (current_year)."""
    if parts is None:
        return None
    month, day, year = parts
    year = year or current_year
    if year is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def merge(records: list[Record]) -> list[Paper]:
    """Dedupe records by normalised title; one Paper keeps every source and any metadata found."""
    by_key: dict[str, Paper] = {}
    # A page prints the year only for earlier years, so a year-less date is one year after the
    # latest explicit year in the same file.
    latest: dict[str, int] = {}
    for r in records:
        if r.date_parts and r.date_parts[2]:
            latest[r.file] = max(latest.get(r.file, 0), r.date_parts[2])
    for r in records:
        key = normalize_title(r.title)
        p = by_key.get(key)
        if p is None:
            p = by_key[key] = Paper(paper_id=paper_id(r.title), title=r.title, abstract=r.abstract)
        elif len(r.abstract) > len(p.abstract):
            p.abstract = r.abstract  # keep the fullest text when pages disagree
        p.sources.append(f"{r.file}:{r.line}")
        p.authors = p.authors or r.authors
        p.organization = p.organization or r.organization
        p.upvotes = p.upvotes if p.upvotes is not None else r.upvotes
        if p.published is None and r.date_parts:
            year = latest.get(r.file) + 1 if r.file in latest else None
            p.published = _resolve_date(r.date_parts, year)
            p.date_text = r.date_text
    return sorted(by_key.values(), key=lambda p: p.paper_id)


def seed_files(paths: list[Path]) -> list[Path]:
    """Expand folders to their *.txt files (named files are read whatever their suffix); a missing path is an error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.txt") if p.is_file() and not p.name.startswith(".")))
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(f"seed path not found: {path}", "pass a folder or files of page dumps, e.g. `rag ingest seeds/`")
    if not files:
        raise CorpusError(f"no seed files in {', '.join(map(str, paths))}", "copy the page dumps into seeds/")
    return files


def load_corpus(paths: list[Path]) -> Corpus:
    """Read every seed file, collect problems, and return deduplicated papers."""
    problems: list[Problem] = []
    records: list[Record] = []
    files = seed_files(paths)
    for f in files:
        records.extend(parse_file(f, problems))
    return Corpus(papers=merge(records), records=len(records), files=[f.name for f in files], problems=problems)
