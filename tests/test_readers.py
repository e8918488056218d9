"""Readers of a user's own files: JSON Lines / JSON arrays, CSV / TSV, BibTeX and arXiv Atom XML.

Each test writes real files and reads them through the real readers (and load_corpus): the fields each format
gives, odd but valid input, bad input reported as file:line with a reason while the rest of the file is read,
format detection, and one paper found in three formats merged into one.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from rag.corpus.atom import read_atom
from rag.corpus.bibtex import latex, read_bibtex
from rag.corpus.readers import detect, load_corpus, read_file, sniff
from rag.corpus.tabular import read_csv, read_jsonl
from rag.types import Problem

ABSTRACT = "We study sparse attention for long documents and show it matches dense attention at a tenth of the cost."


def read(reader, path: Path) -> tuple[list, list[Problem]]:
    problems: list[Problem] = []
    return reader(path, problems), problems


def at(problems: list[Problem]) -> dict[int, str]:
    """line -> message (one problem a line in these files)."""
    out = {p.line: p.message for p in problems}
    assert len(out) == len(problems), problems
    return out


# --------------------------------------------------------------------------- JSON Lines and JSON arrays

def test_jsonl_fields_by_alias_and_case(tmp_path):
    lines = [
        {"Title": "  Sparse   Attention\nat Scale ", "Summary": ABSTRACT, "AUTHORS": ["Ann Lee", {"name": "Bo Chen"}],
         "Publication_Date": "2024-05-17", "PDF URL": "https://arxiv.org/pdf/2405.01234v2",
         "DOI": "https://doi.org/10.1000/ABC.5", "Journal": "JMLR"},
        {"title": "Second Paper", "description": "Another abstract.", "author": "Smith, John and Doe, Jane",
         "year": 2021, "link": "https://example.org/p2", "eprint": "arXiv:hep-th/9901001v1", "booktitle": "ICML"},
        {"title": "Third Paper", "abstract": "Third abstract.", "publicationDate": "May 2020", "venue": "NeurIPS",
         "externalIds": {"ArXiv": "2001.00001", "DOI": "10.5555/XYZ"}},
        {"id": "0704.0001", "title": "Arxiv Dump Row", "abstract": "From the arXiv metadata snapshot.",
         "journal-ref": "Phys. Rev. D 76 (2007)", "authors": "A. One, B. Two, C. Three"},
    ]
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    recs, problems = read(read_jsonl, path)
    assert problems == []
    a, b, c, d = recs
    assert (a.title, a.abstract, a.line) == ("Sparse Attention at Scale", ABSTRACT, 1)
    assert a.author_names == ["Ann Lee", "Bo Chen"] and a.authors == 2
    assert (a.published, a.date_text) == (date(2024, 5, 17), "2024-05-17")
    assert (a.url, a.arxiv_id, a.doi, a.venue) == ("https://arxiv.org/pdf/2405.01234v2", "2405.01234", "10.1000/abc.5",
                                                   "JMLR")
    assert (b.line, b.abstract, b.author_names, b.published, b.date_text) == (
        2, "Another abstract.", ["Smith, John", "Doe, Jane"], date(2021, 1, 1), "2021")
    assert (b.url, b.arxiv_id, b.doi, b.venue) == ("https://example.org/p2", "hep-th/9901001", None, "ICML")
    assert (c.published, c.arxiv_id, c.doi, c.venue) == (date(2020, 5, 1), "2001.00001", "10.5555/xyz", "NeurIPS")
    assert (d.arxiv_id, d.venue, d.authors) == ("0704.0001", "Phys. Rev. D 76 (2007)", 3)
    assert {r.kind for r in read_file(path, [])} == {"jsonl"}


def test_json_array_pretty_printed_gives_each_object_its_line(tmp_path):
    items = [{"title": f"Paper {i}", "abstract": f"Abstract {i}.", "authors": ["X Y"]} for i in range(3)]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(items, indent=2), encoding="utf-8")
    recs, problems = read(read_jsonl, path)
    assert problems == []
    text_lines = path.read_text().splitlines()
    assert [r.title for r in recs] == ["Paper 0", "Paper 1", "Paper 2"]
    for r in recs:
        assert text_lines[r.line - 1].strip() == "{" and f'"Paper {r.title[-1]}"' in text_lines[r.line]


def test_jsonl_bad_lines_cost_only_themselves(tmp_path):
    good = [json.dumps({"title": f"Good {i}", "abstract": ABSTRACT}).encode() for i in range(4)]
    data = b"\n".join([
        good[0],                                                        # 1
        b'{"title": "Cut short", "abstract": "We stu',                  # 2 invalid JSON
        good[1],                                                        # 3
        b'[1, 2, 3]',                                                   # 4 not an object
        json.dumps({"title": "No Abstract Here"}).encode(),             # 5
        json.dumps({"abstract": ABSTRACT}).encode(),                    # 6 no title
        json.dumps({"name": "x", "text": "y"}).encode(),                # 7 no known key
        '{"title": "Caf\u00e9 Latin-1", "abstract": "r\u00e9sum\u00e9 text."}'.encode("cp1252"),  # 8 not UTF-8
        b"",                                                            # 9 blank
        good[2],                                                        # 10
        b'{"title": "Tab\tinside", "abstract": "Control \x01 chars."}',  # 11 raw control chars in strings
        b'{"title": "x", "abstract": }',                                # 12
        good[3],                                                        # 13
    ]) + b"\n"
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(data)
    recs, problems = read(read_jsonl, path)
    got = {r.line: (r.title, r.abstract) for r in recs}
    assert got == {1: ("Good 0", ABSTRACT), 3: ("Good 1", ABSTRACT), 8: ("Café Latin-1", "résumé text."),
                   10: ("Good 2", ABSTRACT), 11: ("Tab inside", "Control chars."), 13: ("Good 3", ABSTRACT)}
    msgs = at(problems)
    assert set(msgs) == {2, 4, 5, 6, 7, 8, 11, 12}
    assert msgs[2].startswith("not valid JSON (Unterminated string") and msgs[2].endswith("; line skipped")
    assert msgs[4] == "an array, not a JSON object; skipped"
    assert msgs[5] == "record 'No Abstract Here' has no abstract; skipped"
    assert msgs[6] == "record has no title; skipped"
    assert msgs[7] == "object has no title or abstract (keys: name, text); skipped"
    assert "not UTF-8" in msgs[8] and "cp1252" in msgs[8]
    assert "control characters" in msgs[11] and "Expecting value at line 12" in msgs[12]
    skipped = {p.line for p in problems if p.skipped}
    assert skipped == {2, 4, 5, 6, 7, 12}  # the notes (8, 11) cost nothing
    assert str(next(p for p in problems if p.line == 5)) == "mixed.jsonl:5: record 'No Abstract Here' has no " \
                                                            "abstract; skipped"


def test_jsonl_a_broken_object_over_several_lines_is_skipped_whole(tmp_path):
    path = tmp_path / "pretty.jsonl"
    path.write_text('{"title": "First", "abstract": "One."}\n'
                    '{"title": "Broken",\n   "abstract": "Two."\n   "year": 2020}\n'
                    '{"title": "Third",\n "abstract": "Three."}\n', encoding="utf-8")
    recs, problems = read(read_jsonl, path)
    assert [(r.line, r.title) for r in recs] == [(1, "First"), (5, "Third")]
    (p,) = problems
    assert p.line == 2 and "Expecting ',' delimiter at line 4" in p.message and p.message.endswith("lines 2-4 skipped")


def test_jsonl_binary_file_is_one_unreadable_problem(tmp_path):
    path = tmp_path / "junk.jsonl"
    path.write_bytes(bytes(range(256)) * 40)
    recs, problems = read(read_jsonl, path)
    assert recs == []
    (p,) = problems
    assert p.whole_file and p.skipped and "not JSON" in p.message and "no paper could be read" in p.message


def test_control_and_bidi_characters_are_removed_from_fields(tmp_path):
    """fields.clean: a user's title cannot carry a bidi override (Trojan Source) or a NUL into the index."""
    path = tmp_path / "evil.jsonl"
    path.write_text(json.dumps({"title": "Safe\u202e txet\u2066 Title\ufeff", "abstract": "A\u0000B \u200f ok.",
                                "venue": "V\u001b[31m"}) + "\n", encoding="utf-8")
    (rec,), _ = read(read_jsonl, path)
    assert (rec.title, rec.abstract, rec.venue) == ("Safe txet Title", "AB \u200f ok.", "V[31m")


