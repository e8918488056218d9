"""References out: an answer's cited papers (or any papers) as BibTeX entries or a numbered Markdown list.

BibTeX is written with bibtexparser's writer. Text fields (title, author, journal, abstract, note) are LaTeX: the
characters LaTeX treats specially are escaped and words with inner capitals (LoRA, GPT-4) are braced so a style
keeps their case; Unicode (Müller) is kept as UTF-8, which biber and LaTeX since 2018 read as is. url, doi and eprint
are verbatim fields and are written as they are. A LaTeX reader (pylatexenc, bibtexparser's LatexDecodingMiddleware
on the text fields) gives back the stored text. Keys are `hu2021lora`: first author's last name, year, first
significant title word.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable, Sequence

from rag.errors import RagError
from rag.text.dates import date_precision
from rag.types import Answer, PaperRecord

STYLES = ("bibtex", "markdown")
LISTING = "Hugging Face Daily Papers"  # where a page-dump paper was listed: all a seed paper's record knows
MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
# title words a key skips (Google Scholar's habit: the first word that says something)
_SKIP = frozenset("a an the on of in for to and or with without via from at by is are be do does can how what why "
                  "when which who towards toward into over under beyond about".split())
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ł": "l",
                       "Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "Þ": "Th", "ı": "i"})
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
_LATEX = {"\\": r"\textbackslash{}", "%": r"\%", "&": r"\&", "$": r"\$", "#": r"\#", "_": r"\_",
          "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LIGATURE = re.compile(r"([-`'])(?=\1)")  # "--" would print as a dash, "``" / "''" as curly quotes
Lookup = Callable[[str], "PaperRecord | None"]


def ascii_fold(text: str) -> str:
    """Text with accents and ligatures folded to ASCII; other non-ASCII letters dropped."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def last_name(name: str) -> str:
    """The family name of "First Last" or "Last, First" (a trailing Jr./III skipped)."""
    if "," in name:
        return name.split(",", 1)[0].strip()
    words = [w for w in name.split() if w.lower() not in _SUFFIXES] or name.split()
    return words[-1] if words else ""


def bib_key(record: PaperRecord, taken: set[str] | None = None) -> str:
    """A stable citation key such as `hu2021lora` (`anon` without author names, no year without a date); a key
    already in taken gets a, b, c... in the order asked, and the key returned is added to taken."""
    first = record.author_names[0] if record.author_names else ""
    name = re.sub(r"[^a-z]", "", ascii_fold(last_name(first)).lower()) or "anon"
    words = re.findall(r"[a-z0-9]+", ascii_fold(record.title).lower())
    word = next((w for w in words if w not in _SKIP and not w.isdigit()), "")
    base = f"{name}{_year(record)}{word}"
    key, n = base, 0
    while taken is not None and key in taken:
        key, n = base + _suffix(n), n + 1
    if taken is not None:
        taken.add(key)
    return key


def _suffix(n: int) -> str:
    """a, b, ..., z, aa, ab, ... for n = 0, 1, ..."""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out


def _year(record: PaperRecord) -> str:
    return record.date[:4] if record.date and record.date[:4].isdigit() else ""


def latex(text: str, protect_case: bool = False) -> str:
    """Text as a LaTeX field value: specials escaped, braces balanced, ligatures ("--", "``") broken; protect_case
    braces words with inner capitals (LoRA) so a style that lower-cases titles keeps them."""
    braces = _literal_braces(text)
    escaped = _LIGATURE.sub(r"\1{}", "".join(braces.get(i) or _LATEX.get(ch, ch) for i, ch in enumerate(text)))
    if not protect_case:
        return escaped
    return "".join("{" + w + "}" if any(ch.isupper() for ch in w[1:]) else w for w in re.split(r"(\s+)", escaped))


def _literal_braces(text: str) -> dict[int, str]:
    """Each literal brace's escape by position: `\\{...\\}` where they pair up (BibTeX counts escaped braces
    too, so only pairs keep a field balanced), the text commands for unpaired ones."""
    out: dict[int, str] = {}
    opened: list[int] = []
    for i, ch in enumerate(text):
        if ch == "{":
            opened.append(i)
        elif ch == "}" and opened:
            out[opened.pop()], out[i] = r"\{", r"\}"
        elif ch == "}":
            out[i] = r"\textbraceright{}"
    out.update({i: r"\textbraceleft{}" for i in opened})
    return out


