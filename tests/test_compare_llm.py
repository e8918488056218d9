"""The LLM half of comparison tables (rag/answer/compare_llm.py): the model writes the cells, and a cell is kept only
when the sentence of its own paper's abstract it quotes backs it (numbers by value, key words); anything else keeps
the extracted sentence. Hand-written replies through a fake of the real LLM interface (its `complete` overridden);
the real llama.cpp model is tested in tests/test_llm_local.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest

from rag.answer.compare import COLUMNS, Comparison, Row, cells, compare
from rag.answer.compare_llm import check_cell, fill
from rag.config import Settings
from rag.llm.client import LLM, LLMError
from rag.text.sentences import split_sentences
from rag.types import Usage
from testing.fakes import ScriptedClient, connection_error, status_error

FOO = ("Large models are costly to serve. We propose FooNet, a sparse router for mixture-of-experts layers. "
       "We evaluate it on the GLUE and SuperGLUE benchmarks. "
       "FooNet reaches 87.3% accuracy and a 2.5x speedup over dense baselines.")
BAR = ("Long documents overwhelm retrieval. This paper introduces BarRAG, a retriever that reads tables. "
       "Experiments use the TabFact and WikiTQ datasets. BarRAG answers 61.2% of questions, 9 points above BM25.")
ABSTRACTS = {1: FOO, 2: BAR}


class FakeLLM(LLM):
    """The LLM interface with a scripted `complete`: a reply text, a function of the messages, or an error."""

    def __init__(self, reply: str | Callable[[list[dict[str, str]]], str] | Exception) -> None:
        super().__init__(Settings(_env_file=None, llm_model="fake-model"), client=object())
        self.reply = reply
        self.calls: list[list[dict[str, str]]] = []

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None,
                 extra: dict[str, Any] | None = None) -> tuple[str, Usage]:
        self.calls.append(messages)
        if isinstance(self.reply, Exception):
            raise self.reply
        return (self.reply(messages) if callable(self.reply) else self.reply), Usage(0, 0, "tiktoken")


def table() -> Comparison:
    return Comparison("q", [Row(n, f"p{n}", f"Paper {n}", None, **cells(a)) for n, a in ABSTRACTS.items()], 2)


def reply(*rows: dict[str, Any]) -> str:
    return json.dumps({"rows": list(rows)})


def row(n: Any, **cells: Any) -> dict[str, Any]:
    return {"n": n, **cells}


def run(text: str | Exception, **kw: Any) -> Comparison:
    return fill(table(), ABSTRACTS, FakeLLM(text), kw.get("max_tokens", 400), kw.get("window", 4096))


def reasons(t: Comparison) -> dict[tuple[int, str], str]:
    return {(r["n"], r["column"]): r["reason"] for r in t.rejected}


def test_a_backed_cell_is_kept_with_its_sentence_and_origin():
    t = run(reply(row(1, proposes={"text": "FooNet, a sparse router for experts", "sentence": 2},
                      results={"text": "87.3% accuracy, 2.5x speedup", "sentence": 4},
                      setting={"text": "GLUE and SuperGLUE", "quote": "We evaluate it on the GLUE and SuperGLUE benchmarks."}),
                  row(2, proposes={"text": "BarRAG, a retriever reading tables", "sentence": 2},
                      setting={"text": "TabFact and WikiTQ datasets", "sentence": 3},
                      results={"text": "61.2% of questions answered, nine points above BM25", "sentence": 4})))
    foo, bar = t.rows
    assert (foo.proposes.text, foo.proposes.sentence, foo.proposes.origin) == (
        "FooNet, a sparse router for experts", 1, "llm")
    assert foo.results.sentence == 3 and foo.setting.sentence == 2 and foo.setting.origin == "llm"
    assert all(getattr(bar, c).origin == "llm" for c in COLUMNS), t.rejected  # "nine" = "9"
    assert t.mode == "llm" and t.model == "fake-model" and not t.rejected and t.note.startswith("6 of 6 cells")
    out = t.to_dict()
    assert out["rows"][0]["proposes"] == {"text": "FooNet, a sparse router for experts", "sentence": 1, "origin": "llm"}
    assert out["rejected"] == [] and out["mode"] == "llm"
    # CSV and Markdown keep their shape, with the kept cells' text
    assert t.to_csv().splitlines()[0] == "n,title,date,proposes,setting,results"
    assert t.to_markdown().splitlines()[2].startswith("| [1] | Paper 1 | FooNet, a sparse router for experts |")


def test_a_number_not_in_its_quoted_sentence_is_rejected():
    offline = table().rows[0].results
    t = run(reply(row(1, results={"text": "88.3% accuracy and a 2.5x speedup", "sentence": 4},
                      setting={"text": "GLUE, 4 tasks", "sentence": 3},
                      proposes={"text": "FooNet scores 87.3%", "sentence": 2})))
    r = reasons(t)
    assert r[(1, "results")] == "numbers not in S4: 88.3%" and r[(1, "setting")] == "numbers not in S3: 4"
    assert r[(1, "proposes")] == "numbers not in S2: 87.3%"  # in the abstract, but not in the sentence quoted
    assert t.rows[0].results == offline and offline.origin == "extracted"  # the extracted sentence stays
    assert "0 of 6 cells" in t.note and "6 rejected" in t.note


def test_numbers_match_by_value_and_key_words_must_be_in_the_sentence():
    sents = split_sentences("The model serves 1,690,000 requests a day on four GPUs with 7B parameters.")
    assert check_cell({"text": "1.69 million requests a day, 4 GPUs, 7 billion parameters", "sentence": 1}, 1,
                      sents)[1] is not None
    assert check_cell({"text": "1.69 billion requests", "sentence": 1}, 1, sents)[0] == (
        "numbers not in S1: 1.69 billion")
    assert check_cell({"text": "five GPUs", "sentence": 1}, 1, sents)[0] == "numbers not in S1: five"
    assert check_cell({"text": "requests on H100 GPUs", "sentence": 1}, 1, sents)[0] == "numbers not in S1: H100"
    assert check_cell({"text": "The authors serve requests", "sentence": 1}, 1, sents)[1] is not None  # framing
    assert check_cell({"text": "serving latency of requests", "sentence": 1}, 1, sents)[0] == (
        "words not in S1: latency")
    assert check_cell({"text": "requests from users, using GPUs", "sentence": 1}, 1, sents)[0] == (
        "words not in S1: users")  # stop words ("from", "using") are not key words
    # a cell that states nothing checkable (a small model copies the prompt's example "...") is not kept
    assert check_cell({"text": "...", "sentence": 1}, 1, sents)[0] == "no key word or number to check"


def test_a_quote_from_another_papers_abstract_is_rejected():
    """A cell never crosses papers: paper 1's cell quoting paper 2's sentence keeps paper 1's own sentence."""
    t = run(reply(row(1, setting={"text": "TabFact and WikiTQ datasets",
                                  "quote": "Experiments use the TabFact and WikiTQ datasets."}),
                  row(2, setting={"text": "TabFact and WikiTQ", "sentence": 3})))
    assert reasons(t)[(1, "setting")] == "quote from paper [2]'s abstract"
    assert t.rows[0].setting.origin == "extracted" and "GLUE" in t.rows[0].setting.text
    assert t.rows[1].setting.origin == "llm" and t.rows[1].setting.sentence == 2
    assert reasons(t)[(1, "proposes")] == "missing"  # cells the model left out are counted too


