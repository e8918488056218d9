"""Seed parser: the real page dumps (both layouts, chrome, glued titles, metadata, dedupe) and bad input."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from testing.seeds import SEEDS, abstract_for, seed_file, write_seed
from rag.corpus.parse import CHROME, DATE_RE
from rag.corpus.readers import load_corpus
from rag.corpus.records import normalize_title, paper_id
from rag.errors import CorpusError, RagError

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def by_title(corpus, title: str):
    (paper,) = [p for p in corpus.papers if p.title == title]
    return paper


def file_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# --------------------------------------------------------------------------- the real seeds

def test_real_seeds_counts(corpus):
    assert corpus.records == 705
    assert len(corpus.papers) == 615
    assert corpus.skipped == 0
    assert corpus.problems == []
    assert sorted(corpus.files) == sorted(p.name for p in SEEDS.glob("*.txt"))
    # every record is one source of exactly one paper
    assert sum(len(p.sources) for p in corpus.papers) == corpus.records


def test_paper_ids_unique_and_derived_from_title(corpus):
    ids = [p.paper_id for p in corpus.papers]
    assert len(set(ids)) == len(ids)
    assert all(p.paper_id == paper_id(p.title) for p in corpus.papers)
    assert len({normalize_title(p.title) for p in corpus.papers}) == len(corpus.papers)


def test_every_source_points_at_the_title_line(corpus):
    """'file:line' of every appearance is the line that holds the (possibly glued) title."""
    lines = {f.name: file_lines(f) for f in SEEDS.glob("*.txt")}
    for p in corpus.papers:
        for src in p.sources:
            name, no = src.rsplit(":", 1)
            text = lines[name][int(no) - 1].strip()
            if text.startswith("Subscribe") and text != "Subscribe":
                text = text[len("Subscribe"):]
            assert normalize_title(text) == normalize_title(p.title), src


def test_dedupe_keeps_every_source(corpus):
    zero = by_title(corpus, "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models")
    expected_files = {f.name for f in SEEDS.glob("*.txt") if zero.title in file_lines(f)}
    assert len(expected_files) >= 2
    assert {s.rsplit(":", 1)[0] for s in zero.sources} == expected_files
    # and the most widely repeated paper keeps all of its appearances
    most = max(corpus.papers, key=lambda p: len(p.sources))
    files = {s.rsplit(":", 1)[0] for s in most.sources}
    assert len(files) >= 3
    for name in files:
        assert any(normalize_title(line) == normalize_title(most.title) for line in file_lines(SEEDS / name))


@pytest.mark.parametrize("prefix, start", [("000", "AgentPS:"), ("004", "LoRA-SP:")])
def test_title_glued_to_subscribe_is_parsed(corpus, prefix, start):
    (paper,) = [p for p in corpus.papers if p.title.startswith(start)]
    lines = file_lines(seed_file(prefix))
    (no,) = [i for i, line in enumerate(lines) if line.startswith("Subscribe" + start)]
    assert paper.title == lines[no][len("Subscribe"):]
    assert paper.abstract == lines[no + 1].strip()
    assert paper.sources == [f"{seed_file(prefix).name}:{no + 1}"]
    assert not [p.title for p in corpus.papers if p.title.casefold().startswith("subscribe")]


def test_no_chrome_line_became_a_paper(corpus):
    for p in corpus.papers:
        low = p.title.casefold()
        assert low not in CHROME
        assert not low.startswith("get trending papers")
        assert not DATE_RE.match(p.title), p.title
        assert p.title not in {"·", ""}
        assert not re.match(r"^•\s*\d+\s+authors?$", p.title)
        assert len(p.abstract) >= 250 or p.abstract.count(". ") >= 2


def test_metadata_intelligence_per_watt(corpus):
    p = by_title(corpus, "Intelligence per Watt: Measuring Intelligence Efficiency of Local AI")
    assert p.organization == "Stanford Stanford AI"
    assert p.authors is None
    assert p.published == date(2025, 11, 11)
    assert p.date_text == "Nov 11"
    assert p.upvotes == 3
    assert [s.rsplit(":", 1)[0] for s in p.sources] == [seed_file("003").name]


def test_metadata_mpirigen(corpus):
    p = by_title(corpus, "MPIrigen: MPI Code Generation through Domain-Specific Language Models")
    assert p.authors == 13
    assert p.organization is None
    assert p.published == date(2024, 2, 14)
    assert p.date_text == "Feb 14, 2024"
    assert p.upvotes == 1
    # it also appears (without metadata) in a compact-layout file; the metadata survives the merge
    assert {s.rsplit(":", 1)[0][:3] for s in p.sources} == {"000", "003"}


def test_date_with_year_and_no_upvotes(corpus):
    p = by_title(corpus, "Deep Learning, Machine Learning, Advancing Big Data Analytics and Management")
    lines = [line.strip() for line in file_lines(seed_file("003"))]
    start = lines.index(p.title)
    block = lines[start:start + 8]
    assert "Dec 3, 2024" in block and "• 26 authors" in block
    assert p.published == date(2024, 12, 3)
    assert p.date_text == "Dec 3, 2024"
    assert p.upvotes is None
    assert p.authors == 26


def test_dates_only_from_003_and_year_resolution(corpus):
    dated = [p for p in corpus.papers if p.published]
    assert len(dated) == 58
    name = seed_file("003").name
    assert all(any(s.startswith(name + ":") for s in p.sources) for p in dated)
    explicit = [int(m.group(1)) for m in re.finditer(r"^[A-Z][a-z]{2} \d{1,2}, (\d{4})", seed_file("003").read_text(), re.M)]
    implied_year = max(explicit) + 1
    assert implied_year == 2025
    for p in dated:
        m = DATE_RE.match(p.date_text)
        assert m, p.date_text
        month, day, year, _ = m.groups()
        assert (p.published.month, p.published.day) == (MONTHS.index(month) + 1, int(day))
        assert p.published.year == (int(year) if year else implied_year)
    assert all(p.date_text is None and p.upvotes is None for p in corpus.papers if not p.published)


# --------------------------------------------------------------------------- hand-made seeds

def test_both_layouts_and_metadata(tmp_path):
    write_seed(tmp_path, "a.txt", ["Compact Layout Paper One", "Compact Layout Paper Two"])
    write_seed(tmp_path, "b.txt", [
        {"title": "Spaced Paper With Authors", "authors": 7, "date": "Jan 5, 2023 12"},
        {"title": "Spaced Paper With Organisation", "organization": "Acme Research Lab", "date": "Jun 2"},
        {"title": "Spaced Paper Without Metadata"},
    ], spaced=True)
    c = load_corpus([tmp_path])
    assert c.problems == [] and c.records == 5
    a = {p.title: p for p in c.papers}
    assert set(a) == {"Compact Layout Paper One", "Compact Layout Paper Two", "Spaced Paper With Authors",
                      "Spaced Paper With Organisation", "Spaced Paper Without Metadata"}
    assert a["Compact Layout Paper Two"].abstract == abstract_for("compact layout paper two")
    p = a["Spaced Paper With Authors"]
    assert (p.authors, p.organization, p.published, p.date_text, p.upvotes) == (7, None, date(2023, 1, 5), "Jan 5, 2023", 12)
    p = a["Spaced Paper With Organisation"]
    # no upvotes printed; a year-less date is the year after the latest explicit year of the file
    assert (p.authors, p.organization, p.published, p.upvotes) == (None, "Acme Research Lab", date(2024, 6, 2), None)
    p = a["Spaced Paper Without Metadata"]
    assert (p.authors, p.organization, p.published, p.upvotes) == (None, None, None, None)


def test_merge_across_files_case_and_punctuation(tmp_path):
    longer = abstract_for("graph sparsification") + " An extra closing sentence makes this copy the longest one."
    write_seed(tmp_path, "a.txt", ["Graph Sparsification: A Survey"])
    write_seed(tmp_path, "b.txt", [{"title": "graph sparsification -- a survey", "abstract": longer}])
    c = load_corpus([tmp_path])
    (p,) = c.papers
    assert c.records == 2
    assert p.title == "Graph Sparsification: A Survey"  # the first appearance names it
    assert p.abstract == longer  # the fullest text wins
    assert [s.rsplit(":", 1)[0] for s in p.sources] == ["a.txt", "b.txt"]


def test_paper_id_stable_and_normalised(tmp_path, corpus):
    t = "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models"
    assert paper_id(t) == paper_id(t)
    assert paper_id(t) == paper_id("zero   memory optimizations, toward training trillion-parameter models!")
    assert paper_id(t) == paper_id(t.upper())
    assert paper_id(t) != paper_id(t + " v2")
    assert paper_id(t) != paper_id(t.replace("Trillion", "Billion"))
    assert re.fullmatch(r"p[0-9a-f]{12}", paper_id(t))
    # the same title in another file, at another line, with other neighbours: same id as in the real corpus
    write_seed(tmp_path, "x.txt", ["Some Unrelated Paper", t])
    (mine,) = [p for p in load_corpus([tmp_path]).papers if p.title == t]
    assert mine.paper_id == by_title(corpus, t).paper_id
    # parsing again gives the same ids
    assert [p.paper_id for p in load_corpus([SEEDS]).papers] == [p.paper_id for p in corpus.papers]


# --------------------------------------------------------------------------- bad input

def test_binary_file_is_skipped_and_non_utf8_line_is_read(tmp_path):
    write_seed(tmp_path, "good.txt", ["A Good Paper", "Another Good Paper"])
    (tmp_path / "binary.txt").write_bytes(b"PK\x03\x04\x00\x00binary\x00stuff\n" * 10)
    (tmp_path / "latin1.txt").write_bytes("Caf\u00e9 Paper Title\n".encode("latin-1") + abstract_for("x").encode())
    c = load_corpus([tmp_path])
    # a line saved as Latin-1 costs nothing: it is read as cp1252 and reported; a binary file is skipped whole
    assert {p.title for p in c.papers} == {"A Good Paper", "Another Good Paper", "Caf\u00e9 Paper Title"}
    files = {p.file: p for p in c.problems}
    assert set(files) == {"binary.txt", "latin1.txt"}
    assert "binary" in files["binary.txt"].message and "skipped" in files["binary.txt"].message
    assert files["binary.txt"].whole_file and files["binary.txt"].line == 1
    latin = files["latin1.txt"]
    assert "UTF-8" in latin.message and "cp1252" in latin.message
    assert (latin.line, latin.skipped, latin.whole_file) == (1, False, False)
    assert c.skipped == 1
    assert all(str(p).startswith(p.file + ":") for p in c.problems)
    assert set(c.files) == {"good.txt", "binary.txt", "latin1.txt"}


def test_abstract_without_title(tmp_path):
    path = write_seed(tmp_path, "orphan.txt", ["Paper Before", "Paper After"])
    lines = file_lines(path)
    at = lines.index("Paper After")
    lines.insert(at, abstract_for("an orphan abstract"))  # an abstract right after another abstract
    path.write_text("\n".join(lines) + "\n")
    c = load_corpus([tmp_path])
    assert {p.title for p in c.papers} == {"Paper Before", "Paper After"}
    (problem,) = c.problems
    assert (problem.file, problem.line) == ("orphan.txt", at + 1)
    assert "no title" in problem.message and problem.skipped
    assert c.skipped == 1
    assert str(problem).startswith(f"orphan.txt:{at + 1}:")


def test_truncated_file_ending_in_a_title(tmp_path):
    path = write_seed(tmp_path, "cut.txt", ["Complete Paper"])
    path.write_text(path.read_text() + "A Title Whose Abstract Was Cut Off\n")
    no = len(file_lines(path))
    c = load_corpus([tmp_path])
    assert [p.title for p in c.papers] == ["Complete Paper"]
    (problem,) = c.problems
    assert (problem.file, problem.line) == ("cut.txt", no)
    assert "A Title Whose Abstract" in problem.message and "truncated" in problem.message
    assert c.skipped == 1 and c.records == 1


def test_missing_path_raises_with_hint(tmp_path):
    with pytest.raises(CorpusError) as err:
        load_corpus([tmp_path / "nope"])
    assert str(tmp_path / "nope") in err.value.message
    assert "rag ingest" in err.value.hint
    assert isinstance(err.value, RagError)


def test_empty_folder_raises(tmp_path):
    with pytest.raises(CorpusError) as err:
        load_corpus([tmp_path])
    assert err.value.hint


# --------------------------------------------------------------------------- bugs

def test_title_starting_with_subscribe_word_is_kept(tmp_path):
    write_seed(tmp_path, "a.txt", ["First Paper", "Subscriber Churn Prediction with Graph Neural Networks"])
    titles = {p.title for p in load_corpus([tmp_path]).papers}
    assert titles == {"First Paper", "Subscriber Churn Prediction with Graph Neural Networks"}


def test_utf8_bom_file_parses_like_the_original(tmp_path):
    src = seed_file("004")
    (tmp_path / src.name).write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    with_bom, plain = load_corpus([tmp_path]), load_corpus([src])
    assert [p.title for p in with_bom.papers] == [p.title for p in plain.papers]
    assert with_bom.problems == [] and with_bom.skipped == 0


def test_folder_expands_to_txt_files_only(tmp_path):
    write_seed(tmp_path, "page.txt", ["Real Paper"])
    write_seed(tmp_path, "notes.md", ["Not A Seed Paper"])
    c = load_corpus([tmp_path])
    assert c.files == ["page.txt"]
    assert [p.title for p in c.papers] == ["Real Paper"]
