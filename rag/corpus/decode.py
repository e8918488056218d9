"""The bytes of one seed file -> its clean, numbered lines; damage costs the damaged line only.

A line break is CRLF, CR or LF (as editors count them, so "file:line" points where an editor shows it).
Each line is decoded on its own: UTF-8; UTF-8 with a few bad bytes (replaced by U+FFFD); or, when it has
no UTF-8 sequence at all, cp1252 (a line saved as Latin-1/Windows-1252). Then it is cleaned: whitespace
that is not a line break (tab, form feed, NEL, U+2028 ...) becomes a space; byte-order marks and bidi
controls are removed; control characters are removed (and reported); whitespace and invisible format
characters are stripped at both ends. A line that is mostly control characters or undecodable bytes is
binary data and is dropped (reported). Every damaged line is reported as a Problem with its line number.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.types import Problem

# The longest real abstract is 1,920 characters (arXiv's limit); a longer line is junk, never a paper, so a
# multi-megabyte line cannot become thousands of chunks to embed.
MAX_LINE_CHARS = 10_000
# A line whose characters are mostly control characters or undecodable bytes is binary data, not text.
BINARY_SHARE = 0.25

# Whitespace that is not a line break in a page dump: a space.
_SPACES = re.compile("[\t\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")
# Removed silently wherever they are: byte-order marks (of concatenated files) and the bidi embeddings,
# overrides and isolates that reorder what a terminal or browser shows (Trojan Source).
_INVISIBLE = re.compile("[\ufeff\u202a-\u202e\u2066-\u2069]")
# Control characters (C0 but tab and the breaks, DEL, C1): never text; removed and reported.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_ODD = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffd]")  # any of the above
_NON_ASCII = re.compile("[^\x00-\x7f\ufffd]")
_PRINTABLE = bytes(range(0x20, 0x7F))
# Stripped at the ends of a line: every whitespace character, and the invisible format characters that
# copy-paste leaves there (soft hyphen, zero-width space/joiners, direction marks, word joiner, BOM).
_EDGES = ("".join(map(chr, [*range(0x09, 0x0E), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                             0x2028, 0x2029, 0x202F, 0x205F, 0x3000]))
          + "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff")


@dataclass
class Lines:
    """A file's non-blank lines, cleaned, and what damage was found (the first damaged line; 0: none)."""

    items: list[tuple[int, str]] = field(default_factory=list)
    damaged: int = 0
    kinds: set[str] = field(default_factory=set)  # "binary" | "encoding" | "long"


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


def read_line(raw: bytes) -> tuple[str | None, str | None]:
    """One line's clean text (None for binary data) and what was wrong with it, if anything."""
    if raw.isascii() and not raw.translate(None, _PRINTABLE):
        return raw.decode("ascii").strip(), None  # the common case, kept fast: printable ASCII only
    text, how = _decode(raw)
    if _ODD.search(text):
        text = _INVISIBLE.sub("", _SPACES.sub(" ", text))
        kept = _CONTROL.sub("", text)
        bad = len(text) - len(kept) + kept.count("\ufffd")
        if bad >= 4 and bad > BINARY_SHARE * len(text):
            return None, "binary data, not text; line ignored"
        if len(kept) < len(text):
            text, how = kept, "; ".join(filter(None, [how, "control characters removed"]))
    return text.strip(_EDGES), how


def read_raw(path: Path, problems: list[Problem]) -> bytes | None:
    """A file's bytes, as UTF-8 where it says otherwise: a UTF-8 byte-order mark dropped, UTF-16 text (with its
    BOM) re-encoded and reported; None if the file cannot be read (reported). Every reader opens files so."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.append(Problem(path.name, 0, f"cannot read file: {e.strerror or e}; file skipped", whole_file=True))
        return None
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # UTF-16, as Windows editors save "Unicode": a BOM, and the English text in it is half NUL bytes
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            text = raw.decode("utf-16", "replace") if raw[:8192].count(0) * 4 > len(raw[:8192]) else None
        if text is not None:
            problems.append(Problem(path.name, 1, "UTF-16 text, read as such (save the file as UTF-8)", False))
            return text.encode("utf-8")
    return raw


def read_lines(path: Path, problems: list[Problem]) -> Lines | None:
    """Non-blank (line number, clean text) pairs and a problem per damaged line; None if the file cannot be read."""
    raw = read_raw(path, problems)
    if raw is None:
        return None
    out = Lines()
    if b"\x00" in raw:
        out.kinds.add("binary")
    for no, chunk in enumerate(raw.splitlines(), 1):
        if len(chunk) > 4 * MAX_LINE_CHARS:  # too long whatever its encoding: not worth decoding
            text, kind = None, "long"
            wrong = f"line of {len(chunk):,} bytes, too long for a title or an abstract; ignored"
        else:
            text, wrong = read_line(chunk)
            kind = "binary" if text is None else "encoding" if wrong and "UTF-8" in wrong else "binary"
        if wrong:
            out.damaged = out.damaged or no
            out.kinds.add(kind)
            problems.append(Problem(path.name, no, wrong, False))
        if text:
            out.items.append((no, text))
    return out
