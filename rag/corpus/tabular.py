"""JSON Lines (or a JSON array) and CSV/TSV files of papers -> Records; and what every reader of a user's files
shares: reading the text, and the check that a title and an abstract can make a paper.

Keys and column names are matched case-insensitively and whatever their spaces, "_" or "-" ("Publication Date",
"publicationDate"), with common aliases (ALIASES; the first alias with a value wins). Values are normalised by
rag/corpus/fields.py. Pure and forgiving like the page-dump reader: a line that is not UTF-8 is read as cp1252
and reported; an invalid JSON value, a value that is not an object or a broken CSV row costs only itself and is
reported at the line it starts on.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from rag.corpus.decode import MAX_LINE_CHARS, _decode, read_raw
from rag.corpus.fields import arxiv_id, author_list, clean, doi, parse_date
from rag.corpus.parse import Capped
from rag.corpus.records import Record
from rag.types import Problem

ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "abstract": ("abstract", "summary", "description", "abstract_note"),  # Abstract Note: Zotero's CSV
    "authors": ("authors", "author", "creators"),
    "date": ("date", "published", "publication_date", "pub_date", "year", "publication_year"),
    "url": ("url", "link", "pdf_url"),
    "arxiv_id": ("arxiv_id", "arxiv", "eprint"),
    "doi": ("doi",),
    "venue": ("venue", "journal", "booktitle", "conference", "journal_ref", "publication_title"),
    "id": ("id",),  # an arXiv id only when it is one (the arXiv metadata dump's "id")
    "external_ids": ("external_ids",),  # Semantic Scholar: {"ArXiv": ..., "DOI": ...}
}


@lru_cache(maxsize=4096)
def _norm(name: str) -> str:
    """A key or column name as compared: case-folded, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


FIELD_OF = {_norm(alias): (name, rank) for name, aliases in ALIASES.items() for rank, alias in enumerate(aliases)}


# --------------------------------------------------------------------------- shared by the readers of user files

def read_text(path: Path, problems: list[Problem]) -> list[str] | None:
    """The file's lines as text, line breaks (CRLF, CR or LF) kept; None if it cannot be read (reported).

    A UTF-8 or UTF-16 byte-order mark is honoured; a line that is not UTF-8 is read as cp1252 (or with U+FFFD for
    a few bad bytes) and reported, so one bad line costs nothing but a note."""
    raw = read_raw(path, problems)
    if raw is None:
        return None
    try:
        return list(io.StringIO(raw.decode("utf-8"), newline=""))  # newline="": split at CR, LF, CRLF only
    except UnicodeDecodeError:
        pass
    lines = []
    for no, chunk in enumerate(raw.splitlines(keepends=True), 1):
        try:
            lines.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            text, how = _decode(chunk)
            lines.append(text)
            problems.append(Problem(path.name, no, how or "not UTF-8", False))
    return lines


def missing(title: str, abstract: str) -> str | None:
    """Why a title and an abstract cannot make a paper ("has no abstract", ...), or None when they can."""
    if not title:
        return "has no title"
    if not abstract:
        return "has no abstract"
    for what, text in (("title", title), ("abstract", abstract)):
        if len(text) > MAX_LINE_CHARS:  # junk, never a paper (see rag/corpus/decode.py)
            return f"has a {what} of {len(text):,} characters, too long for one"
    return None


def finish(found: Capped, problems: list[Problem]) -> None:
    """Hand a file's problems over in line order, with a summary of those not listed."""
    problems.extend(sorted(found, key=lambda p: p.line) + found.summaries())


def unreadable(name: str, what: str, first: Problem) -> Problem:
    """The one problem of a file nothing could be read from (its stored papers are kept)."""
    where = f"line {first.line}: " if first.line else ""
    return Problem(name, first.line, f"{what} ({where}{first.message}); no paper could be read; file skipped",
                   True, True)


# --------------------------------------------------------------------------- one record from named values

