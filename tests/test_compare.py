"""Comparison tables (rag/answer/compare.py, `rag compare`): one row per cited paper, every cell a sentence of
that paper's own abstract."""

from __future__ import annotations

import csv
import io
import json

import pytest

from rag.answer.compare import cells, compare
from rag.answer.extractive import third_person
from rag.text.sentences import split_sentences

LORA = "Which papers tackle serving thousands of LoRA adapters that share one base model?"
LORA_GOLD = {"S-LoRA: Serving Thousands of Concurrent LoRA Adapters",
             "Compress then Serve: Serving Thousands of LoRA Adapters with Little Overhead"}


def test_each_role_gets_its_own_sentence():
    abstract = ("Large models are costly to serve. We propose FooNet, a sparse router for experts. "
                "We evaluate it on the GLUE and SuperGLUE benchmarks. "
                "FooNet reaches 87.3% accuracy and a 2.5x speedup over dense baselines.")
    got = cells(abstract)
    assert got["proposes"].text == "The authors propose FooNet, a sparse router for experts."
    assert got["setting"].sentence == 2 and "GLUE" in got["setting"].text
    assert got["results"].sentence == 3
    assert cells("A survey of things. Nothing is measured here.")["results"].text == ""  # empty, not borrowed


def test_the_question_picks_among_sentences_of_one_role():
    """An abstract that proposes, measures and evaluates two things: the question's words say which sentence of
    each role its row shows; without a question, the first contribution and the most measured sentence."""
    from rag.text.terms import question_terms

    abstract = ("We observe that serving presents opportunities. We present Bolt, a scheduler for LoRA adapters. "
                "Bolt reaches 91.07fps on video. Bolt cuts chat latency by 30%. "
                "We evaluate on chat tasks. We also evaluate on video frame tasks.")
    plain = cells(abstract)
    assert plain["proposes"].sentence == 0 and plain["results"].sentence == 3 and plain["setting"].sentence == 4
    asked = cells(abstract, question_terms("Which schedulers serve LoRA adapters, and how fast are they on video frames?"))
    assert asked["proposes"].sentence == 1  # "present ... LoRA adapters", not "presents opportunities"
    assert asked["results"].sentence == 2 and asked["setting"].sentence == 5  # fps is a measure; video frames asked


@pytest.fixture(scope="module")
def answerer(full_settings, retriever):
    from rag.answer.answerer import Answerer
    from testing.seeds import make_settings

    return Answerer(make_settings(full_settings.home, llm="extractive"), retriever=retriever)


def test_every_cell_is_a_sentence_of_its_own_paper(answerer):
    """Cell precision by construction: a cell is its row's abstract sentence (in the third person), never
    another paper's; the rows are the papers the answer cites, here both LoRA-serving papers."""
    table = compare(answerer, LORA)
    assert not table.abstained and LORA_GOLD <= {r.title for r in table.rows}
    for row in table.rows:
        sentences = split_sentences(answerer.retriever.paper(row.paper_id).abstract)
        for role in ("proposes", "setting", "results"):
            cell = getattr(row, role)
            if cell.text:
                assert cell.text == third_person(sentences[cell.sentence]), (row.title, role)
    results = {r.title: r.results.text for r in table.rows}
    assert "4 times" in results["S-LoRA: Serving Thousands of Concurrent LoRA Adapters"]


def test_a_question_the_corpus_cannot_answer_gives_no_rows(answerer):
    table = compare(answerer, "Which papers breed drought-resistant sorghum for Sahel farmers?")
    assert table.abstained and not table.rows and "does not contain" in table.to_markdown()


def test_rag_compare_prints_json_csv_and_markdown(cli, full_settings):
    env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    out = json.loads(cli("compare", LORA, "--json", home=full_settings.home, env=env).stdout)
    assert {r["title"] for r in out["rows"]} >= LORA_GOLD and {"proposes", "setting", "results"} <= set(out["rows"][0])
    rows = list(csv.DictReader(io.StringIO(cli("compare", LORA, "--csv", home=full_settings.home, env=env).stdout)))
    assert {r["title"] for r in rows} >= LORA_GOLD and all(r["n"].isdigit() for r in rows)
    md = cli("compare", LORA, home=full_settings.home, env=env).stdout
    assert md.startswith("| [n] | paper | proposes | task or data | reports |")
    both = cli("compare", LORA, "--json", "--csv", home=full_settings.home, env=env)
    assert both.returncode != 0 and "exclude each other" in both.stderr


def test_rag_compare_offline_and_an_unreachable_llm(cli, full_settings):
    """With an LLM configured the table is the model's, checked; --offline never asks it; an LLM that cannot be
    reached leaves the extracted table, and a note on stderr says so (exit 0)."""
    env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "RAG_LLM_RETRIES": "0"}
    offline = cli("compare", LORA, "--json", "--offline", home=full_settings.home, env=env)
    out = json.loads(offline.stdout)
    assert offline.returncode == 0 and out["mode"] == "extractive" and not out["note"] and "note:" not in offline.stderr
    assert {c["origin"] for r in out["rows"] for c in (r["proposes"], r["setting"], r["results"])} == {"extracted"}
    down = cli("compare", LORA, "--json", home=full_settings.home, env=env)
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["rows"] == out["rows"]
    assert "note: The LLM could not fill in the table (cannot reach the LLM at http://127.0.0.1:9/v1)" in down.stderr
    both = cli("compare", LORA, "--offline", "--llm", home=full_settings.home, env=env)
    assert both.returncode != 0 and "exclude each other" in both.stderr
