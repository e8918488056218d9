"""Bad questions (issue 8, part 3): empty, 100k characters, control characters and odd Unicode, a huge history.

Each gets a clear message or a sensible answer, never a traceback: in-process on the shared real index,
through the real `rag` CLI, and through the running app's /ask endpoint.
"""

from __future__ import annotations

import json

import pytest

from rag.answer.answerer import HISTORY_TURNS, Answerer
from rag.answer.question import QuestionError, prepare
from rag.types import Citation, Turn

VLLM_TITLE = "Efficient Memory Management for Large Language Model Serving with PagedAttention"
VLLM_Q = "How does vLLM use PagedAttention to reduce KV cache memory waste?"
FILLER = ("Large language models are trained on web text and evaluated on many benchmarks, with results that "
          "depend on data, scale and the choice of tokenizer. ")


@pytest.fixture(scope="module")
def answerer(full_settings):
    return Answerer(full_settings)


def same(a, b) -> bool:
    """Two answers say the same thing with the same citations (timings aside)."""
    return a.text == b.text and [c.paper_id for c in a.citations] == [c.paper_id for c in b.citations]


@pytest.mark.parametrize("question", ["", "   ", "\n\t  \r\n", "\x00\x01\x1b[31m"[:3], "\u200b\u202e\u2066\ufeff"])
def test_empty_or_invisible_question_is_a_clear_error(answerer, question):
    with pytest.raises(QuestionError) as e:
        answerer.ask(question)
    assert "the question is empty" in e.value.message and e.value.hint


def test_hundred_thousand_characters_are_fitted_with_a_notice(answerer, full_settings):
    """A pasted text with the question at its end: its start and its end are kept and answered, cited."""
    pasted = (FILLER * 800)[:100_000 - len(VLLM_Q) - 1] + " " + VLLM_Q
    assert len(pasted) == 100_000
    a = answerer.ask(pasted)
    assert a.abstained or a.citations
    assert {c.paper_id for c in a.citations} <= {s.paper_id for s in a.sources}
    assert len(a.notices) == 1 and "100,000 characters" in a.notices[0]
    assert f"RAG_MAX_QUESTION_TOKENS={full_settings.max_question_tokens}" in a.notices[0]
    assert a.question.endswith(VLLM_Q) and len(a.question) < 5_000


def test_long_question_keeps_its_start_and_end_within_the_budget():
    from rag.text.llm_tokens import count_tokens

    q = prepare("START " + FILLER * 200 + " END?", max_tokens=64)
    assert q.text.startswith("START") and q.text.endswith("END?") and " … " in q.text
    assert count_tokens(q.text) <= 64 + 4  # the joint may re-tokenise into a few more tokens
    assert prepare("short question?", max_tokens=64).notices == []


@pytest.mark.parametrize("blob", ["a" * 100_000, "9" * 100_000, "日本語" * 33_000, "x " * 50_000])
def test_hundred_thousand_characters_of_one_kind(answerer, blob):
    """Long tokens ("aaaa…") fit the token budget in few tokens but many characters: still answered."""
    a = answerer.ask(blob)
    assert (a.abstained or a.citations) and a.notices and len(a.question) <= 3_000 + 3


def test_control_characters_and_odd_unicode_give_the_clean_answer(answerer):
    clean = answerer.ask(VLLM_Q)
    odd = "How does v\x00LLM use Paged\u200bAttention\x07 to reduce \u202eKV cache\u202c memory waste?\ud800"
    a = answerer.ask(odd)
    assert a.question == VLLM_Q and same(a, clean)
    assert a.notices and "removed from the question" in a.notices[0]
    json.dumps(a.to_dict()).encode("utf-8")  # printable: no lone surrogate left


def test_full_width_letters_are_folded(answerer):
    a = answerer.ask("How does ｖＬＬＭ use ＰａｇｅｄＡｔｔｅｎｔｉｏｎ to reduce KV cache memory waste?")
    assert a.citations[0].title == VLLM_TITLE and a.question == VLLM_Q


@pytest.mark.parametrize("question", ["🧪🔬 What is PagedAttention? 👩‍🔬", "Что такое PagedAttention в vLLM?",
                                      "PagedAttention とは何ですか", "∀x ∃y: x ≤ y ⇒ PagedAttention?"])
def test_other_scripts_and_symbols_are_answered(answerer, question):
    a = answerer.ask(question)
    assert a.abstained or a.citations  # an answer or the nearest papers, never an exception
    assert a.question.strip() and "\ufffd" not in a.question


def test_very_long_history_costs_only_its_last_turns(answerer):
    """10,000 earlier turns with 50,000-character answers: the follow-up is answered exactly as with the
    last few turns alone, and the history sent anywhere is bounded."""
    first = answerer.ask(VLLM_Q)
    junk = Turn("an old question " * 10, "x" * 50_000, [Citation(1, "p-unknown", "Unknown")])
    history = [junk] * 10_000 + [first]
    follow = answerer.ask("what about [1]?", history)
    short = answerer.ask("what about [1]?", [first])
    assert same(follow, short) and follow.citations[0].paper_id == first.citations[0].paper_id
    assert HISTORY_TURNS <= 10


def test_history_with_empty_or_invisible_questions_is_skipped(answerer):
    first = answerer.ask(VLLM_Q)
    a = answerer.ask("what about [1]?", [Turn("\x00 \u200b", "", []), first])
    assert a.citations[0].paper_id == first.citations[0].paper_id


# --------------------------------------------------------------------------- the CLI


def test_cli_empty_question_is_one_line_exit_1(cli, full_settings):
    r = cli("ask", "  ", home=full_settings.home)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: the question is empty") and "hint:" in r.stderr


def test_cli_huge_question_answers_with_a_note(cli, full_settings):
    """About 100k characters in one argument (Linux allows 128 KiB per argument)."""
    pasted = (FILLER * 700)[:100_000 - len(VLLM_Q)] + VLLM_Q
    r = cli("ask", "--json", pasted, home=full_settings.home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["question"].endswith(VLLM_Q) and "characters" in out["notices"][0]
    r = cli("ask", pasted, home=full_settings.home)
    assert r.returncode == 0 and "note: the question was" in r.stderr


def test_cli_invalid_utf8_in_argv(cli, full_settings):
    """Bytes that are not UTF-8 arrive as lone surrogates; they are removed, not printed (which would crash)."""
    # a bare environment: PATH only, no locale variables
    r = cli("ask", b"What is \xff\xfe PagedAttention in vLLM?", home=full_settings.home,
            env={"PATH": "/usr/bin:/bin"}, inherit=False, text=False)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0, err
    assert "Traceback" not in err and "Sources:" in r.stdout.decode("utf-8")


# --------------------------------------------------------------------------- the app's API


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_api_huge_question_and_history(client):
    first = client.predict(FILLER * 700 + VLLM_Q, api_name="/ask")
    assert first["done"] and first["question"].endswith(VLLM_Q) and first["notices"]
    first = client.predict(VLLM_Q, api_name="/ask")
    history = [{"question": "old " * 50, "answer": "y" * 2_000, "citations": []}] * 300 + [first]
    follow = client.predict("what about [1]?", 0, "", "", "", history, api_name="/ask")
    assert follow["citations"][0]["paper_id"] == first["citations"][0]["paper_id"]


@pytest.mark.parametrize("history", ["not a list", [{"answer": "no question"}], [{"question": "q", "citations": [{}]}]])
def test_api_malformed_history_is_a_clear_error(client, history):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="(?i)history"):
        client.predict("what about [1]?", 0, "", "", "", history, api_name="/ask")