# --------------------------------------------------------------------------- CSV and TSV

def test_csv_bom_quoted_newlines_and_aliased_headers(tmp_path):
    path = tmp_path / "zotero.csv"
    text = ('\ufeffKey,TITLE,Abstract Note,Author,Publication Year,Url,DOI,Publication Title,Extra\r\n'
            'K1,"Sparse Attention, Revisited","First line of the abstract,\r\nwith ""quotes"" and a second line.",'
            '"Lee, Ann; Chen, Bo",2023,https://arxiv.org/abs/2301.00042v1,10.1000/X,JMLR,\r\n'
            'K2,Plain Title,Plain abstract.,Solo Author,,,,,\r\n')
    path.write_bytes(text.encode("utf-8"))
    recs, problems = read(read_csv, path)
    assert problems == []
    a, b = recs
    assert (a.line, a.title, a.abstract) == (2, "Sparse Attention, Revisited",
                                             'First line of the abstract, with "quotes" and a second line.')
    assert a.author_names == ["Lee, Ann", "Chen, Bo"] and a.published == date(2023, 1, 1) and a.date_text == "2023"
    assert (a.arxiv_id, a.doi, a.venue) == ("2301.00042", "10.1000/x", "JMLR")
    assert a.url == "https://arxiv.org/abs/2301.00042v1"
    assert (b.line, b.title, b.abstract, b.author_names, b.published, b.url) == (
        4, "Plain Title", "Plain abstract.", ["Solo Author"], None, None)