def test_a_paper_number_not_in_the_table_is_ignored():
    t = run(reply(row(7, proposes={"text": "FooNet", "sentence": 2}),
                  row(1, proposes={"text": "FooNet, a sparse router", "sentence": 2}),
                  row(1, proposes={"text": "Large models", "sentence": 1})))
    assert [r.n for r in t.rows] == [1, 2]  # the model cannot add a paper
    assert reasons(t)[(7, "proposes")] == "not a paper of the table"
    assert t.rows[0].proposes.text == "FooNet, a sparse router"  # the first row for a paper counts
    assert any(r["reason"] == "a second row for this paper" for r in t.rejected)


def test_a_sentence_number_out_of_range_or_zero_keeps_the_extracted_cell():
    t = run(reply(row(1, proposes={"text": "FooNet", "sentence": 9}, setting={"text": "", "sentence": 0},
                      results="FooNet reaches 87.3% accuracy")))
    r = reasons(t)
    assert r[(1, "proposes")] == "sentence S9 out of range (the abstract has 4)"
    assert r[(1, "setting")] == "empty" and r[(1, "results")] == "no sentence quoted"


@pytest.mark.parametrize("text", [
    'Here is the table:\n```json\n{"rows": [{"n": 1, "proposes": {"text": "FooNet", "sentence": 2}}]}\n```\nDone.',
    '{"rows": [{"n": 1, "proposes": {"text": "FooNet", "sentence": 2}}, {"n": 2, "proposes": {"text": "Bar',  # cut off
    '[{"n": "[1]", "proposes": {"text": "FooNet", "sentence": "S2"}}] and some words after',
], ids=["fenced", "cut-off", "list"])
def test_replies_are_parsed_leniently(text):
    t = run(text)
    assert t.rows[0].proposes.origin == "llm" and t.rows[0].proposes.sentence == 1


@pytest.mark.parametrize("text", ["I cannot help with that.", '{"rows": []}', "{not json at all"])
def test_malformed_json_gives_the_offline_table_and_a_note(text):
    t = run(text)
    assert t.mode == "extractive" and not t.rejected
    assert t.rows == table().rows and all(getattr(r, c).origin == "extracted" for r in t.rows for c in COLUMNS)
    assert t.note.startswith("The LLM could not fill in the table (") and "sent no JSON table" in t.note


