"""Reader fuzzing for a user's files (JSON Lines / JSON arrays, CSV / TSV, BibTeX, Atom), as tests/test_corpus_fuzz.py
fuzzes the page-dump parser: generated files written to disk and read by the real readers.

A file is built from generated papers and junk as a list of pieces whose lines are known, so after reading the test
knows which line holds which paper and which lines are junk. Papers have titles and abstracts of real-looking words,
odd Unicode (accents, CJK, RTL scripts, emoji, combining marks, ligatures) and random letters; per format they are
written as a user's tools write them: json.dumps (ASCII-escaped or not, one line or pretty-printed in an array, keys
in any case), csv.writer (commas or tabs, minimal or full quoting, fields with quotes, delimiters and newlines,
CRLF or LF), BibTeX (braces or quotes, LaTeX accents and escapes, one line or many), Atom entries (escaped text,
several authors).

Junk between papers, per format: JSON cut short anywhere, values that are not objects, objects with no title or
abstract, cp1252 lines, binary bytes, random text; CSV rows with the wrong number of fields, an unterminated quote,
text after a closing quote, an empty title or abstract, cp1252 or binary lines; BibTeX entries cut short (never
closed), entries with no abstract or title, @string/@comment/@preamble blocks, free text, cp1252 lines; Atom entries
cut short, entries with broken markup or no summary, stray tags and entities, cp1252 bytes, text between entries.

Properties:
1. A reader never raises: on arbitrary bytes, on valid files mutated at random bytes, on files with junk.
2. Every record it returns has a non-empty title and abstract, already clean (clean(x) == x), and a line in the file.
3. Every generated paper comes out with its title and abstract (as the format's decoding gives them), at the line it
   starts on, whatever junk is around it; a record at any other line is at a junk line (junk may happen to be a
   valid record); every problem that skips something points at a junk line: intact papers never get one.

CSV cannot always be read back after an unterminated quote: the open quote pairs with the next quote in the file,
and the reader starts again on the line after the broken row's first. A field whose text starts with the delimiter
or a line break right after its opening quote can end such a run silently, so generated fields do not (their text
starts with a word).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.corpus.atom import read_atom
from rag.corpus.bibtex import read_bibtex
from rag.corpus.fields import clean
from rag.corpus.tabular import read_csv, read_jsonl

FUZZ = dict(database=None, derandomize=True, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                                   HealthCheck.function_scoped_fixture])
BREAK = re.compile(rb"\r\n|\r|\n")
READERS = {"jsonl": read_jsonl, "csv": read_csv, "bibtex": read_bibtex, "atom": read_atom}
SUFFIX = {"jsonl": ".jsonl", "csv": ".csv", "bibtex": ".bib", "atom": ".xml"}

WORDS = ("Scaling Laws Sparse Mixture-of-Experts Language Models Diffusion Transformers Agents Reasoning "
         "Retrieval-Augmented Generation Benchmark Vision-Language Alignment Efficient Fine-Tuning LoRA Quantization "
         "3D Gaussian Splatting Video Robot Policy Learning Reinforcement Human Feedback Long-Context Attention via "
         "with and of on in for the a: Towards Beyond Revisiting Survey GPT-4 RLHF 4-bit 1.58-bit 100B k-NN O(n) "
         "(Extended) [v2] #1 50% $0.01 C++ Q&A <tags> \"quoted\" 'single' a,b x;y").split()
ODD = ["Café", "naïve", "Gödel", "Zürich", "“quoted”", "–", "—", "±2", "20°C", "中文", "日本語の", "한국어", "Ελληνικά",
       "Русский", "עברית", "العربية", "🚀", "👩\u200d🔬", "e\u0301t\u0301e", "ﬁne", "x²", "≤", "नमस्ते", "𝔉𝔯𝔞𝔨𝔱𝔲𝔯"]
# Words that BibTeX and XML take as they are (no LaTeX specials, no "--", no quotes or apostrophes, no markup).
PLAIN = [w for w in WORDS + ODD if not re.search(r"[\\{}$~%&#@\"'`<>_^]|--", w)]
# (as written in BibTeX, as it reads): LaTeX accents, escapes, protected capitals, dashes, unescaped % and &
LATEX = [("{LoRA}", "LoRA"), ('{\\"u}ber', "über"), ("Caf\\'e", "Café"), ('G{\\"o}del', "Gödel"),
         ("pre--training", "pre–training"), ("5\\%", "5%"), ("50%", "50%"), ("Q\\&A", "Q&A"), ("R&D", "R&D"),
         ("{\\ss}", "ß"), ("\\emph{key}", "key"), ("{\\c{c}}a", "ça")]
STARTS = ["We", "Our", "This", "The", "In", "These"]

random_word = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=10)


def phrase(pool: list[str], lo: int, hi: int, odd: bool = True) -> st.SearchStrategy[str]:
    word = st.one_of(st.sampled_from(pool), random_word) if odd else st.sampled_from(pool)
    return st.lists(word, min_size=lo, max_size=hi).map(" ".join).filter(lambda t: clean(t) != "")


def prose(pool: list[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(STARTS), phrase(pool, 4, 40)).map(lambda t: f"{t[0]} {t[1]}.")


@dataclass
class Built:
    """A generated file: its bytes, the papers by the line they start on, the lines junk covers."""

    data: bytes
    good: dict[int, tuple[str, str]] = field(default_factory=dict)  # line -> (title, abstract) as read
    junk: set[int] = field(default_factory=set)
    lines: int = 0


def assemble(pieces: list[tuple[str, bytes, tuple[str, str] | None]], sep: bytes) -> Built:
    """Join (kind, bytes, expected) pieces with sep; kinds: good, junk, frame (headers and footers)."""
    out, line, built = bytearray(), 1, Built(b"")
    for kind, data, expected in pieces:
        breaks = len(BREAK.findall(data))
        if kind == "good":
            built.good[line] = expected
        elif kind == "junk":
            built.junk.update(range(line, line + breaks + 1))
        out += data + sep
        line += breaks + 1
    built.data, built.lines = bytes(out), line
    return built


def one_line(data: bytes) -> bytes:
    """Junk that stays on its own line: no line breaks in it."""
    return data.replace(b"\r", b" ").replace(b"\n", b" ")


def binary() -> st.SearchStrategy[bytes]:
    return st.binary(min_size=1, max_size=80).map(lambda b: b"\xff" + one_line(b))


def mixed(draw, papers: list, junk: st.SearchStrategy, max_junk: int = 8) -> list:
    """Papers in order with junk pieces dropped in the gaps between them (and before and after)."""
    gaps: list[list] = [[] for _ in range(len(papers) + 1)]
    for gap, piece in draw(st.lists(st.tuples(st.integers(0, len(papers)), junk), max_size=max_junk)):
        gaps[gap].append(piece)
    out: list = []
    for i, paper in enumerate(papers):
        out += gaps[i] + [paper]
    return out + gaps[-1]


# --------------------------------------------------------------------------- JSON Lines and arrays

@st.composite
def jsonl_files(draw, junk: bool = True) -> Built:
    array = draw(st.booleans())
    indent = 2 if array and draw(st.booleans()) else None
    ascii_only = draw(st.booleans())
    n = draw(st.integers(1, 8))
    papers = []
    for i in range(n):
        title, abstract = draw(phrase(WORDS + ODD, 1, 12)), draw(prose(WORDS + ODD))
        keys = draw(st.tuples(st.sampled_from(["title", "Title", "TITLE"]),
                              st.sampled_from(["abstract", "Abstract", "summary", "description"])))
        obj = {keys[0]: title, keys[1]: abstract}
        if draw(st.booleans()):
            obj.update({"authors": [draw(phrase(WORDS + ODD, 1, 3))], "year": 2000 + i, "arxiv_id": f"2401.{i:05d}"})
        text = json.dumps(obj, ensure_ascii=ascii_only, indent=indent)
        text = ("  " + text.replace("\n", "\n  ")) if array else text
        papers.append(("good", text.encode(), (clean(title), clean(abstract))))
    record = json.dumps({"title": "Cut Short Paper", "abstract": "We cut this record somewhere in the middle."})
    junk_kinds = st.one_of(
        st.integers(1, len(record) - 1).map(lambda k: record[:k].encode()),
        st.sampled_from([b"123", b'"a string"', b"[1, 2, 3]", b"null", b"true", b'{"title": "No Abstract"}',
                         b'{"abstract": "No title here."}', b'{"name": "x", "text": "y"}', b"{}", b"[]"]),
        st.just('{"title": "Caf\u00e9 cp1252", "abstract": "R\u00e9sum\u00e9 of it."}'.encode("cp1252")),
        binary(),
        phrase(WORDS + ODD, 1, 10).filter(lambda t: t.strip()[:1] not in "}],:").map(lambda t: one_line(t.encode())),
    )
    pieces = mixed(draw, papers, junk_kinds.map(lambda b: ("junk", (b"  " if array else b"") + b, None))) if junk \
        else papers
    if array:
        return assemble([("frame", b"[", None), *pieces, ("frame", b"]", None)], b",\n")
    return assemble(pieces, draw(st.sampled_from([b"\n", b"\r\n", b"\r"])))


# --------------------------------------------------------------------------- CSV and TSV

def csv_line(fields: list[str], delimiter: str, quoting: int) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator="\r\n").writerow(fields)
    return buf.getvalue().removesuffix("\r\n").encode()


@st.composite
def csv_files(draw, junk: bool = True) -> Built:
    delimiter = draw(st.sampled_from([",", "\t"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    header = draw(st.permutations([draw(st.sampled_from(["title", "Title", "TITLE"])),
                                   draw(st.sampled_from(["abstract", "Summary", "Abstract Note", "description"])),
                                   "year", "notes"]))
    cols = len(header)
    t_at = next(i for i, h in enumerate(header) if h.casefold() == "title")
    a_at = next(i for i, h in enumerate(header) if h.casefold() not in ("title", "year", "notes"))
    # CSV fields may hold the delimiter, quotes and line breaks; their text starts with a word (see the docstring)
    odd_chars = st.lists(st.sampled_from([", ", "\t", '"', "\n", "; "]), max_size=3).map("".join)
    field_text = st.tuples(phrase(WORDS + ODD, 1, 10), odd_chars, st.just("") | phrase(WORDS, 1, 5, odd=False)).map(
        "".join)
    papers = []
    for i in range(draw(st.integers(1, 8))):
        title, abstract = draw(field_text), draw(field_text)
        row = [""] * cols
        row[t_at], row[a_at] = title, abstract
        row[header.index("year")] = str(2000 + i)
        row[header.index("notes")] = draw(st.sampled_from(["", "a note", "x, y"]))
        papers.append(("good", csv_line(row, delimiter, quoting), (clean(title), clean(abstract))))
    words = st.lists(st.sampled_from([w for w in PLAIN if delimiter not in w and '"' not in w]), min_size=1,
                     max_size=3).map(" ".join)
    d = delimiter.encode()
    junk_kinds = st.one_of(
        st.lists(words, min_size=1, max_size=8).filter(lambda f: len(f) != cols).map(lambda f: d.join(
            x.encode() for x in f)),                                                   # wrong number of fields
        st.tuples(words, st.lists(words, max_size=3)).map(lambda t: b'"' + t[0].encode() + d + d.join(
            x.encode() for x in t[1])),                                                # a quote never closed
        st.tuples(words, words).map(lambda t: b'"' + t[0].encode() + b'"' + t[1].encode() + d * (cols - 1)),
        st.just(d * (cols - 1)),                                                       # all empty
        st.just(d.join([b"Only A Title"] + [b""] * (cols - 1))),                       # no abstract
        st.just(d.join(["Caf\u00e9 Row".encode("cp1252"), "R\u00e9sum\u00e9.".encode("cp1252")] + [b"1"] * (cols - 2))),
        binary(),
    )
    pieces = mixed(draw, papers, junk_kinds.map(lambda b: ("junk", b, None))) if junk else papers
    return assemble([("frame", csv_line(header, delimiter, quoting), None), *pieces],
                    draw(st.sampled_from([b"\n", b"\r\n", b"\r"])))


# --------------------------------------------------------------------------- BibTeX

@st.composite
def bib_text(draw, lo: int, hi: int) -> tuple[str, str]:
    """(as written in BibTeX, as read back): plain words and LaTeX tokens."""
    tokens = draw(st.lists(st.one_of(st.sampled_from(PLAIN).map(lambda w: (w, w)), st.sampled_from(LATEX),
                                     random_word.map(lambda w: (w, w))), min_size=lo, max_size=hi))
    written = " ".join(t[0] for t in tokens)
    return written, clean(" ".join(t[1] for t in tokens))


@st.composite
def bib_files(draw, junk: bool = True) -> Built:
    papers = []
    for i in range(draw(st.integers(1, 8))):
        (t_raw, title), (a_raw, abstract) = draw(bib_text(1, 10)), draw(bib_text(4, 40))
        open_, close = draw(st.sampled_from([("{", "}"), ('"', '"')]))
        fields = [f"{draw(st.sampled_from(['title', 'Title', 'TITLE']))} = {open_}{t_raw}{close}",
                  f"abstract = {{{a_raw}}}", "author = {Lee, Ann and Bo Chen}", f"year = {2000 + i}"]
        fields = draw(st.permutations(fields))
        sep = draw(st.sampled_from([", ", ",\n  "]))
        kind = draw(st.sampled_from(["article", "inproceedings", "misc", "Article"]))
        entry = f"@{kind}{{good{i}{sep}{sep.join(fields)}{draw(st.sampled_from(['', ',']))}\n}}"
        papers.append(("good", entry.encode(), (title, abstract)))
    full = "@article{junkcut,\n  title = {A Paper Cut Short},\n  abstract = {Its abstract never ends}\n}"
    junk_kinds = st.one_of(
        st.integers(1, len(full) - 1).map(lambda k: full[:k].encode()),               # never closed
        st.integers(0, 999).map(lambda k: f"@misc{{junk{k}, title = {{No Abstract}}}}".encode()),
        st.integers(0, 999).map(lambda k: f"@misc{{junkt{k}, abstract = {{No title.}}}}".encode()),
        st.sampled_from([b'@string{s1 = "A String"}', b"@comment{a comment {with braces}}",
                         b'@preamble{"\\newcommand{\\x}{y}"}', b"% a LaTeX comment line", b"free text between"]),
        st.just("free text, cp1252: caf\u00e9".encode("cp1252")),
        binary().map(lambda b: b.replace(b"@", b"")),
    )
    pieces = mixed(draw, papers, junk_kinds.map(lambda b: ("junk", b, None))) if junk else papers
    return assemble(pieces, draw(st.sampled_from([b"\n", b"\r\n", b"\r"])))


# --------------------------------------------------------------------------- Atom

FEED_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
             b'xmlns:arxiv="http://arxiv.org/schemas/atom">\n  <title>ArXiv Query</title>')
XML_TEXT = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff") | st.sampled_from(
    ["\t", "\n"])


@st.composite
def atom_files(draw, junk: bool = True) -> Built:
    papers = []
    for i in range(draw(st.integers(1, 8))):
        title = draw(st.one_of(phrase(WORDS + ODD, 1, 12), st.text(XML_TEXT, min_size=1, max_size=40).filter(
            lambda t: clean(t) != "")))
        abstract = draw(prose(WORDS + ODD))
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in draw(st.lists(phrase(PLAIN, 1, 3),
                                                                                              max_size=3)))
        nl = draw(st.sampled_from(["", "\n    "]))
        entry = (f"  <entry>{nl}<id>http://arxiv.org/abs/2401.{i:05d}v1</id>{nl}<title>{escape(title)}</title>{nl}"
                 f"<summary>{escape(abstract)}</summary>{nl}{authors}{nl}</entry>")
        papers.append(("good", entry.encode(), (clean(title), clean(abstract))))
    full = "  <entry><id>cut</id><title>Cut Short</title><summary>Never ends.</summary></entry>"
    junk_kinds = st.one_of(
        st.integers(1, len(full) - 1).map(lambda k: full[:k].encode()),
        st.sampled_from([b"  <entry><title>No Summary</title></entry>",
                         b"  <entry><summary>No title.</summary></entry>",
                         b"  <entry><title>Bad <b>markup</title><summary>x</summary></entry>",
                         b"  <entry><title>Bad &nbsp; entity</title><summary>x</summary></entry>",
                         b"  </summary>", b"  <stray>", b"  a & b < c", b"  <!-- a comment -->", b"  text between"]),
        st.just("  <entry><title>Caf\u00e9</title><summary>cp1252</summary></entry>".encode("cp1252")),
        binary().map(lambda b: b"  " + b),
    )
    pieces = mixed(draw, papers, junk_kinds.map(lambda b: ("junk", b, None))) if junk else papers
    return assemble([("frame", FEED_HEAD, None), *pieces, ("frame", b"</feed>", None)],
                    draw(st.sampled_from([b"\n", b"\r\n", b"\r"])))


FILES = {"jsonl": jsonl_files, "csv": csv_files, "bibtex": bib_files, "atom": atom_files}


# --------------------------------------------------------------------------- checks

def read(tmp: Path, fmt: str, data: bytes):
    """Write data as one file of the format and read it."""
    path = tmp / f"fuzz{SUFFIX[fmt]}"
    path.write_bytes(data)
    problems: list = []
    return READERS[fmt](path, problems), problems


def sane(records, problems, data: bytes) -> None:
    """Properties 1-2 on any input: records are clean papers at lines of the file; problems point into it."""
    n_lines = len(BREAK.split(data))
    for r in records:
        assert r.title and r.abstract, r
        assert clean(r.title) == r.title and clean(r.abstract) == r.abstract, r
        assert 1 <= r.line <= n_lines, (r.line, n_lines)
    for p in problems:
        assert 0 <= p.line <= n_lines and p.file.startswith("fuzz") and p.message, p
    if records:
        assert not any(p.whole_file for p in problems), problems


def check(built: Built, records, problems) -> None:
    """Property 3: every paper found at its line, anything else at junk lines."""
    sane(records, problems, built.data)
    at = {r.line: (r.title, r.abstract) for r in records}
    for line, expected in built.good.items():
        assert at.get(line) == expected, (line, expected, at.get(line), [str(p) for p in problems])
    for line, got in at.items():
        assert line in built.good or line in built.junk, (line, got)
    for p in problems:
        if p.skipped:
            assert p.line in built.junk, (str(p), sorted(built.junk))


# --------------------------------------------------------------------------- properties

@pytest.mark.parametrize("fmt", list(FILES))
@settings(max_examples=120, **FUZZ)
@given(data=st.data())
def test_papers_among_junk_are_all_found(tmp_path_factory, fmt, data):
    """Property 3: generated papers with junk between them come out whole, each at its line."""
    built = data.draw(FILES[fmt]())
    check(built, *read(tmp_path_factory.getbasetemp(), fmt, built.data))


@pytest.mark.parametrize("fmt", list(FILES))
@settings(max_examples=120, **FUZZ)
@given(data=st.data())
def test_mutated_files_never_crash(tmp_path_factory, fmt, data):
    """Properties 1-2: a valid file with random bytes replaced, inserted or deleted, or cut anywhere."""
    built = data.draw(FILES[fmt](junk=False))
    out = bytearray(built.data)
    for at, op, byte in data.draw(st.lists(st.tuples(st.integers(0, max(len(out) - 1, 0)), st.sampled_from(
            ["set", "insert", "delete"]), st.sampled_from(list(b'\x00\xff\xc3"{}<>&@,\t\n\\[]:') + [0x80])),
            min_size=1, max_size=8)):
        at = min(at, len(out))
        if op == "set" and at < len(out):
            out[at] = byte
        elif op == "insert":
            out.insert(at, byte)
        elif at < len(out):
            del out[at]
    if data.draw(st.booleans()):
        out = out[: data.draw(st.integers(0, len(out)))]
    sane(*read(tmp_path_factory.getbasetemp(), fmt, bytes(out)), bytes(out))


@pytest.mark.parametrize("fmt", list(FILES))
@settings(max_examples=30, **FUZZ)  # few enough for the fast loop (conftest: 100 or more is the slow tier)
@given(raw=st.binary(max_size=3000) | st.text(max_size=1000).map(str.encode))
def test_arbitrary_bytes_never_crash(tmp_path_factory, fmt, raw):
    """Properties 1-2 on whatever bytes: binary, or text that is not in the format at all."""
    sane(*read(tmp_path_factory.getbasetemp(), fmt, raw), raw)


# --------------------------------------------------------------------------- what the fuzzing found, pinned

def test_an_unknown_xml_encoding_does_not_crash_and_entries_are_read(tmp_path):
    """A mutated declaration (encoding="TF-8") made the XML parser raise LookupError, which escaped the reader."""
    path = tmp_path / "feed.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="TF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
                     b"  <entry><title>Kept</title><summary>Read as UTF-8: caf\xc3\xa9.</summary></entry>\n</feed>\n")
    problems: list = []
    (rec,) = read_atom(path, problems)
    assert (rec.line, rec.title, rec.abstract) == (3, "Kept", "Read as UTF-8: café.")
    assert [(p.line, p.skipped, p.message) for p in problems] == [
        (0, False, "not valid XML (unknown encoding: TF-8); the entries were read one by one")]


def test_a_line_ending_in_a_backslash_does_not_shift_bibtex_lines(tmp_path):
    """bibtexparser does not count a line break after a backslash (it reads it as escaped), so a LaTeX line break
    (\\\\) or a stray backslash at the end of a line put every later entry one line too early; lone CR breaks were
    not counted at all."""
    path = tmp_path / "refs.bib"
    path.write_bytes(b"junk \\\n@article{a, title = {First}, abstract = {One \\\\\n two.}}\r"
                     b"@article{b, title = {Second}, abstract = {Two.}}\n")
    problems: list = []
    recs = read_bibtex(path, problems)
    assert [(r.line, r.title, r.abstract) for r in recs] == [(2, "First", "One two."), (4, "Second", "Two.")]
    assert problems == []