def _text(value: object) -> str:
    """A value as clean text: a string, a number, or a list of strings (paragraphs); anything else is no text."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return clean(" ".join(value))  # an abstract given as paragraphs
    return ""


def _record(values: dict[str, object], name: str, line: int, problems: list[Problem]) -> Record | None:
    """A Record from values by field name (ALIASES' keys), or None (reported) when it cannot be a paper."""
    title, abstract = _text(values.get("title")), _text(values.get("abstract"))
    if why := missing(title, abstract):
        what = f"record {title[:60]!r}" if title and why != "has no title" else "record"
        problems.append(Problem(name, line, f"{what} {why}; skipped"))
        return None
    rec = Record(title=title, abstract=abstract, file=name, line=line)
    if authors := values.get("authors"):
        rec.author_names = author_list(authors)
        rec.authors = len(rec.author_names) or None
    if (when := values.get("date")) is not None:
        rec.published = parse_date(when.strip() if isinstance(when, str) else when)
        rec.date_text = _text(when) or None
    url = _text(values.get("url")) or None
    rec.url = url
    ids = values.get("external_ids")
    ids = {_norm(k): v for k, v in ids.items()} if isinstance(ids, dict) else {}
    arxiv_text = _text(values.get("arxiv_id"))
    rec.arxiv_id = (arxiv_id(arxiv_text) or arxiv_id(_text(ids.get("arxiv"))) or arxiv_id(_text(values.get("id")))
                    or arxiv_id(url))
    rec.doi = (doi(_text(values.get("doi"))) or doi(_text(ids.get("doi")))
               or (doi(url) if url and "doi" in url else None))
    if not rec.arxiv_id and rec.doi:
        rec.arxiv_id = arxiv_id(rec.doi)  # arXiv's own DOIs: 10.48550/arxiv.2401.01234
    rec.venue = _text(values.get("venue")) or None
    return rec


# --------------------------------------------------------------------------- JSON Lines and JSON arrays

_DECODER = json.JSONDecoder()
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")  # invalid inside a JSON string (but CR and LF)
_GAP = re.compile(r"[\s,\ufeff]*")  # between values: whitespace, byte-order marks (of concatenated files), commas
_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false",
          type(None): "null"}


def read_jsonl(path: Path, problems: list[Problem]) -> list[Record]:
    """Records of a JSON Lines file (one object a line; objects spread over lines and a JSON array also read)."""
    found = Capped()
    lines = read_text(path, found)
    if lines is None:
        problems.extend(found)
        return []
    name, text = path.name, "".join(lines)
    starts = list(itertools.accumulate(map(len, lines), initial=0))  # offset of each line
    records: list[Record] = []
    objects, errors, plain = 0, [], ""
    n = len(text)
    pos = _GAP.match(text, 0).end()
    in_array = text.startswith("[", pos)
    pos += in_array
    while (pos := _GAP.match(text, pos).end()) < n:
        if in_array and text[pos] == "]":
            in_array, pos = False, pos + 1
            continue
        line = bisect.bisect_right(starts, pos)
        try:
            try:
                value, pos = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as e:
                if not e.msg.startswith("Invalid control character") or text[e.pos] in "\r\n":
                    raise
                # a tab or control byte inside a string: read it as a space (same length, so offsets hold)
                plain = plain or _CONTROL.sub(" ", text)
                value, pos = _DECODER.raw_decode(plain, pos)
                found.append(Problem(name, line, "control characters inside a JSON string read as spaces", False))
        except (json.JSONDecodeError, RecursionError) as e:
            nxt = _resync(lines, line, pos - starts[line - 1])
            last = max(no for no in range(line, nxt) if lines[no - 1].strip())
            why = _json_reason(e)
            span = "line skipped" if last == line else f"lines {line}-{last} skipped"
            errors.append(Problem(name, line, f"not valid JSON ({why}); {span}"))
            found.append(errors[-1])
            pos = starts[nxt - 1]
            continue
        if not isinstance(value, dict):
            found.append(Problem(name, line, f"{_KINDS.get(type(value), 'a value')}, not a JSON object; skipped"))
            continue
        objects += 1
        values: dict[str, object] = {}
        ranks: dict[str, int] = {}
        for key, v in value.items():
            field = FIELD_OF.get(_norm(key))
            if not field or v is None or v == [] or isinstance(v, str) and not v.strip():
                continue
            if field[1] < ranks.get(field[0], 99):
                values[field[0]], ranks[field[0]] = v, field[1]
        if not values:
            keys = ", ".join(list(value)[:8])
            found.append(Problem(name, line, f"object has no title or abstract (keys: {keys or 'none'}); skipped"))
        elif rec := _record(values, name, line, found):
            records.append(rec)
    if not objects and errors:
        problems.append(unreadable(name, "not JSON", errors[0]))
        return []
    finish(found, problems)
    return records


def _json_reason(e: Exception) -> str:
    """What a JSON error means, where."""
    if not isinstance(e, json.JSONDecodeError):
        return "nested too deeply"
    msg = e.msg.removesuffix(" at")
    if msg == "Invalid control character" and e.doc[e.pos] in "\r\n":
        msg = "Unterminated string"  # the line ends inside a string
    return f"{msg} at line {e.lineno}, column {e.colno}"