def test_an_llm_error_gives_the_offline_table_and_a_note():
    t = run(LLMError("the LLM at http://x did not answer within 5 s", "raise RAG_LLM_TIMEOUT"))
    assert t.mode == "extractive" and t.rows == table().rows
    assert t.note == ("The LLM could not fill in the table (the LLM at http://x did not answer within 5 s): "
                      "every cell is its abstract's own sentence.")


def test_abstracts_that_do_not_fit_the_context_window_are_not_sent():
    llm = FakeLLM(reply(row(1, proposes={"text": "FooNet", "sentence": 2})))
    t = fill(table(), ABSTRACTS, llm, 400, 900)  # room for the instructions and one abstract only
    assert len(llm.calls) == 1 and "BarRAG" not in llm.calls[0][1]["content"]
    assert t.rows[0].proposes.origin == "llm" and "1 papers did not fit" in t.note
    assert {r["n"] for r in t.rejected} == {1}  # paper 2 was not asked: nothing of it is counted as rejected
    nothing = FakeLLM("{}")
    t = fill(table(), ABSTRACTS, nothing, 400, 500)
    assert not nothing.calls and "do not fit" in t.note and t.mode == "extractive"


# --------------------------------------------------------------------------- the request, through the real client

GOOD = reply(row(1, proposes={"text": "FooNet, a sparse router", "sentence": 2}))


def test_the_request_carries_a_json_schema_of_the_tables_rows():
    client = ScriptedClient([GOOD])
    fill(table(), ABSTRACTS, LLM(Settings(_env_file=None), client=client), 400, 4096)
    fmt = client.calls[0]["response_format"]
    assert fmt["type"] == "json_schema"
    rows = fmt["json_schema"]["schema"]["properties"]["rows"]
    assert rows["minItems"] == rows["maxItems"] == 2 and rows["items"]["properties"]["n"]["enum"] == [1, 2]
    prompt = client.messages[0][1]["content"]
    assert '<source n="1" title="Paper 1">\nS1: Large models are costly to serve.\nS2: We propose FooNet' in prompt


def test_a_server_that_rejects_response_format_is_asked_once_more_without_it():
    client = ScriptedClient([status_error(openai.BadRequestError, 400, "response_format is not supported"), GOOD])
    t = fill(table(), ABSTRACTS, LLM(Settings(_env_file=None), client=client), 400, 4096)
    assert "response_format" in client.calls[0] and "response_format" not in client.calls[1]
    assert t.rows[0].proposes.origin == "llm"


@pytest.mark.parametrize("error", [connection_error(), status_error(openai.NotFoundError, 404, "no such model")],
                         ids=["unreachable", "no-model"])
def test_other_server_errors_are_not_retried(error):
    client = ScriptedClient([error, GOOD])
    t = fill(table(), ABSTRACTS, LLM(Settings(_env_file=None, llm_retries=0), client=client), 400, 4096)
    assert len(client.calls) == 1 and t.mode == "extractive" and t.note.startswith("The LLM could not fill")


# --------------------------------------------------------------------------- compare() with an LLM

LORA = "Which papers tackle serving thousands of LoRA adapters that share one base model?"


def first_sentences(messages: list[dict[str, str]]) -> str:
    """A reply that names each paper of the prompt by its first sentence (S1), and gets one number wrong."""
    import re

    out = []
    for n, s1 in re.findall(r'<source n="(\d+)"[^>]*>\nS1: (.*)', messages[1]["content"]):
        words = " ".join(s1.split()[:6])
        out.append(row(int(n), proposes={"text": words, "sentence": 1}, results={"text": "99.9% faster", "sentence": 1}))
    return reply(*out, row(99, proposes={"text": "an invented paper", "sentence": 1}))


@pytest.fixture(scope="module")
def offline_settings(full_settings):
    from testing.seeds import make_settings

    return make_settings(full_settings.home, llm="extractive")


def test_compare_asks_the_llm_by_default_when_one_is_given(offline_settings, retriever):
    from rag.answer.answerer import Answerer

    llm = FakeLLM(first_sentences)
    answerer = Answerer(offline_settings, retriever=retriever, llm=llm)
    assert answerer.default_mode() == "llm"
    offline = compare(answerer, LORA, mode="extractive")
    assert not llm.calls and offline.mode == "extractive" and not offline.note
    table_ = compare(answerer, LORA)
    assert len(llm.calls) == 1 and table_.mode == "llm"
    assert [(r.n, r.paper_id) for r in table_.rows] == [(r.n, r.paper_id) for r in offline.rows]  # the same papers
    for r, o in zip(table_.rows, offline.rows):
        assert r.proposes.origin == "llm" and r.proposes.sentence == 0
        assert r.results == o.results and r.setting == o.setting  # rejected or missing: the extracted cell
    r = reasons(table_)
    assert all(r[(row_.n, "results")] == "numbers not in S1: 99.9%" for row_ in table_.rows)
    assert r[(99, "proposes")] == "not a paper of the table"
    with pytest.raises(Exception, match="unknown compare mode"):
        compare(answerer, LORA, mode="magic")