def to_bibtex(records: Sequence[PaperRecord], numbers: Sequence[int] | None = None) -> str:
    """BibTeX entries for the records in order (numbers: a `% [n]` line before each, as an answer cites it)."""
    import bibtexparser

    taken: set[str] = set()
    out = []
    for i, record in enumerate(records):
        library = bibtexparser.Library([_entry(record, bib_key(record, taken))])
        entry = bibtexparser.write_string(library).strip()  # one entry at a time: a comment sits right above its entry
        out.append(f"% [{numbers[i]}]\n{entry}" if numbers is not None else entry)
    return "\n\n".join(out) + ("\n" if out else "")


def _entry(record: PaperRecord, key: str) -> object:
    """One bibtexparser Entry: @article with a venue, else @misc."""
    from bibtexparser.model import Entry, Field

    fields = [Field("title", latex(record.title, protect_case=True))]
    if record.author_names:
        fields.append(Field("author", " and ".join(_bib_name(n) for n in record.author_names)))
    if year := _year(record):
        fields.append(Field("year", year))
        # as precise as the paper's date was written: "2024" gives no month (not "jan"), a day gives biblatex's date
        precision = date_precision(record.date_text) if record.date_text else "day"
        month = record.date[5:7] if record.date and len(record.date) >= 7 else ""
        if month.isdigit() and 1 <= int(month) <= 12 and precision in ("month", "day"):
            fields.append(Field("month", MONTHS[int(month) - 1], enclosing="no-enclosing"))  # the BibTeX macro
        if precision == "day" and record.date and len(record.date) == 10:
            fields.append(Field("date", record.date))
    if record.venue:
        fields.append(Field("journal", latex(record.venue)))
    elif record.arxiv_id:
        fields.append(Field("howpublished", latex(f"arXiv preprint arXiv:{record.arxiv_id}")))
    if record.doi:
        fields.append(Field("doi", _verbatim(record.doi)))
    if record.arxiv_id:
        fields += [Field("eprint", _verbatim(record.arxiv_id)), Field("archivePrefix", "arXiv")]
    if record.url:
        fields.append(Field("url", _verbatim(record.url)))
    if record.abstract:
        fields.append(Field("abstract", latex(record.abstract)))
    if listing_only(record):
        fields.append(Field("note", latex(_listing_note(record))))
    return Entry("article" if record.venue else "misc", key, fields)


def _bib_name(name: str) -> str:
    """One author for the "A and B" list: a name that itself holds " and " is braced (an organisation)."""
    value = latex(name)
    return "{" + value + "}" if re.search(r"\sand\s", name, re.IGNORECASE) else value


def _verbatim(value: str) -> str:
    """A url/doi/eprint as written, but never able to end the field early: braces, backslashes and spaces
    percent-encoded."""
    return value.replace("\\", "%5C").replace("{", "%7B").replace("}", "%7D").replace(" ", "%20")


def listing_only(record: PaperRecord) -> bool:
    """Whether all we know of the paper is its listing in a page dump (no names, links or venue)."""
    return not (record.author_names or record.url or record.arxiv_id or record.doi or record.venue)


def _listing_note(record: PaperRecord) -> str:
    parts = [LISTING]
    if record.authors:
        parts.append(f"{record.authors} author{'s' if record.authors != 1 else ''}, names not recorded")
    if record.organization:
        parts.append(record.organization)
    return "; ".join(parts)


SHOWN_AUTHORS = 3  # a listing names this many authors, then "et al."


def authors_text(record: PaperRecord, shown: int = SHOWN_AUTHORS) -> str:
    """Authors for a listing (the CLI's, the app's, the Markdown references): the first `shown` names ("Last,
    First" as "First Last"), then "et al."; else "N authors"; "" when unknown."""
    names = [display_name(n.strip()) for n in record.author_names if n and n.strip()]
    if names:
        return ", ".join(names[:shown]) + (" et al." if len(names) > shown else "")
    if record.authors:
        return f"{record.authors} author{'s' if record.authors != 1 else ''}"
    return ""