def test_tsv_by_extension_and_by_header_tabs(tmp_path):
    rows = 'title\tsummary\tdate\n"Quoted" Word First\tAbstract, with a comma.\t2022-03-04\nT2\tA2\t2021\n'
    for name in ("papers.tsv", "papers"):
        path = tmp_path / name
        path.write_text(rows, encoding="utf-8")
        assert detect(path) == "csv"
        recs, problems = read(read_csv, path)
        assert problems == []
        # a TSV field that merely starts with a quote is text, not CSV quoting
        assert [(r.line, r.title, r.abstract, r.published) for r in recs] == [
            (2, '"Quoted" Word First', "Abstract, with a comma.", date(2022, 3, 4)), (3, "T2", "A2", date(2021, 1, 1))]


def test_csv_semicolons_when_the_header_has_no_comma(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("Title;Abstract;Authors\nA Title;An abstract, with a comma.;X Y\n", encoding="utf-8")
    (rec,), problems = read(read_csv, path)
    assert problems == [] and (rec.title, rec.abstract, rec.author_names) == ("A Title", "An abstract, with a comma.",
                                                                              ["X Y"])


def test_csv_broken_rows_are_reported_at_their_first_line(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"\n".join([
        b"title,abstract,year",                                   # 1
        b'"Multi-line Good","First line\nsecond line.",2020',     # 2-3
        b'"Unterminated quote,abstract text,2021',                # 4: the quote is never closed
        b"Good After Quote,Abstract after.,2022",                 # 5
        b"Too,many,fields,here",                                  # 6
        b"Too few,fields",                                        # 7
        b'"Closed" early,abstract,2020',                          # 8: text after a closing quote
        b"No Abstract,,2020",                                     # 9
        b",Abstract without title,2020",                          # 10
        "Caf\u00e9 Title,R\u00e9sum\u00e9.,2023".encode("cp1252"),  # 11: not UTF-8
        b"Trailing Delimiters,Fine.,2024,,",                      # 12
        b'"Last Good","Last, good.",2024',                        # 13
    ]) + b"\n")
    recs, problems = read(read_csv, path)
    assert [(r.line, r.title, r.abstract) for r in recs] == [
        (2, "Multi-line Good", "First line second line."), (5, "Good After Quote", "Abstract after."),
        (11, "Café Title", "Résumé."), (12, "Trailing Delimiters", "Fine."), (13, "Last Good", "Last, good.")]
    msgs = at(problems)
    assert set(msgs) == {4, 6, 7, 8, 9, 10, 11}
    # the quote opened on line 4 runs on to the next quote (line 8), where the row breaks
    assert msgs[4] == "broken CSV row: a quoted field runs on to line 8 and breaks there (a quote never closed?) "\
        "(lines 4-8); row skipped"
    assert msgs[6] == "row has 4 fields, the header has 3 (a delimiter inside an unquoted field? line 6); row skipped"
    assert msgs[7] == "row has 2 fields, the header has 3 (fields left out? line 7); row skipped"
    assert msgs[8].startswith("broken CSV row: text after a closing quote")
    assert msgs[9] == "record 'No Abstract' has no abstract; skipped" and msgs[10] == "record has no title; skipped"
    assert "not UTF-8" in msgs[11] and not next(p for p in problems if p.line == 11).skipped


def test_utf16_files_as_windows_tools_save_them(tmp_path):
    """Excel's "Unicode text" is UTF-16 TSV; XML may be UTF-16 too (then cut into entries after transcoding)."""
    tsv = tmp_path / "excel.tsv"
    tsv.write_bytes("Title\tAbstract\nCaf\u00e9 Paper\tR\u00e9sum\u00e9 of it.\n".encode("utf-16"))
    (rec,), problems = read(read_csv, tsv)
    assert (rec.line, rec.title, rec.abstract) == (2, "Café Paper", "Résumé of it.")
    assert [(p.line, p.skipped, p.message) for p in problems] == [
        (1, False, "UTF-16 text, read as such (save the file as UTF-8)")]
    xml = tmp_path / "feed.xml"
    text = FEED.replace("UTF-8", "UTF-16") + atom_entry(1, "Caf\u00e9") + atom_entry(2, "Bad <b>") + "</feed>\n"
    xml.write_bytes(text.encode("utf-16"))
    recs, problems = read(read_atom, xml)
    assert [(r.line, r.title) for r in recs] == [(4, "Café")]
    assert [(p.line, p.message) for p in problems] == [(10, "entry is not valid XML (mismatched tag at line 13); "
                                                            "skipped")]


def test_csv_without_a_title_column_is_refused_whole(tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("name,abstract\nX,Y\n", encoding="utf-8")
    recs, problems = read(read_csv, path)
    assert recs == []
    (p,) = problems
    assert p.whole_file and p.line == 1 and "no title column (columns: 'name', 'abstract')" in p.message


# --------------------------------------------------------------------------- BibTeX

BIB = r"""% exported by hand
@string{nips = "Advances in Neural {I}nformation Processing Systems"}
@comment{ a comment, with {braces} }

@Article{lee2024,
  Title = {The {LoRA} of G{\"o}del and Caf\'e: {\"u}ber --- Systems},
  author = {M{\"u}ller, Hans and Doe, Jane and van der Berg, Jan and others},
  abstract = {We improve accuracy by 5% on Q&A
     tasks \& more, with $O(n)$ cost.},
  journal = nips # " 37",
  year = 2024, month = may,
  eprint = {2401.01234}, archivePrefix = {arXiv},
  url = {https://example.org/lee},
}

@inproceedings{chen2023,
  title = "Second {P}aper",
  abstract = "An abstract in quotes.",
  author = "Bo Chen",
  booktitle = {Proc. ICML},
  doi = {https://doi.org/10.1000/XYZ.1},
  date = {2023-07-02},
}
"""


def test_bibtex_fields_latex_strings_and_names(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text(BIB, encoding="utf-8")
    recs, problems = read(read_bibtex, path)
    assert problems == []
    a, b = recs
    assert (a.line, a.key) == (5, "lee2024")
    assert a.title == "The LoRA of Gödel and Café: über — Systems"
    assert a.abstract == "We improve accuracy by 5% on Q&A tasks & more, with $O(n)$ cost."
    assert a.author_names == ["Hans Müller", "Jane Doe", "Jan van der Berg"] and a.authors == 3
    assert (a.published, a.date_text) == (date(2024, 5, 1), "May 2024")
    assert (a.venue, a.arxiv_id, a.url, a.doi) == ("Advances in Neural Information Processing Systems 37", "2401.01234",
                                                   "https://example.org/lee", None)
    assert (b.line, b.key, b.title, b.abstract, b.author_names) == (16, "chen2023", "Second Paper",
                                                                    "An abstract in quotes.", ["Bo Chen"])
    assert (b.venue, b.doi, b.published, b.date_text) == ("Proc. ICML", "10.1000/xyz.1", date(2023, 7, 2), "2023-07-02")


@pytest.mark.parametrize("text, want", [
    (r"{\"u}ber \"{o} \'e \c{c} {\ss}", "über ö é ç ß"),
    (r"\emph{Deep} \textbf{nets}~rock", "Deep nets rock"),
    (r"``quoted'' -- range", "“quoted” – range"),
    (r"\href{x}{y} survives", "\\hrefxy survives"),  # pylatexenc raises on it: the text is kept, braces removed
    ("plain text,   no LaTeX", "plain text, no LaTeX"),
])
def test_latex_decoding(text, want):
    assert latex(text) == want


def test_bibtex_broken_entries_cost_only_themselves(tmp_path):
    path = tmp_path / "broken.bib"
    path.write_bytes(b"\n".join([
        b"@article{first, title = {First}, abstract = {First abstract.}}",   # 1
        b"@article{unterminated,",                                        # 2
        b"  title = {Never closed,",                                      # 3
        b"  abstract = {lost},",                                          # 4
        b"",                                                              # 5
        b"@article{second,",                                              # 6
        b"  title = {Second},",                                           # 7
        b"  abstract = {Second abstract.}",                               # 8
        b"}",                                                             # 9
        b"@book{noabstract, title = {A Book}}",                           # 10
        b"@misc{notitle, abstract = {Orphan abstract.}}",                 # 11
        b"@article{second, title = {Same Key}, abstract = {Other.}}",     # 12
        "@article{latin, title = {Caf\u00e9}, abstract = {R\u00e9sum\u00e9.}}".encode("latin-1"),  # 13
        b"@article{last, title = {Last}, abstract = {Last abstract.}",    # 14: unterminated at the end
    ]) + b"\n")
    recs, problems = read(read_bibtex, path)
    assert [(r.line, r.key, r.title) for r in recs] == [(1, "first", "First"), (6, "second", "Second"),
                                                         (12, "second", "Same Key"), (13, "latin", "Café")]
    msgs = at(problems)
    assert set(msgs) == {2, 10, 11, 12, 13, 14}
    assert msgs[2].startswith("entry unterminated is not valid BibTeX (Unexpected block start") and \
        msgs[2].endswith("; skipped")
    assert str(next(p for p in problems if p.line == 10)) == "broken.bib:10: entry noabstract has no abstract; skipped"
    assert msgs[11] == "entry notitle has no title; skipped"
    assert msgs[12] == "duplicate key second; read as it is"
    assert "not UTF-8" in msgs[13]
    assert msgs[14].startswith("entry last is not valid BibTeX (Unexpectedly reached end of file")
    assert {p.line for p in problems if p.skipped} == {2, 10, 11, 14}


def test_bibtex_file_with_no_entries_at_all(tmp_path):
    path = tmp_path / "notes.bib"
    path.write_text("just some notes, no entries\n", encoding="utf-8")
    assert read(read_bibtex, path) == ([], [])


# --------------------------------------------------------------------------- Atom (arXiv API)

def atom_entry(n: int, title: str, summary: str = "An abstract.", extra: str = "") -> str:
    return (f"  <entry>\n    <id>http://arxiv.org/abs/2401.0000{n}v2</id>\n"
            f"    <published>2024-01-0{n}T10:00:00Z</published>\n    <title>{title}</title>\n"
            f"    <summary>{summary}</summary>\n{extra}  </entry>\n")


FEED = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
        '  <title type="html">ArXiv Query: search_query=all:attention</title>\n')


def test_atom_fields_several_authors_and_doi(tmp_path):
    extra = ("    <author><name>Ann Lee</name><arxiv:affiliation>MIT</arxiv:affiliation></author>\n"
             "    <author><name>Bo Chen</name></author>\n    <author><name>Carla D\u00edaz</name></author>\n"
             "    <arxiv:doi>10.1000/ABC</arxiv:doi>\n    <arxiv:journal_ref>NeurIPS 2024</arxiv:journal_ref>\n"
             '    <link href="https://arxiv.org/abs/2401.00001v2" rel="alternate" type="text/html"/>\n'
             '    <link title="pdf" href="http://arxiv.org/pdf/2401.00001v2" rel="related"/>\n')
    path = tmp_path / "query.xml"
    path.write_text(FEED + atom_entry(1, "Sparse\n      Attention &amp; Friends",
                                      "  We study\n  things &lt;here&gt;.  ", extra)
                    + atom_entry(2, "Second") + "</feed>\n", encoding="utf-8")
    recs, problems = read(read_atom, path)
    assert problems == []
    a, b = recs
    assert (a.line, a.title, a.abstract) == (4, "Sparse Attention & Friends", "We study things <here>.")
    assert a.author_names == ["Ann Lee", "Bo Chen", "Carla Díaz"] and a.authors == 3
    assert (a.published, a.date_text) == (date(2024, 1, 1), "2024-01-01T10:00:00Z")
    assert (a.arxiv_id, a.doi, a.venue, a.key) == ("2401.00001", "10.1000/abc", "NeurIPS 2024",
                                                   "http://arxiv.org/abs/2401.00001v2")
    assert a.url == "https://arxiv.org/abs/2401.00001v2"  # the alternate link, not the id
    assert (b.line, b.title, b.url, b.arxiv_id) == (19, "Second", "http://arxiv.org/abs/2401.00002v2", "2401.00002")


def test_atom_invalid_entry_among_good_ones(tmp_path):
    path = tmp_path / "broken.xml"
    text = (FEED                                                      # lines 1-3
            + atom_entry(1, "Good One")                               # 4-9
            + atom_entry(2, "Broken <b>unclosed bold")                # 10-15: mismatched tag on line 13
            + atom_entry(3, "Bad &nbsp; entity")                      # 16-21: undefined entity
            + "  <entry>\n    <title>No Summary</title>\n  </entry>\n"  # 22-24
            + atom_entry(4, "Good Four")                              # 25-30
            + "  <stray> junk between entries\n"                      # 31: never closed
            + atom_entry(5, "Good Five", "Caf\u00e9 in Latin-1")      # 32-37
            + "  <entry>\n    <id>cut</id>\n    <title>Truncated")    # 38-40: the file ends inside it
    path.write_bytes(text.encode("utf-8").replace("Caf\u00e9".encode(), "Caf\u00e9".encode("latin-1")))
    recs, problems = read(read_atom, path)
    assert [(r.line, r.title) for r in recs] == [(4, "Good One"), (25, "Good Four")]
    msgs = at(problems)
    assert msgs[10] == "entry is not valid XML (mismatched tag at line 13); skipped"
    assert msgs[16] == "entry is not valid XML (undefined entity at line 19); skipped"
    assert msgs[22] == "entry (no id) has no summary (abstract); skipped"
    assert msgs[32] == "entry is not valid XML (not well-formed (invalid token) at line 36); skipped"
    assert msgs[38] == "entry is never closed (mismatched tag at line 40); skipped"
    assert set(msgs) == {10, 16, 22, 32, 38}


def test_atom_junk_outside_entries_is_a_note_and_entries_are_kept(tmp_path):
    path = tmp_path / "feed"
    path.write_text(FEED + "  <unclosed>\n" + atom_entry(1, "Kept") + "</feed>\n", encoding="utf-8")
    (rec,), problems = read(read_atom, path)
    assert rec.title == "Kept" and rec.line == 5
    (p,) = problems
    assert not p.skipped and p.line == 11 and "the entries were read one by one" in p.message


def test_atom_entities_are_never_expanded(tmp_path):
    path = tmp_path / "laughs.xml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
                    '<feed xmlns="http://www.w3.org/2005/Atom">\n'
                    + atom_entry(1, "Laughs &lol2;") + atom_entry(2, "Plain") + "</feed>\n", encoding="utf-8")
    recs, problems = read(read_atom, path)
    assert [r.title for r in recs] == ["Plain"]
    assert [(p.line, p.message) for p in problems if p.skipped] == [
        (4, "entry is not valid XML (undefined entity at line 7); skipped")]
    assert not any("lollol" in r.title for r in recs)


def test_atom_unreadable_and_empty(tmp_path):
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"<html><body>not a feed" + bytes(range(256)))
    recs, problems = read(read_atom, junk)
    assert recs == [] and len(problems) == 1 and problems[0].whole_file and "not XML" in problems[0].message
    empty = tmp_path / "empty.xml"
    empty.write_text(FEED + "</feed>\n", encoding="utf-8")
    recs, problems = read(read_atom, empty)
    assert recs == [] and [p.skipped for p in problems] == [False] and "no <entry>" in problems[0].message
    api_error = tmp_path / "error.xml"
    api_error.write_text(FEED + "<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id>"
                         "<title>Error</title><summary>incorrect id format for 1234</summary></entry></feed>")
    recs, problems = read(read_atom, api_error)
    assert recs == [] and problems[0].message == ("the arXiv API answered with an error: incorrect id format for "
                                                  "1234; skipped")


