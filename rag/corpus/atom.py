"""arXiv API responses (Atom XML) -> Records: one per <entry> with a title and a summary.

Each entry gives title, summary (the abstract), author/name (several), published, id (http://arxiv.org/abs/
2401.01234v2 -> arXiv id 2401.01234), link rel="alternate" (the url), arxiv:doi and arxiv:journal_ref (the venue).
Elements are matched by local name, so an Atom feed that is not arXiv's is read as well.

Parsed with defusedxml: no entity expansion, no external references. A document that is not well-formed loses
only its broken entries: it is then cut at each <entry ...>, and every entry is parsed on its own (inside the
document's namespace declarations); a broken one is reported with its line and the XML error.
"""

from __future__ import annotations

import bisect
import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.corpus.fields import arxiv_id, clean, doi, parse_date
from rag.corpus.parse import Capped
from rag.corpus.records import Record
from rag.corpus.tabular import finish, missing, unreadable
from rag.types import Problem

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?entry[\s/>]")
_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?entry\s*>")
_ROOT = re.compile(rb"<(?![?!])[^>]*>")  # the first start tag: the document's root
_NS = re.compile(rb"""\sxmlns(?::[\w.-]+)?\s*=\s*(?:"[^"]*"|'[^']*')""")
_DECLARATION = re.compile(rb"^<\?xml[^>]*\?>")
_BREAK = re.compile(rb"\r\n|\r|\n")


def read_atom(path: Path, problems: list[Problem]) -> list[Record]:
    """Records of an Atom file (an arXiv API response); broken or incomplete entries reported."""
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.append(Problem(name, 0, f"cannot read file: {e.strerror or e}; file skipped", whole_file=True))
        return []
    found = Capped()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:  # cut into entries below as UTF-8 bytes
            raw = _DECLARATION.sub(b"", raw.decode("utf-16").encode("utf-8").removeprefix(codecs.BOM_UTF8))
        except UnicodeDecodeError:
            pass
    records: list[Record] = []
    errors = _xml_errors()
    try:
        root, lines = _parse(raw)
    except errors as e:
        broken = _problem(name, "not valid XML", e, 0)
        entries = _entries_one_by_one(raw, name, found, broken, errors)
        if entries is None:
            problems.append(unreadable(name, "not XML", broken))
            return []
    else:
        entries = list(zip(_find_entries(root), lines))
        if not entries:
            found.append(Problem(name, 0, "no <entry> in this XML: not an arXiv API (Atom) response, or one with "
                                 "no results", False))
    for entry, line in entries:
        if rec := _record(entry, name, line, found):
            records.append(rec)
    finish(found, problems)
    return records


def _xml_errors() -> tuple[type[Exception], ...]:
    """What parsing bad content raises (entities and external references are refused by defusedxml)."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException

    return ParseError, DefusedXmlException, RecursionError, LookupError  # LookupError: an unknown encoding


def _parse(data: bytes) -> tuple[Any, list[int]]:
    """The document's root element and the line each <entry> starts on (in document order)."""
    from xml.etree.ElementTree import TreeBuilder

    from defusedxml.ElementTree import DefusedXMLParser

    builder = _LineBuilder(TreeBuilder())
    parser = DefusedXMLParser(target=builder)
    builder.expat = parser.parser
    parser.feed(data)
    return parser.close(), builder.lines


class _LineBuilder:
    """A TreeBuilder that notes the line each <entry> starts on."""

    def __init__(self, tree: Any) -> None:
        self.tree, self.lines, self.expat = tree, [], None

    def start(self, tag: str, attrs: dict[str, str]) -> Any:
        """An element starts: note its line if it is an entry."""
        if tag.rpartition("}")[2] == "entry":
            self.lines.append(self.expat.CurrentLineNumber)
        return self.tree.start(tag, attrs)

    def end(self, tag: str) -> Any:
        """An element ends."""
        return self.tree.end(tag)

    def data(self, text: str) -> None:
        """Text inside an element."""
        self.tree.data(text)

    def close(self) -> Any:
        """The document ends: its root element."""
        return self.tree.close()