def display_name(name: str) -> str:
    """ "Last, First" as "First Last" (other names as they are)."""
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}" if comma and first.strip() and "," not in first else name


def to_markdown(records: Sequence[PaperRecord], numbers: Sequence[int] | None = None) -> str:
    """A numbered reference list, "[n] Authors (year). *Title*. Venue. links", one line per record (numbers: as
    an answer cites them; default 1, 2, ...)."""
    lines = []
    for i, record in enumerate(records):
        who = authors_text(record)
        if record.organization and not record.author_names:
            who = f"{who}, {record.organization}" if who else record.organization
        where = record.venue or (LISTING if listing_only(record) else f"arXiv:{record.arxiv_id}" if record.arxiv_id
                                 else "")
        parts = [f"{_md(who or 'Anonymous')} ({_year(record) or 'n.d.'}).", f"*{_md(record.title)}*."]
        if where:
            parts.append(f"{_md(where)}.")
        links = [f"[{_md(_link_label(kind, record))}]({_href(url)})" for kind, url in record.links.items()]
        if links:
            parts.append(" · ".join(links))
        lines.append(f"[{numbers[i] if numbers is not None else i + 1}] " + " ".join(parts))
    return "\n".join(lines) + ("\n" if lines else "")


def _md(text: str) -> str:
    """Text with Markdown's inline markup characters escaped (and newlines made spaces)."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", " ".join(text.split()))


def _href(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _link_label(kind: str, record: PaperRecord) -> str:
    if kind == "url":
        return re.sub(r"^[a-z]+://(www\.)?", "", record.url or "").split("/", 1)[0] or "link"
    return {"arxiv": f"arXiv:{record.arxiv_id}", "doi": f"doi:{record.doi}"}.get(kind, kind)


def cited_records(answer: Answer, lookup: Lookup | None = None) -> list[tuple[int, PaperRecord]]:
    """The papers the answer cites, by their numbers [n] in ascending order, as records. lookup(paper_id) (e.g.
    Retriever.paper) gives whole abstracts; without it a source's text is the abstract unless it was cut."""
    by_n = {s.n: s for s in answer.sources}
    out = []
    for c in sorted(answer.citations, key=lambda c: c.n):
        record = lookup(c.paper_id) if lookup is not None else None
        if record is None:
            src = by_n.get(c.n)
            record = src.record if src is not None else PaperRecord(c.paper_id, c.title, c.date)
            record.abstract = src.text if src is not None and not src.truncated else ""
        out.append((c.n, record))
    return out


def references_bibtex(answer: Answer, lookup: Lookup | None = None) -> str:
    """BibTeX for the papers the answer cites, each after a `% [n]` comment ("" when it cites none)."""
    cited = cited_records(answer, lookup)
    return to_bibtex([r for _, r in cited], [n for n, _ in cited]) if cited else ""


def references_markdown(answer: Answer, lookup: Lookup | None = None) -> str:
    """The numbered reference list of the papers the answer cites, numbered as it cites them ("" for none)."""
    cited = cited_records(answer, lookup)
    return to_markdown([r for _, r in cited], [n for n, _ in cited])


def references(answer: Answer, style: str, lookup: Lookup | None = None) -> str:
    """The cited papers' references in style ("bibtex" or "markdown")."""
    if style not in STYLES:
        raise RagError(f"unknown reference style {style!r}", "use 'bibtex' or 'markdown'")
    return references_bibtex(answer, lookup) if style == "bibtex" else references_markdown(answer, lookup)


def answer_with_references(answer: Answer, style: str = "markdown", lookup: Lookup | None = None) -> str:
    """The answer's text followed by its references in style; an answer that cites nothing says so instead."""
    refs = references(answer, style, lookup)
    if not refs:
        return f"{answer.text}\n\nNo references: the answer cites no paper.\n"
    return f"{answer.text}\n\nReferences:\n{refs}"