# --------------------------------------------------------------------------- format detection

def test_detect_by_extension_and_by_content(tmp_path):
    files = {
        "refs.txt": (BIB, "bibtex"),  # a .bib saved as .txt
        "arxiv_response": (FEED + atom_entry(1, "T") + "</feed>", "atom"),
        "table": ("Title,Abstract\nT,A\n", "csv"),
        "dump.ndjson": ('{"title": "T"}\n', "jsonl"),
        "export.json": ("[]", "jsonl"),
        "page.txt": ("Some Title\n" + ABSTRACT * 3 + "\n", "page dump"),
        "refs.BIB": ("@misc{x}", "bibtex"),
    }
    for name, (text, fmt) in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert detect(tmp_path / name) == fmt, name
    assert sniff(b"\xef\xbb\xbf\n\n%% BibDesk\n@article{x,") == "bibtex"
    assert sniff(b'\xef\xbb\xbf"TITLE"\t"Summary"\n') == "csv"
    assert sniff(b"  <?xml version='1.0'?><feed") == "atom"
    assert sniff(b'\n  {"title": 1}') == "jsonl"
    assert sniff(b"title,year\nx,1\n") == "page dump"  # no abstract column: not a table of papers


def test_detected_formats_are_read_by_load_corpus(tmp_path):
    (tmp_path / "refs.txt").write_text(BIB, encoding="utf-8")
    (tmp_path / "feed.atom").write_text(FEED + atom_entry(7, "From The Feed") + "</feed>", encoding="utf-8")
    corpus = load_corpus([tmp_path])
    assert corpus.formats == {"feed.atom": "atom", "refs.txt": "bibtex"}
    assert corpus.counts == {"feed.atom": 1, "refs.txt": 2} and corpus.problems == []
    assert {p.title for p in corpus.papers} == {"From The Feed", "Second Paper",
                                                 "The LoRA of Gödel and Café: über — Systems"}


