"""The chat handler of the page (ui/chat.py) in-process on the shared index: streaming, state, errors.

Outside a request Gradio turns gr.Warning into a Python warning, which is what these tests catch.
"""

from __future__ import annotations

import pytest

from testing.seeds import make_settings
from rag.llm.process import free_port
from ui.backend import OFFLINE, Backend
from ui.chat import CURSOR, make_chat_turn

VLLM_TITLE = "Efficient Memory Management for Large Language Model Serving with PagedAttention"
VLLM_Q = "How does vLLM use PagedAttention to reduce KV cache memory waste?"


@pytest.fixture(scope="module")
def chat_turn(full_settings):
    return make_chat_turn(Backend(full_settings))


def run(chat_turn, question, answers=(), k=5, since="", until="", mode=OFFLINE):
    return list(chat_turn(question, list(answers), k, since, until, mode))


def test_turn_streams_then_fills_sources_and_figures(chat_turn):
    outs = run(chat_turn, VLLM_Q)
    box, chat, _, figures, _ = outs[0]
    assert box == "" and chat[-1]["content"].startswith("Searching") and figures == "searching…"
    streamed = [o[1][-1]["content"] for o in outs[1:-1]]
    assert streamed and all(c.endswith(CURSOR) for c in streamed)  # written piece by piece, cursor at the end
    box, chat, sources, figures, answers = outs[-1]
    assert [m["role"] for m in chat] == ["user", "assistant"] and chat[0]["content"] == VLLM_Q
    assert '<a href="#src-0-1" class="cite">[1]</a>' in chat[1]["content"] and CURSOR not in chat[1]["content"]
    assert 'id="src-0-1"' in sources and VLLM_TITLE in sources and '<mark class="support">' in sources
    assert "offline (extractive) · retrieval" in figures and "0 tokens" in figures
    assert len(answers) == 1 and answers[0].citations[0].title == VLLM_TITLE


def test_follow_up_uses_the_session_answers(chat_turn):
    first = run(chat_turn, "Which methods reduce KV-cache memory?")[-1][4]
    *_, (_, chat, sources, _, answers) = run(chat_turn, "what about [2]?", first)
    assert len(chat) == 4 and len(answers) == 2
    assert answers[1].citations[0].paper_id == first[0].citations[1].paper_id
    assert 'id="src-1-1"' in sources and 'data-turn="0"' in sources


def test_date_range_and_number_of_sources_are_applied(chat_turn):
    answer = run(chat_turn, "Which methods reduce KV-cache memory?", k=2, since="2025-01-01")[-1][4][0]
    assert 0 < len(answer.sources) <= 2 and all(s.date and s.date >= "2025-01-01" for s in answer.sources)


def test_empty_question_warns_and_changes_nothing(chat_turn):
    with pytest.warns(UserWarning, match="The question is empty"):
        outs = run(chat_turn, "   ")
    assert len(outs) == 1  # only skips: the chat, the panel and the state stay as they were
    assert all(type(o).__name__ == "SkipUpdate" or (isinstance(o, dict) and o.get("__type__") == "update")
               for o in outs[0])


def test_bad_date_warns_with_the_format(chat_turn):
    with pytest.warns(UserWarning, match="YYYY-MM-DD"):
        outs = run(chat_turn, VLLM_Q, since="June 2024")
    box, chat, _, _, _ = outs[-1]
    assert box == VLLM_Q and chat == []  # the question is kept for another try; the chat is as it was


def test_no_index_yet_says_run_ingest(tmp_path):
    turn = make_chat_turn(Backend(make_settings(tmp_path / "empty-home")))
    with pytest.warns(UserWarning, match="rag ingest"):
        outs = list(turn(VLLM_Q, [], 5, "", "", OFFLINE))
    assert outs[-1][0] == VLLM_Q and outs[-1][1] == []


def test_llm_down_says_so_and_offers_offline(full_settings, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")  # nothing listens there
    monkeypatch.setenv("OPENAI_API_KEY", "placeholder")
    settings = make_settings(full_settings.home, llm="openai", llm_retries=0, llm_timeout=5)
    backend = Backend(settings)
    llm_label, offline = backend.mode_choices()
    assert llm_label == f"LLM ({settings.llm_model})" and offline == OFFLINE
    turn = make_chat_turn(backend)
    with pytest.warns(UserWarning, match="Choose the offline answer mode"):
        outs = list(turn(VLLM_Q, [], 5, "", "", llm_label))
    assert outs[-1][1] == []
    assert run(turn, VLLM_Q)[-1][4][0].citations  # the offline mode still answers
