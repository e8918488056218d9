"""Seed page dumps -> Paper records: parse both page layouts, drop page chrome, dedupe by title.

Pure: reads files, writes nothing. Problems (unreadable files, orphan abstracts, truncated entries)
are collected with file and line, never raised, so one bad file cannot stop the rest of the corpus.
Files are read line by line: a line that is not UTF-8, holds control bytes or is binary junk costs that
line only (reported), never the well-formed papers around it.
"""

from __future__ import annotations

import codecs
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
# Digit runs are bounded: int() of a 5,000-digit "upvotes" count raises ValueError (Python's 4,300-digit limit).
DATE_RE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{1,2})(?:, (\d{4}))?(?: (\d{1,9}))?$")
AUTHORS_RE = re.compile(r"^•\s*(\d{1,6})\s+authors?$")
DOT = "·"
# An abstract is prose: long, or several sentences. Titles in these dumps are at most ~160 chars.
ABSTRACT_MIN_CHARS = 250
# The longest real abstract is 1,920 characters (arXiv's limit); a longer line is junk, never a paper, so a
# multi-megabyte line cannot become thousands of chunks to embed.
MAX_LINE_CHARS = 10_000
# A line whose characters are mostly control characters or undecodable bytes is binary data, not text.
BINARY_SHARE = 0.25

# Whitespace that is not a line break in a page dump (tab, form feed, NEL, U+2028 ...): a space.
_SPACES = re.compile("[\t\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")
# Removed silently wherever they are: byte-order marks (of concatenated files) and the bidi embeddings,
# overrides and isolates that reorder what a terminal or browser shows (Trojan Source).
_INVISIBLE = re.compile("[\ufeff\u202a-\u202e\u2066-\u2069]")
# Control characters (C0 but tab and the breaks, DEL, C1): never text; removed and reported.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_NON_ASCII = re.compile("[^\x00-\x7f\ufffd]")


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
    return ABSTRACT_MIN_CHARS <= len(text) <= MAX_LINE_CHARS or (
        160 < len(text) <= MAX_LINE_CHARS and text.count(". ") >= 2
    )


@dataclass
class Lines:
    """A file's non-blank lines, cleaned, with the first damaged line (not UTF-8, control bytes; 0: none)."""

    items: list[tuple[int, str]]
    damaged: int = 0
    binary: bool = False  # the damage includes NUL bytes or binary lines


def _decode(raw: bytes) -> tuple[str, str | None]:
    """One line's text and, when it was not UTF-8, how it was read."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", "replace")
    if _NON_ASCII.search(text):  # valid multi-byte sequences too: UTF-8 with a few bad bytes
        return text, "invalid UTF-8 bytes replaced by U+FFFD"
    return raw.decode("cp1252", "replace"), "not UTF-8, read as cp1252 (save the file as UTF-8)"


def _strip(text: str) -> str:
    """Strip whitespace and invisible format characters (zero-width space, marks, soft hyphen) at both ends."""
    text = text.strip()
    if text and (unicodedata.category(text[0]) == "Cf" or unicodedata.category(text[-1]) == "Cf"):
        i, j = 0, len(text)
        while i < j and (text[i].isspace() or unicodedata.category(text[i]) == "Cf"):
            i += 1
        while j > i and (text[j - 1].isspace() or unicodedata.category(text[j - 1]) == "Cf"):
            j -= 1
        text = text[i:j]
    return text


def _clean(text: str) -> tuple[str | None, str | None]:
    """(clean text, or None for a binary line; what was wrong with it, if anything)."""
    if _SPACES.search(text):
        text = _SPACES.sub(" ", text)
    if _INVISIBLE.search(text):
        text = _INVISIBLE.sub("", text)
    if not _CONTROL.search(text) and "\ufffd" not in text:
        return _strip(text), None
    bad = len(_CONTROL.findall(text)) + text.count("\ufffd")
    if bad >= 4 and bad > BINARY_SHARE * len(text):
        return None, "binary data, not text; line ignored"
    return _strip(_CONTROL.sub("", text)), "control characters removed" if _CONTROL.search(text) else None


def read_lines(path: Path, problems: list[Problem]) -> Lines | None:
    """Non-blank (line number, clean text) pairs, problems per damaged line; None if the file cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.append(Problem(path.name, 0, f"cannot read file: {e.strerror or e}; file skipped", whole_file=True))
        return None
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and raw[:8192].count(0) * 4 > len(raw[:8192]):
        # UTF-16, as Windows editors save "Unicode": a BOM, and English text in it is half NUL bytes
        raw = raw.decode("utf-16", "replace").encode("utf-8")
        problems.append(Problem(path.name, 1, "UTF-16 text, read as such (save the file as UTF-8)", False))
    out = Lines([], binary=b"\x00" in raw)
    # Line breaks are CRLF, CR or LF, as editors count them, so "file:line" points where an editor shows it.
    for no, chunk in enumerate(raw.splitlines(), 1):
        text, how = _decode(chunk)
        text, wrong = _clean(text)
        if how or wrong:
            out.damaged = out.damaged or no
            out.binary = out.binary or text is None
            problems.append(Problem(path.name, no, "; ".join(filter(None, [how, wrong])), False))
        if text:
            out.items.append((no, text))
    return out


def parse_file(path: Path, problems: list[Problem]) -> list[Record]:
    """Parse one page dump (either layout) into records; append problems found."""
    found: list[Problem] = []
    text = read_lines(path, found)
    if text is None:
        problems.extend(found)
        return []
    records = _parse_lines(path.name, text.items, found)
    if not records and text.damaged:
        # Nothing readable came out of a damaged file: report it as unreadable, so ingest keeps its stored papers.
        what = "binary file, not a text page dump" if text.binary else "not UTF-8 text; save it as UTF-8."
        problems.append(Problem(path.name, text.damaged, f"{what} No paper could be read; file skipped", True, True))
        return []
    problems.extend(sorted(found, key=lambda p: p.line))
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
            problems.append(Problem(name, no, f"line of {len(text):,} characters, too long for a paper; ignored", False))
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
    elif i + 1 < n and lines[i + 1][1] == DOT and len(lines[i][1]) < ABSTRACT_MIN_CHARS and not _looks_like_abstract(lines[i][1]):
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
