"""`rag ask` and `rag chat` as real subprocesses on the shared index of the real seeds (read-only)."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest


VLLM_TITLE = "Efficient Memory Management for Large Language Model Serving with PagedAttention"
VLLM_Q = "How does vLLM use PagedAttention to reduce KV cache memory waste?"
# The answer mode must not depend on the developer's shell: no LLM configured means offline.
NO_LLM = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


@pytest.fixture(scope="module")
def home(full_settings):
    return full_settings.home


def test_ask_json(cli, home):
    proc = cli("ask", VLLM_Q, "--json", home=home, env=NO_LLM)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert len(proc.stdout.strip().splitlines()) == 1
    out = json.loads(proc.stdout)
    assert {"answer", "abstained", "citations", "timings_ms", "usage"} <= set(out)
    assert out["mode"] == "extractive" and out["abstained"] is False
    assert out["citations"] and out["citations"][0]["title"] == VLLM_TITLE
    for c in out["citations"]:
        assert {"n", "paper_id", "title"} <= set(c) and isinstance(c["n"], int)
        assert f"[{c['n']}]" in out["answer"]
    assert {"retrieve", "generate", "total"} <= set(out["timings_ms"])
    assert out["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "counted_by": "none", "total_tokens": 0}


def test_ask_streams_text_then_sources(cli, home):
    proc = cli("ask", VLLM_Q, "--offline", home=home)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    text, _, sources = proc.stdout.partition("\nSources:\n")
    assert "[1]" in text and sources
    assert sources.splitlines()[0].startswith(f"  [1] {VLLM_TITLE}")
    assert "[extractive: retrieval" in proc.stderr


def test_ask_empty_question(cli, home):
    proc = cli("ask", "", home=home, env=NO_LLM)
    assert proc.returncode == 1
    no_traceback(proc)
    assert proc.stderr.startswith("error:") and "empty" in proc.stderr and "\nhint:" in proc.stderr
    assert proc.stdout == ""


def test_ask_out_of_domain_abstains(cli, home):
    proc = cli("ask", "What is the best banana bread recipe?", home=home, env=NO_LLM)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert "The corpus does not contain an answer" in proc.stdout and "615 papers" in proc.stdout
    assert "The nearest papers are:" in proc.stdout and proc.stdout.count("\n- ") >= 1
    assert "Sources:" not in proc.stdout


def test_chat_two_turns(cli, home):
    proc = cli("chat", home=home, env=NO_LLM, input=f"{VLLM_Q}\nWhat about [1]?\n/quit\n")
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert "615 papers" in proc.stderr
    assert proc.stdout.count("you> ") == 3  # two questions answered, then /quit
    assert proc.stdout.count("\nSources:\n") == 2
    first, second = proc.stdout.split("\nSources:\n")[:2]
    assert "[1]" in first and "[1]" in second.split("you> ")[-1]
    assert proc.stderr.count("[extractive: retrieval") == 2


def test_chat_goes_on_after_an_error_and_ends_at_eof(cli, home):
    proc = cli("chat", home=home, env=NO_LLM, input=f"\x01\x02\u200b\n{VLLM_Q}\n")  # no /quit: stdin just ends
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert "error: the question is empty (it had only control or invisible characters)" in proc.stderr
    assert proc.stdout.count("\nSources:\n") == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nothing listens there


def test_ask_llm_unreachable(cli, home):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    proc = cli("ask", VLLM_Q, "--llm", home=home,
               env={"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "", "RAG_LLM_RETRIES": "0", "RAG_LLM_TIMEOUT": "2"})
    assert proc.returncode == 1
    no_traceback(proc)
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error:") and url in lines[0] and "cannot reach" in lines[0]
    assert lines[1].startswith("hint:") and "--offline" in lines[1]
    assert len(lines) == 2
    assert "[answer incomplete]" not in proc.stdout


def test_ask_llm_and_offline_exclude_each_other(cli, home):
    proc = cli("ask", VLLM_Q, "--llm", "--offline", home=home)
    assert proc.returncode == 1
    no_traceback(proc)
    assert "exclude each other" in proc.stderr


def test_ask_says_when_the_abstract_does_not_state_the_fact_asked(cli, home):
    proc = cli("ask", "How many GPUs were used to train StructLM?", home=home, env=NO_LLM)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    note = out.index("Note: The abstract of “StructLM")  # said on stdout, with the answer, before its sources
    assert "does not state “How many GPUs were used to train StructLM”" in out and note < out.index("Sources:")
