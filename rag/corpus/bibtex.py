"""BibTeX files -> Records: every entry with a title and an abstract, whatever its type (@article, @misc ...).

bibtexparser (v2) splits the file into blocks; an entry it cannot parse (an unclosed brace or quote ...) becomes a
failed block and parsing goes on at the next "@" that starts a line, so a broken entry costs only itself. Values
are resolved here: {...} and "..." unwrapped, @string macros (and the month macros jan ... dec) replaced, "#"
concatenations joined; then LaTeX is decoded to Unicode ({\\"u} -> ü, \\'e -> é, {LoRA} -> LoRA, -- -> –) and
whitespace collapsed. Names "Last, First and Other, Name" become ["First Last", "Name Other"]; year/month/date a
date; doi, eprint (arXiv), url and journal/booktitle the paper's links and venue.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.corpus.decode import MAX_LINE_CHARS
from rag.corpus.fields import arxiv_id, clean, doi, parse_date
from rag.corpus.parse import Capped
from rag.corpus.records import Record
from rag.corpus.tabular import finish, missing, read_text, unreadable
from rag.types import Problem

MONTH_MACROS = {m.casefold()[:3]: m for m in "January February March April May June July August September October "
                "November December".split()}
_LATEX = re.compile(r"[\\{}$~%&]|--|``|''")  # anything LaTeX decoding would change
_NEEDS_DECODER = re.compile(r"[\\$~%&]|--|``|''")  # ... beyond removing braces
_UNESCAPED = re.compile(r"(?<!\\)([%&])")  # literal in BibTeX values, but a comment and a tab stop to LaTeX
_KEY = re.compile(r"@\s*(\w+)\s*[{(]\s*([^,\s{}()]*)")


def read_bibtex(path: Path, problems: list[Problem]) -> list[Record]:
    """Records of a BibTeX file: entries with a title and an abstract; the others and broken blocks reported."""
    found = Capped()
    lines = read_text(path, found)
    if lines is None:
        problems.extend(found)
        return []
    import bibtexparser
    from bibtexparser.model import (DuplicateBlockKeyBlock, DuplicateFieldKeyBlock, Entry, ParsingFailedBlock,
                                    String)

    # bibtexparser logs each failed block as a warning; we report it ourselves, with the file's name.
    logger = logging.getLogger("bibtexparser")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    name = path.name
    try:
        library = bibtexparser.parse_string(_with_countable_breaks(lines), parse_stack=[])
    except Exception as e:  # noqa: BLE001  the splitter raises on states it takes for its own bugs
        problems.append(unreadable(name, "the BibTeX parser failed", Problem(name, 0, f"{type(e).__name__}: {e}")))
        return []
    records: list[Record] = []
    macros = dict(MONTH_MACROS)
    entries, failed = 0, []
    for block in library.blocks:
        if isinstance(block, String):
            macros[block.key.casefold()] = resolve(str(block.value), macros)
        elif isinstance(block, (DuplicateBlockKeyBlock, DuplicateFieldKeyBlock)):
            inner = block.ignore_error_block
            if isinstance(inner, String):
                macros[inner.key.casefold()] = resolve(str(inner.value), macros)
            elif isinstance(inner, Entry):
                entries += 1
                what = "key" if isinstance(block, DuplicateBlockKeyBlock) else "field in entry"
                found.append(Problem(name, block.start_line + 1, f"duplicate {what} {inner.key}; read as it is",
                                     False))
                _entry(inner, macros, name, records, found)
        elif isinstance(block, Entry):
            entries += 1
            _entry(block, macros, name, records, found)
        elif isinstance(block, ParsingFailedBlock):
            failed.append(_failed(block, name))
            found.append(failed[-1])
    if not entries and failed:
        problems.append(unreadable(name, "not BibTeX", failed[0]))
        return []
    finish(found, problems)
    return records


def _with_countable_breaks(lines: list[str]) -> str:
    """The text with every line break one that bibtexparser counts, so its line numbers are the file's: LF for CR
    and CRLF, and a space between a line's trailing backslash (LaTeX's \\ line break) and its break, which
    bibtexparser takes for an escaped character and does not count (the meaning in LaTeX is the same)."""
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        out.append(body + " \n" if body.endswith("\\") else body + "\n")
    return "".join(out)


def _failed(block: Any, name: str) -> Problem:
    """The problem of a block bibtexparser could not parse."""
    error = block.error
    reason = clean(getattr(error, "abort_reason", "") or str(error) or type(error).__name__)
    m = _KEY.match(block.raw or "")
    block_type = m.group(1).casefold() if m else ""
    line = block.start_line + 1
    if block_type in ("comment", "string", "preamble"):
        return Problem(name, line, f"@{block_type} block is not valid BibTeX ({reason}); ignored", False)
    key = m.group(2) if m and m.group(2) else "(no key)"
    return Problem(name, line, f"entry {key} is not valid BibTeX ({reason}); skipped")


def _entry(entry: Any, macros: dict[str, str], name: str, records: list[Record], problems: list[Problem]) -> None:
    """The record of one parsed entry, or its problem."""
    fields: dict[str, str] = {}
    for f in entry.fields:
        fields.setdefault(f.key.casefold(), str(f.value))

    def get(key: str) -> str:
        """A field's value as text (empty when absent)."""
        raw = fields.get(key)
        return resolve(raw, macros) if raw else ""

    line, key = entry.start_line + 1, entry.key or "(no key)"
    title, abstract = latex(get("title")), latex(get("abstract"))
    if why := missing(title, abstract):
        problems.append(Problem(name, line, f"entry {key} {why}; skipped"))
        return
    rec = Record(title=title, abstract=abstract, file=name, line=line, key=entry.key or None)
    rec.author_names = names(get("author"))
    rec.authors = len(rec.author_names) or None
    rec.published, rec.date_text = _date(get("date"), get("year"), get("month"))
    rec.url = clean(get("url")) or None
    rec.doi = doi(get("doi"))
    prefix = get("archiveprefix") or get("eprinttype")
    eprint = get("eprint") if not prefix or "arxiv" in prefix.casefold() else ""
    rec.arxiv_id = next(filter(None, map(arxiv_id, [eprint, get("arxivid"), get("arxiv"), rec.url, rec.doi or "",
                                                     get("journal")])), None)
    rec.venue = latex(get("journal") or get("booktitle")) or None
    records.append(rec)


