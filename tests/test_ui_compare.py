"""The Compare tab's handler (ui/compare_tab.py) on the shared index: the table, its exports, an abstention."""

from __future__ import annotations

import csv
import io
import re

import pytest

from ui.backend import Backend
from ui.compare_tab import CompareTab, HEADERS


@pytest.fixture(scope="module")
def tab(full_settings):
    from testing.seeds import make_settings

    return CompareTab(Backend(make_settings(full_settings.home, llm="extractive")))


def test_the_table_and_its_downloads(tab):
    rows, count, csv_file, md_file = tab.run("Which papers tackle serving thousands of LoRA adapters?")
    assert len(rows) >= 2 and all(len(r) == len(HEADERS) for r in rows) and "papers of" in count
    assert any(r[1].startswith("S-LoRA") and "4 times" in r[4] for r in rows)
    exported = list(csv.DictReader(io.StringIO(open(csv_file["value"], encoding="utf-8").read())))
    assert [e["title"] for e in exported] == [r[1].split(" (")[0] for r in rows]
    md = open(md_file["value"], encoding="utf-8").read()
    assert len(re.findall(r"^\| \[\d+\] \|", md, re.MULTILINE)) == len(rows)


def test_a_question_the_corpus_cannot_answer_shows_no_table(tab):
    rows, count, csv_file, _ = tab.run("Which papers breed drought-resistant sorghum for Sahel farmers?")
    assert rows == [] and "does not contain" in count and csv_file["visible"] is False