def _resync(lines: list[str], line: int, column: int) -> int:
    """The line after a broken value where the next value may start: the first non-blank line indented no deeper
    than the broken value's start, not a closing brace (a pretty-printed object's own lines are deeper)."""
    for no in range(line + 1, len(lines) + 1):
        body = lines[no - 1].lstrip(" \t\ufeff")
        if body.strip() and len(lines[no - 1]) - len(body) <= column and not body.startswith("}"):
            return no
    return len(lines) + 1


# --------------------------------------------------------------------------- CSV and TSV

def read_csv(path: Path, problems: list[Problem]) -> list[Record]:
    """Records of a CSV or TSV file with a header row (quoted fields may hold delimiters, quotes and newlines)."""
    found = Capped()
    lines = read_text(path, found)
    if lines is None:
        problems.extend(found)
        return []
    name = path.name
    delimiter = _delimiter(path, lines)
    header: list[str] | None = None
    columns: dict[str, list[int]] = {}
    records: list[Record] = []
    errors: list[Problem] = []
    for start, end, row, error in _rows(lines, delimiter):
        if error is not None:
            plain = lines[start - 1].rstrip("\r\n").split("\t")
            if delimiter == "\t" and header and len(plain) == len(header):
                row = plain  # a TSV line whose field starts with a quote that is not CSV quoting
            else:
                span = f"line {start}" if end <= start else f"lines {start}-{end}"
                why = _csv_reason(error, start, end)
                errors.append(Problem(name, start, f"broken CSV row: {why} ({span}); row skipped"))
                found.append(errors[-1])
                continue
        if not any(f.strip() for f in row):
            continue
        if header is None:
            header, columns = [h.strip() for h in row], _columns(row)
            if "title" not in columns or "abstract" not in columns:
                what = "title" if "title" not in columns else "abstract"
                shown = ", ".join(repr(h) for h in header[:12])
                problems.append(Problem(name, start, f"the header row has no {what} column (columns: {shown}); "
                                        "no paper could be read; file skipped", True, True))
                return []
            continue
        while len(row) > len(header) and not row[-1].strip():
            row = row[:-1]  # trailing empty fields (a trailing delimiter)
        if len(row) != len(header):
            span = f"line {start}" if end <= start else f"lines {start}-{end}"
            hint = "a delimiter inside an unquoted field?" if len(row) > len(header) else "fields left out?"
            found.append(Problem(name, start, f"row has {len(row)} fields, the header has {len(header)} "
                                 f"({hint} {span}); row skipped"))
            continue
        values = {f: next((row[i] for i in cols if row[i].strip()), "") for f, cols in columns.items()}
        if rec := _record(values, name, start, found):
            records.append(rec)
    if header is None and errors:
        problems.append(unreadable(name, "not CSV", errors[0]))
        return []
    finish(found, problems)
    return records


def _csv_reason(error: str, start: int, end: int) -> str:
    """What a csv module error on the row of lines start-end means to someone looking at the file."""
    if error.startswith("unexpected end of data"):
        return "a quoted field is never closed"
    if "expected after '\"'" in error:
        if end > start:
            return f"a quoted field runs on to line {end} and breaks there (a quote never closed?)"
        return "text after a closing quote (a quote inside a field must be doubled)"
    return error


def _delimiter(path: Path, lines: list[str]) -> str:
    """Tab for .tsv or a header with tabs; ";" for a header with semicolons but no comma; else a comma."""
    head = next((ln for ln in lines if ln.strip()), "")
    if path.suffix.lower() == ".tsv" or "\t" in head:
        return "\t"
    return ";" if ";" in head and "," not in head else ","


def _columns(header: list[str]) -> dict[str, list[int]]:
    """field name -> the columns that hold it, best alias first."""
    ranked: dict[str, list[tuple[int, int]]] = {}
    for i, head in enumerate(header):
        if field := FIELD_OF.get(_norm(head)):
            ranked.setdefault(field[0], []).append((field[1], i))
    return {f: [i for _, i in sorted(cols)] for f, cols in ranked.items()}


def _rows(lines: list[str], delimiter: str) -> Iterator[tuple[int, int, list[str], str | None]]:
    """(first line, last line, fields, error) of each row; a broken row has fields [] and its error.

    After a broken row the reading restarts on the line after its first line: a quote left open swallows the
    lines after it until the error shows, and those lines may be good rows."""
    k = 0  # lines before the current reader's first
    while k < len(lines):
        reader = csv.reader((lines[j] for j in range(k, len(lines))), delimiter=delimiter, strict=True)
        done = k
        try:
            for row in reader:
                yield done + 1, k + reader.line_num, row, None
                done = k + reader.line_num
            return
        except csv.Error as e:
            yield done + 1, k + reader.line_num, [], str(e)
            k = done + 1
