"""Retriever.paper(): one paper's whole record, as the app's Papers tab shows it."""

from __future__ import annotations

from testing.seeds import abstract_for, make_settings, write_seed
from rag.search.catalogue import join_overlapping


def test_paper_record_matches_the_seed(retriever, corpus):
    paper = next(p for p in corpus.papers if p.upvotes is not None and p.published is not None)
    rec = retriever.paper(paper.paper_id)
    assert rec is not None
    assert rec.title == paper.title and rec.abstract == paper.abstract.strip()
    assert rec.date == paper.published.isoformat() and rec.upvotes == paper.upvotes
    assert retriever.paper("no-such-paper") is None


def test_paper_record_joins_overlapping_chunks(tmp_path):
    from rag.ingestion.pipeline import ingest
    from rag.search.retriever import Retriever

    long_abstract = " ".join(f"Sentence number {i} explains part {i} of the method in some detail." for i in range(40))
    write_seed(tmp_path / "seeds", "a.txt", [{"title": "Long Paper About Chunking", "abstract": long_abstract},
                                             {"title": "Short Paper", "abstract": abstract_for("short things")}])
    settings = make_settings(tmp_path / "home", seeds=tmp_path / "seeds", chunk_size=64, chunk_overlap=16)
    ingest(settings)
    r = Retriever(settings)
    pid = next(m.paper_id for m in r.papers() if m.title.startswith("Long"))
    rec = r.paper(pid)
    assert rec.stored["n_chunks"] > 3
    assert rec.abstract == long_abstract
    assert rec.as_stored()["abstract"] == long_abstract and "chunk" not in rec.as_stored()  # the /paper API shape


def test_join_overlapping():
    assert join_overlapping("", "abc") == "abc"
    assert join_overlapping("one two three four five six seven", "three four five six seven eight") == \
        "one two three four five six seven eight"
    assert join_overlapping("ends with the", "the start") == "ends with the the start"  # too short to be an overlap


def test_a_papers_dict_is_what_asdict_gives():
    """Paper.to_dict (which every content hash is made from) builds the dict directly; it must stay what
    dataclasses.asdict gives, field for field, or every stored paper would look changed. The fields only a
    user's files fill are left out while empty, so a page-dump paper's dict (and hash) is what it was."""
    from dataclasses import asdict, fields
    from datetime import date

    from rag.types import EXTRA_FIELDS, Paper

    paper = Paper("p1", "T", "A", ["a.txt:3", "b.txt:9"], 4, "Org", date(2024, 3, 2), "Mar 2", 7)
    old = {k: v for k, v in asdict(paper).items() if k not in EXTRA_FIELDS}
    assert paper.to_dict() == {**old, "published": "2024-03-02"}
    assert list(paper.to_dict()) == [f.name for f in fields(Paper) if f.name not in EXTRA_FIELDS]
    bare = Paper("p2", "T", "A")
    assert bare.to_dict() == {**{k: v for k, v in asdict(bare).items() if k not in EXTRA_FIELDS}, "published": None}
    full = Paper("p3", "T", "A", ["x.bib:1"], 2, None, date(2024, 5, 1), "2024-05", None, ["A B", "C D"],
                 "https://e.org", "2405.01234", "10.1/x", "JMLR", {"title": "x.bib"})
    assert full.to_dict() == {**asdict(full), "published": "2024-05-01"}
    assert list(full.to_dict()) == [f.name for f in fields(Paper)]
