"""The Compare tab's handlers (ui/compare_tab.py) on the shared index: the table, its exports, its papers' panel and a
click on a cell, an abstention; and the example questions the page offers (ui/examples.py), answered with citations."""

from __future__ import annotations

import csv
import io
import re
from html import escape
from pathlib import Path

import gradio as gr
import pytest

from rag.text.sentences import split_sentences
from testing.seeds import make_settings
from ui import examples, render
from ui.backend import OFFLINE, Backend, abstract_sentences
from ui.chat import example_text, make_chat_turn
from ui.compare_tab import EXAMPLE, HEADERS, CompareTab

LORA_Q = "Which papers tackle serving thousands of LoRA adapters?"
MARK = re.compile(r'<span class="sentence" data-sentence="(\d+)"><mark class="support">(.*?)</mark></span>')


@pytest.fixture(scope="module")
def backend(full_settings):
    return Backend(make_settings(full_settings.home, llm="extractive"))


@pytest.fixture(scope="module")
def tab(backend):
    return CompareTab(backend)


@pytest.fixture(scope="module")
def lora(tab):
    """The tab's outputs for the LoRA question: rows, count, csv, md, panel, papers."""
    return tab.run(LORA_Q)


def click(rows: list[list[str]], row: int, col: int, shown_at: int | None = None) -> gr.SelectData:
    """What Gradio passes for a click on a cell (`shown_at`: the row's position if the table was sorted)."""
    return gr.SelectData(None, {"index": [row if shown_at is None else shown_at, col], "value": rows[row][col],
                                "row_value": rows[row]})


def picked(html: str) -> list[str]:
    """The ids of the picked cards in a panel."""
    return re.findall(r'<details class="source cited picked" id="(cmp-\d+)"', html)


def test_the_table_and_its_downloads(lora):
    rows, count, csv_file, md_file, _, _ = lora
    assert len(rows) >= 2 and all(len(r) == len(HEADERS) for r in rows) and "papers of" in count
    assert any(r[1].startswith("S-LoRA") and "4 times" in r[4] for r in rows)
    exported = list(csv.DictReader(io.StringIO(Path(csv_file["value"]).read_text(encoding="utf-8"))))
    assert [e["title"] for e in exported] == [r[1].split(" (")[0] for r in rows]
    md = Path(md_file["value"]).read_text(encoding="utf-8")
    assert len(re.findall(r"^\| \[\d+\] \|", md, re.MULTILINE)) == len(rows)


def test_the_panel_shows_each_rows_whole_abstract_sentence_by_sentence(lora, backend):
    rows, _, _, _, panel, papers = lora
    assert [f"[{p.n}]" for p in papers] == [r[0] for r in rows] and not picked(panel) and "<mark" not in panel
    for p in papers:
        abstract = backend.paper(p.record.paper_id).abstract
        assert f'id="cmp-{p.n}"' in panel and escape(p.title) in panel
        assert len(p.sentences) > 3 and p.sentences == split_sentences(abstract)
        assert panel.count(f'<span class="sentence" data-sentence="{len(p.sentences) - 1}">') >= 1


def test_a_click_on_a_cell_highlights_its_sentence_in_its_papers_card(lora, tab):
    rows, _, _, _, _, papers = lora
    i = next(i for i, r in enumerate(rows) if r[1].startswith("S-LoRA"))
    paper = papers[i]
    html = tab.pick(papers, click(rows, i, 4))  # the Reports cell
    assert picked(html) == [f"cmp-{paper.n}"] and f'data-pick="{paper.n}:{paper.cells[4]}"' in html
    [(index, text)] = MARK.findall(html)  # one sentence marked, the cell's, in the right card
    assert int(index) == paper.cells[4] and text == escape(paper.sentences[paper.cells[4]])
    assert html.index(f'id="cmp-{paper.n}"') < html.index("<mark") and "4 times" in text
    assert rows[i][4][-40:] in paper.sentences[paper.cells[4]]  # the cell shows that sentence
    for col in (2, 3):  # the other cells of the row: their own sentence, or none when the cell is empty
        marks = MARK.findall(tab.pick(papers, click(rows, i, col)))
        assert [int(m[0]) for m in marks] == ([] if paper.cells[col] is None else [paper.cells[col]])


def test_a_click_on_the_number_or_title_picks_the_card_alone(lora, tab):
    rows, _, _, _, _, papers = lora
    for col in (0, 1):
        html = tab.pick(papers, click(rows, 1, col))
        assert picked(html) == [f"cmp-{papers[1].n}"] and "<mark" not in html


def test_a_sorted_table_still_picks_the_clicked_rows_paper(lora, tab):
    rows, _, _, _, _, papers = lora
    html = tab.pick(papers, click(rows, 1, 4, shown_at=0))  # row [2] shown first: found by its [n], not position
    assert picked(html) == [f"cmp-{papers[1].n}"]
    assert tab.pick([], click(rows, 0, 4)) == gr.skip()  # no table (yet): the panel is left as it is


def test_a_question_the_corpus_cannot_answer_shows_no_table(tab):
    rows, count, csv_file, _, panel, papers = tab.run("Which papers breed drought-resistant sorghum for Sahel farmers?")
    assert rows == [] and "does not contain" in count and csv_file["visible"] is False
    assert papers == [] and "<details" not in panel


def test_the_compare_example_is_a_table_of_several_papers(tab):
    assert EXAMPLE == examples.COMPARE and EXAMPLE in examples.CHAT
    rows, _, csv_file, _, _, papers = tab.run(EXAMPLE)
    assert len(rows) >= 2 and csv_file["visible"] is True and all(p.sentences for p in papers)


@pytest.mark.parametrize("question", examples.CHAT)
def test_each_chat_example_is_answered_with_citations(backend, question):
    """A click on an example asks it as the chat's Enter does: the answer cites the papers it shows."""
    assert 3 <= len(examples.CHAT) <= 4
    asked = example_text(gr.SelectData(None, {"index": 0, "value": {"text": question}}))
    assert asked == question
    *_, (_, chat, sources, _, answers) = make_chat_turn(backend)(asked, [], 5, "", "", OFFLINE)
    [answer] = answers
    assert not answer.abstained and answer.citations and not answer.caveats
    assert chat[0]["content"] == render.markdown_text(question) and '<a href="#src-0-1" class="cite">[1]</a>' in chat[1]["content"]
    assert 'id="src-0-1"' in sources and '<mark class="support">' in sources
    if question == examples.COMPARE:
        assert len(answer.citations) >= 2


def test_the_count_line_says_where_the_cells_come_from():
    """Extracted cells, a model's checked cells, and an LLM that failed (the extracted table with its note)."""
    from rag import Comparison
    from ui.compare_tab import cells_note

    assert "sentence of that paper's own abstract" in cells_note(Comparison("q", [], 3))
    llm = cells_note(Comparison("q", [], 3, mode="llm", model="tiny-1", note="4 of 6 cells written by the LLM."))
    assert "tiny-1" in llm and llm.endswith("4 of 6 cells written by the LLM.")
    failed = cells_note(Comparison("q", [], 3, note="The LLM could not fill in the table (timeout)."))
    assert "own abstract" in failed and "could not fill in the table" in failed