# --------------------------------------------------------------------------- one paper in three formats

def test_one_paper_from_jsonl_bibtex_and_atom_is_one_paper(tmp_path):
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text(json.dumps({"title": "Sparse Attention at Scale", "abstract": "Short abstract.",
                                 "arxiv_id": "2401.01234"}) + "\n"
                     + json.dumps({"title": "Unrelated Paper", "abstract": "Something else."}) + "\n",
                     encoding="utf-8")
    bib = tmp_path / "refs.bib"
    bib.write_text("\n\n@article{sparse,\n  title = {SPARSE {A}ttention AT scale},\n"
                   "  abstract = {A longer abstract than the one in the JSON Lines file.},\n"
                   "  author = {Doe, Jane and Roe, Rick},\n  journal = {JMLR},\n  year = 2024,\n"
                   "  eprint = {2401.01234v3},\n  archiveprefix = {arXiv},\n}\n", encoding="utf-8")
    feed = tmp_path / "feed.xml"
    feed.write_text(FEED + "  <entry>\n    <id>http://arxiv.org/abs/2401.01234v2</id>\n"
                    "    <published>2024-02-09T18:00:00Z</published>\n"
                    "    <title>Sparse attention: at scale!</title>\n    <summary>Feed abstract.</summary>\n"
                    "    <author><name>Jane Doe</name></author>\n    <arxiv:doi>10.9999/SPARSE</arxiv:doi>\n"
                    '    <link href="http://arxiv.org/abs/2401.01234v2" rel="alternate"/>\n  </entry>\n</feed>\n',
                    encoding="utf-8")
    corpus = load_corpus([jsonl, bib, feed])
    assert corpus.records == 4 and corpus.problems == []
    (paper,) = [p for p in corpus.papers if p.arxiv_id == "2401.01234"]
    assert len(corpus.papers) == 2
    assert paper.title == "Sparse Attention at Scale"  # the first record's
    assert paper.abstract == "A longer abstract than the one in the JSON Lines file."  # the longest
    assert paper.sources == ["mine.jsonl:1", "refs.bib:3", "feed.xml:4"]
    assert paper.author_names == ["Jane Doe", "Rick Roe"] and paper.authors == 2
    assert (paper.venue, paper.doi, paper.url) == ("JMLR", "10.9999/sparse", "http://arxiv.org/abs/2401.01234v2")
    # the .bib says only "2024"; the feed's day of the same year is more precise, so it wins
    assert (paper.published, paper.date_text) == (date(2024, 2, 9), "2024-02-09T18:00:00Z")
    assert paper.fields_from == {"title": "mine.jsonl", "abstract": "refs.bib", "arxiv_id": "mine.jsonl",
                                 "author_names": "refs.bib", "authors": "refs.bib", "venue": "refs.bib",
                                 "published": "feed.xml", "url": "feed.xml", "doi": "feed.xml"}
    other = next(p for p in corpus.papers if p is not paper)
    assert other.sources == ["mine.jsonl:2"] and other.fields_from == {}
