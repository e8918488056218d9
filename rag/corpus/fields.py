"""Field normalisers shared by every reader: arXiv ids, DOIs, dates, author lists, titles.

Pure functions of strings; each returns None (or []) for a value it cannot read, never raises.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# New-style ids (0704.0001 to 2412.12345, optional version) and old-style ones (hep-th/9901001).
_ARXIV_NEW = re.compile(r"(?<!\d)(?<!\d\.)(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_ARXIV_OLD = re.compile(r"(?<![\w-])([a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.IGNORECASE)
_ARXIV_HINT = re.compile(r"arxiv", re.IGNORECASE)
_DOI = re.compile(r"(10\.\d{4,9}/\S+)")
_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T ][\d:.+Z-]*)?$")
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
# Never text (as page dumps are cleaned, rag/corpus/decode.py): control characters but the whitespace ones (which
# become spaces), byte-order marks, and the bidi embeddings, overrides and isolates that reorder what is shown.
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ufeff\u202a-\u202e\u2066-\u2069]")


def arxiv_id(value: object) -> str | None:
    """The arXiv id in an id, "arXiv:" tag or arxiv.org URL, without its version; None if there is none."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if m := _ARXIV_NEW.search(text):
        # a bare 4.5 digit number is an arXiv id only as the whole value or next to "arxiv"
        if m.group(0) == text or _ARXIV_HINT.search(text):
            return m.group(1)
    if (m := _ARXIV_OLD.search(text)) and (_ARXIV_HINT.search(text) or m.group(0) == text):
        return m.group(1).lower()
    return None


def doi(value: object) -> str | None:
    """A DOI, lower-cased, without "doi:" or the https://doi.org/ prefix; None if there is none."""
    if not isinstance(value, str):
        return None
    m = _DOI.search(value.strip())
    return m.group(1).rstrip(".,;").lower() if m else None


def parse_date(value: object) -> date | None:
    """A date from ISO text (2024-05-17, 2024-05, 2024, with a time), "17 May 2024", "May 17, 2024" or
    "May 2024"; a missing day or month is the first."""
    if isinstance(value, date):
        return value
    if isinstance(value, int) and 1000 <= value <= 9999:
        return date(value, 1, 1)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if m := _ISO.match(text):
        y, mo, d = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
        return _date(y, mo, d)
    words = re.findall(r"[A-Za-z]+|\d+", text)
    month = next((_MONTHS[w[:3].lower()] for w in words if w[:3].lower() in _MONTHS and w.isalpha()), None)
    numbers = [int(w) for w in words if w.isdigit()]
    year = next((n for n in numbers if 1000 <= n <= 9999), None)
    day = next((n for n in numbers if 1 <= n <= 31), 1)
    if year is None:
        return None
    return _date(year, month or 1, day if month else 1)


def _date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def author_list(value: object) -> list[str]:
    """Author names from a list, or from text joined by ";", " and " or "," ("Last, First" kept whole when
    the text is joined by ";" or " and ")."""
    if isinstance(value, (list, tuple)):
        items = [v.get("name", "") if isinstance(v, dict) else v for v in value]
        return [clean(str(v)) for v in items if isinstance(v, str) and clean(v)]
    if not isinstance(value, str) or not value.strip():
        return []
    text = clean(value)
    if ";" in text:
        parts = text.split(";")
    elif re.search(r"\s+and\s+", text):
        parts = re.split(r"\s+and\s+", text)
        if not all(_last_first(p) for p in parts):  # "A, B and C", not "Smith, John and Doe, Jane"
            parts = [q for p in parts for q in p.split(",")]
    else:
        parts = text.split(",")
    return [p.strip() for p in parts if p.strip()]


def _last_first(name: str) -> bool:
    """ "Smith, John" or "van Dyke, J. R.": one comma, a short name on each side."""
    sides = name.split(",")
    return len(sides) == 2 and all(0 < len(side.split()) <= 3 for side in sides)


def clean(text: str) -> str:
    """Unicode-normalised (NFC), whitespace collapsed (newlines inside a field become spaces), control characters,
    byte-order marks and bidi controls removed."""
    if text.isascii() and text.isprintable() and "  " not in text:
        return text.strip()  # the common case, kept fast: nothing to normalise, remove or collapse
    return " ".join(_INVISIBLE.sub("", unicodedata.normalize("NFC", text)).split())