def _date(when: str, year: str, month: str) -> tuple[Any, str | None]:
    """(date, text as written) from a biblatex date field, or year and month (a name, abbreviation or number)."""
    if when.strip():
        return parse_date(when), clean(when)
    year, month = clean(year), clean(month)
    if not year:
        return None, None
    if month.isdigit() and 1 <= int(month) <= 12:
        return parse_date(f"{year}-{int(month):02d}"), f"{year}-{int(month):02d}"
    text = f"{month} {year}" if month else year
    return parse_date(text), text


def resolve(raw: str, macros: dict[str, str]) -> str:
    """A raw BibTeX value as text: {...} and "..." unwrapped, macros replaced (an unknown one kept as its name),
    "#" concatenations joined."""
    out = []
    for part in _concatenated(raw.strip()) if "#" in raw else [raw.strip()]:
        if len(part) >= 2 and (part[0], part[-1]) in (("{", "}"), ('"', '"')):
            out.append(part[1:-1])
        else:
            out.append(macros.get(part.casefold(), part))
    return "".join(out)


def _concatenated(raw: str) -> list[str]:
    """The parts of a value joined by "#" (outside braces and quotes)."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(raw):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(depth - 1, 0)
        elif ch == '"' and depth == 0:
            quoted = not quoted
        elif ch == "#" and depth == 0 and not quoted:
            parts.append(raw[start:i].strip())
            start = i + 1
    return [*parts, raw[start:].strip()]


@lru_cache(maxsize=1)
def _decoder() -> Any:
    """pylatexenc's LaTeX-to-text converter, made once."""
    from bibtexparser.middlewares import LatexDecodingMiddleware

    return LatexDecodingMiddleware()._decoder  # pylatexenc, set up as bibtexparser does (\url{x} -> x)


def latex(text: str) -> str:
    """LaTeX -> Unicode text, whitespace collapsed ("{\\"u}ber {LoRA} -- 5%" -> "über LoRA – 5%")."""
    if not _LATEX.search(text) or len(text) > 4 * MAX_LINE_CHARS:
        return clean(text)  # nothing to decode, or junk too long for a paper (not worth pylatexenc's time)
    if not _NEEDS_DECODER.search(text):
        return clean(text.replace("{", "").replace("}", ""))
    try:
        return clean(_decoder().latex_to_text(_UNESCAPED.sub(r"\\\1", text)))
    except Exception:  # noqa: BLE001  pylatexenc fails on some malformed macros (\href{x} raises IndexError)
        return clean(text.replace("{", "").replace("}", ""))


def names(text: str) -> list[str]:
    """Author names from a BibTeX author field, each "First von Last, Jr" ("and others" dropped)."""
    if not text.strip():
        return []
    from bibtexparser.middlewares.names import (
        parse_single_name_into_parts,
        split_multiple_persons_names,
    )

    out = []
    for raw in split_multiple_persons_names(text):
        if raw.strip().casefold() == "others":
            continue
        try:
            parts = parse_single_name_into_parts(raw, strict=False)
            full = " ".join(parts.first + parts.von + parts.last) + "".join(f", {j}" for j in parts.jr)
        except Exception:  # noqa: BLE001  an odd name is kept as written
            full = raw
        if name := latex(full):
            out.append(name)
    return out