def _entries_one_by_one(raw: bytes, name: str, problems: list[Problem], broken: Problem,
                        errors: tuple[type[Exception], ...]) -> list[tuple[Any, int]] | None:
    """The entries of a document that is not well-formed, each parsed on its own; None when it has none."""
    starts = [m.start() for m in _ENTRY_START.finditer(raw)]
    if not starts:
        return None
    breaks = [m.end() for m in _BREAK.finditer(raw)]
    root = _ROOT.search(raw)
    declarations = b"".join(_NS.findall(root.group(0))) if root and root.start() < starts[0] else b""
    if b'xmlns="' not in declarations and b"xmlns='" not in declarations:
        declarations += f' xmlns="{ATOM}"'.encode()
    if b"xmlns:arxiv" not in declarations:
        declarations += f' xmlns:arxiv="{ARXIV}"'.encode()
    declared = _DECLARATION.match(raw.removeprefix(codecs.BOM_UTF8))  # keeps the document's encoding
    head = declared.group(0) if declared and _known_encoding(declared.group(0)) else b""
    out: list[tuple[Any, int]] = []
    spans = []  # the lines of the entries that failed
    for start, nxt in zip(starts, [*starts[1:], len(raw)]):
        line = bisect.bisect_right(breaks, start) + 1
        chunk = raw[start:nxt]
        end = _ENTRY_END.search(chunk)  # entries do not nest: what follows the first </entry> is not this entry's
        chunk = chunk[: end.end()] if end else chunk
        try:  # one line: the wrapper shifts no line numbers
            root_el, _ = _parse(head + b"<feed" + declarations + b">" + chunk + b"</feed>")
        except errors as e:
            what = "entry is not valid XML" if end else "entry is never closed"
            problems.append(_problem(name, what, e, line - 1, line))
            spans.append((line, bisect.bisect_right(breaks, start + len(chunk) - 1) + 1))
            continue
        out.extend((entry, line) for entry in _find_entries(root_el)[:1])
    if not any(first <= broken.line <= last for first, last in spans):
        problems.append(Problem(name, broken.line, f"{broken.message}; the entries were read one by one", False))
    return out


def _known_encoding(declaration: bytes) -> bool:
    """Whether an XML declaration names no encoding or one Python knows (else entries are read as UTF-8)."""
    m = re.search(rb"""encoding\s*=\s*["']([^"']*)["']""", declaration)
    try:
        return not m or bool(codecs.lookup(m.group(1).decode("ascii")))
    except (LookupError, UnicodeDecodeError):
        return False


def _problem(name: str, what: str, error: Exception, offset: int, line: int | None = None) -> Problem:
    """A problem for an XML error; offset: lines before the parsed text."""
    at = getattr(error, "position", None)
    where = (at[0] + offset) if at else 0
    reason = clean(str(error).split(":")[0]) if at else clean(str(error) or type(error).__name__)
    detail = f"{reason} at line {where}" if where else reason
    if line is None:
        return Problem(name, where, f"{what} ({detail})", False)
    return Problem(name, line, f"{what} ({detail}); skipped")


def _find_entries(root: Any) -> list[Any]:
    """Every <entry> element, in document order."""
    return [el for el in root.iter() if _local(el.tag) == "entry"]


def _local(tag: Any) -> str:
    """An element's name without its namespace ("" for comments and processing instructions)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _text(el: Any) -> str:
    """All the text in an element (its children's too, as in type="xhtml"), whitespace collapsed."""
    parts, stack = [], [el]
    while stack:  # not itertext(): a deeply nested element must not hit the recursion limit
        node = stack.pop()
        if isinstance(node, str):
            parts.append(node)
            continue
        parts.append(node.text or "")
        for child in reversed(list(node)):
            stack.append(child.tail or "")
            stack.append(child)
    return clean("".join(parts))


def _children(entry: Any) -> Iterator[tuple[str, Any]]:
    """(local name, element) of each child."""
    for child in entry:
        yield _local(child.tag), child


def _record(entry: Any, name: str, line: int, problems: list[Problem]) -> Record | None:
    """The record of one entry, or None (reported)."""
    first: dict[str, Any] = {}
    authors: list[str] = []
    url = doi_link = None
    for tag, child in _children(entry):
        first.setdefault(tag, child)
        if tag == "author":
            authors += [_text(n) for t, n in _children(child) if t == "name"]
        elif tag == "link":
            rel, href = child.get("rel", "alternate"), clean(child.get("href", ""))
            if rel == "alternate" and href and not url:
                url = href
            elif child.get("title") == "doi" and href:
                doi_link = href
    text = {tag: _text(el) for tag, el in first.items() if tag in ("id", "title", "summary", "content",
                                                                    "published", "updated", "doi", "journal_ref")}
    ident = text.get("id", "")
    title, abstract = text.get("title", ""), text.get("summary") or text.get("content", "")
    if "arxiv.org/api/errors" in ident:
        problems.append(Problem(name, line, f"the arXiv API answered with an error: {abstract or title}; skipped"))
        return None
    if why := missing(title, abstract):
        label = ident or "(no id)"
        why = why.replace("abstract", "summary (abstract)") if why == "has no abstract" else why
        problems.append(Problem(name, line, f"entry {label} {why}; skipped"))
        return None
    rec = Record(title=title, abstract=abstract, file=name, line=line, key=ident or None)
    rec.author_names = [a for a in authors if a]
    rec.authors = len(rec.author_names) or None
    when = text.get("published") or text.get("updated")
    rec.published, rec.date_text = parse_date(when), when or None
    rec.url = url or (ident if ident.startswith(("http://", "https://")) else None)
    rec.arxiv_id = arxiv_id(ident) or arxiv_id(url)
    rec.doi = doi(text.get("doi")) or doi(doi_link)
    rec.venue = text.get("journal_ref") or None
    return rec
