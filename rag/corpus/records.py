"""Records (one appearance of a paper in one file, from any reader) -> unique Papers.

Identity across formats: two records are one paper when they share an arXiv id, a DOI or a normalised
title (any of the three links them, so a page-dump entry, a .bib entry with its DOI and an arXiv listing
of the same paper become one). Records are merged in the order given (the seeds first, then a user's
sources in the order they were added): the first record that has a field gives it, except the abstract,
where the longest wins; the paper's id is its first record's title's, so a seed paper keeps its id
whatever a user adds.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from rag.text.dates import PRECISION, date_precision
from rag.types import Paper

PAGE_DUMP = "page dump"


@dataclass
class Record:
    """One appearance of a paper in one file (before dedupe)."""

    title: str
    abstract: str
    file: str
    line: int  # where the record starts (1-based)
    authors: int | None = None  # how many
    organization: str | None = None
    date_parts: tuple[int, int, int | None] | None = None  # page dumps: month, day, year (None: current year)
    date_text: str | None = None
    upvotes: int | None = None
    # Other formats:
    published: date | None = None
    author_names: list[str] = field(default_factory=list)
    url: str | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    venue: str | None = None
    key: str | None = None  # a BibTeX entry's key, an Atom entry's id
    kind: str = PAGE_DUMP  # the reader's format name

    def keys(self) -> list[str]:
        """The identity keys of this record."""
        out = [f"title:{normalize_title(self.title)}"]
        if self.arxiv_id:
            out.append(f"arxiv:{self.arxiv_id.lower()}")
        if self.doi:
            out.append(f"doi:{self.doi.lower()}")
        return out


def normalize_title(title: str) -> str:
    """Key for dedupe: Unicode-normalised, case-folded, punctuation and spacing collapsed."""
    t = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", t).split())


def paper_id(title: str) -> str:
    """Stable id: the same title gives the same id on every run and machine."""
    return "p" + hashlib.sha1(normalize_title(title).encode("utf-8")).hexdigest()[:12]


def group(records: list[Record]) -> list[list[Record]]:
    """Records that are one paper, each group in the records' order, groups in order of their first record."""
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, rec in enumerate(records):
        for key in rec.keys():
            if key in owner:
                a, b = find(owner[key]), find(i)
                if a != b:
                    parent[max(a, b)] = min(a, b)  # the earlier record's group absorbs the later one
            else:
                owner[key] = i
    groups: dict[int, list[Record]] = {}
    for i, rec in enumerate(records):
        groups.setdefault(find(i), []).append(rec)
    return list(groups.values())


def merge(records: list[Record]) -> list[Paper]:
    """Dedupe records across files and formats; one Paper keeps every source and any metadata found."""
    # A page prints the year only for earlier years, so a year-less date is one year after the
    # latest explicit year in the same file.
    latest: dict[str, int] = {}
    for r in records:
        if r.date_parts and r.date_parts[2]:
            latest[r.file] = max(latest.get(r.file, 0), r.date_parts[2])
    papers = [_merged(g, latest) for g in group(records)]
    return sorted(papers, key=lambda p: p.paper_id)


SIMPLE_FIELDS = ("organization", "url", "arxiv_id", "doi", "venue", "upvotes")


def _merged(recs: list[Record], latest: dict[str, int]) -> Paper:
    first = recs[0]
    p = Paper(paper_id=paper_id(first.title), title=first.title, abstract=first.abstract)
    origin: dict[str, str] = {"title": first.file, "abstract": first.file}
    for r in recs:
        if len(r.abstract) > len(p.abstract):
            p.abstract = r.abstract  # keep the fullest text when files disagree
            origin["abstract"] = r.file
        p.sources.append(f"{r.file}:{r.line}")
        for name in SIMPLE_FIELDS:
            value = getattr(r, name)
            if getattr(p, name) is None and value not in (None, ""):
                setattr(p, name, value)
                origin[name] = r.file
        if not p.author_names and r.author_names:
            p.author_names = list(r.author_names)
            origin["author_names"] = r.file
        count = r.authors or (len(r.author_names) or None)
        if p.authors is None and count:
            p.authors = count
            origin["authors"] = r.file
        if p.published is not None and r.published and r.published.year == p.published.year and \
                _precision(r.date_text) > _precision(p.date_text):
            p.published, p.date_text = r.published, r.date_text  # "2024-05-17" over "2024" for the same paper
            origin["published"] = r.file
        elif p.published is None:
            if r.published:
                p.published, p.date_text = r.published, r.date_text or r.published.isoformat()
                origin["published"] = r.file
            elif r.date_parts:
                year = latest.get(r.file) + 1 if r.file in latest else None
                p.published = _resolve_date(r.date_parts, year)
                p.date_text = r.date_text
                if p.published:
                    origin["published"] = r.file
    # Where each field came from, when there is a choice: records from two or more files, one of them not a
    # page dump (page dumps carry the same fields; a seed paper's dict, and so its hash, stays as it was).
    if len({r.file for r in recs}) > 1 and any(r.kind != PAGE_DUMP for r in recs):
        p.fields_from = origin
    return p


def _precision(date_text: str | None) -> int:
    """How precise a date as written is: 3 day, 2 month, 1 year, 0 unknown."""
    return PRECISION.get(date_precision(date_text) or "", 0)


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
