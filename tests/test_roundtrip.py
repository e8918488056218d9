"""Each format round-trips through ingest and export with no field lost.

A paper with every field is written as JSON Lines, CSV, BibTeX and arXiv Atom, added to a real index
(`ingest(add=...)`), read back as the index stores it, exported as BibTeX (`rag.papers_bibtex`) and read
again by the BibTeX reader: title, abstract, authors, date, DOI, arXiv id, url and venue survive every step.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from rag import papers_bibtex
from rag.corpus.bibtex import read_bibtex
from rag.ingestion.pipeline import ingest
from rag.search.retriever import Retriever
from testing.seeds import COMPACT, make_settings, write_seed

PAPER = {
    "title": "Axolotl Limb Regeneration & the 5% Rule: {Braces}, Müller's Cells",
    "abstract": ("We show that axolotl limbs regrow after amputation when macrophages clear debris within 5% of the "
                 "wound area & that Müller glia respond first. Experiments on 120 animals over two seasons confirm "
                 "the effect, and we release the imaging data and the analysis code for further work."),
    "authors": ["María José García", "Øyvind Ågren", "Wei Zhang"],
    "date": "2022-09-14",
    "doi": "10.1234/axo_2022.7",
    "arxiv_id": "2209.01234",
    "url": "https://example.org/axolotl",
    "venue": "Journal of Regeneration & Repair",
}


def write(fmt: str, folder: Path) -> Path:
    """The paper in one format, as a user's export would hold it."""
    p = PAPER
    if fmt == "jsonl":
        path = folder / "library.jsonl"
        path.write_text(json.dumps(p, ensure_ascii=False) + "\n", encoding="utf-8")
    elif fmt == "csv":
        path = folder / "library.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["Title", "Abstract", "Authors", "Published", "DOI", "arXiv", "URL", "Journal"])
            w.writerow([p["title"], p["abstract"], "; ".join(p["authors"]), p["date"], p["doi"], p["arxiv_id"],
                        p["url"], p["venue"]])
    elif fmt == "bibtex":
        path = folder / "library.bib"
        path.write_text(papers_bibtex([_record_of(p)]), encoding="utf-8")
    else:
        path = folder / "query.xml"
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in p["authors"])
        path.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
            f"<entry><id>http://arxiv.org/abs/{p['arxiv_id']}v2</id><published>{p['date']}T17:59:58Z</published>"
            f"<title>{escape(p['title'])}</title><summary>{escape(p['abstract'])}</summary>{authors}"
            f'<link href="{p["url"]}" rel="alternate" type="text/html"/>'
            f"<arxiv:doi>{p['doi']}</arxiv:doi><arxiv:journal_ref>{escape(p['venue'])}</arxiv:journal_ref></entry>\n"
            "</feed>\n", encoding="utf-8")
    return path


def _record_of(p: dict):
    from rag import PaperRecord

    return PaperRecord("x", p["title"], date=p["date"], date_text=p["date"], author_names=list(p["authors"]),
                       doi=p["doi"], arxiv_id=p["arxiv_id"], url=p["url"], venue=p["venue"], abstract=p["abstract"])


def fields_of(record) -> dict:
    """The paper's fields as the index keeps them."""
    return {"title": record.title, "abstract": record.abstract, "authors": record.author_names, "date": record.date,
            "doi": record.doi, "arxiv_id": record.arxiv_id, "url": record.url, "venue": record.venue}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "bibtex", "atom"])
def test_every_field_survives_ingest_and_bibtex_export(fmt, tmp_path):
    seeds = tmp_path / "seeds"
    write_seed(seeds, "a.txt", COMPACT[:1])
    settings = make_settings(tmp_path / "home", seeds=seeds)
    summary = ingest(settings, add=[write(fmt, tmp_path)])
    assert (summary.added, summary.skipped) == (2, 0), summary.problems
    retriever = Retriever(settings)
    [mine] = [r for r in retriever.papers() if r.title != COMPACT[0]]
    stored = retriever.paper(mine.paper_id)
    assert fields_of(stored) == {k: PAPER[k] for k in PAPER} | {"authors": PAPER["authors"]}

    exported = tmp_path / "out.bib"
    exported.write_text(papers_bibtex([stored]), encoding="utf-8")
    problems: list = []
    [back] = read_bibtex(exported, problems)
    assert problems == []
    assert {"title": back.title, "abstract": back.abstract, "authors": back.author_names,
            "date": back.published.isoformat(), "doi": back.doi, "arxiv_id": back.arxiv_id, "url": back.url,
            "venue": back.venue} == fields_of(stored)


def test_a_year_only_date_is_exported_without_an_invented_month_or_day(tmp_path):
    record = _record_of(PAPER)
    record.date, record.date_text = "2022-01-01", "2022"
    text = papers_bibtex([record])
    assert "year = {2022}" in text and "month" not in text and "date =" not in text
    path = tmp_path / "y.bib"
    path.write_text(text, encoding="utf-8")
    [back] = read_bibtex(path, [])
    assert back.published == date(2022, 1, 1) and back.date_text == "2022"
