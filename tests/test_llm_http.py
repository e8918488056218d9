"""rag.llm.client against a real (tiny) HTTP server on 127.0.0.1: the openai client's retries and error mapping.

The server is testing/scripted_http.py's (http.server in a thread); the client under test is the real
openai.OpenAI that `make_client` builds from OPENAI_BASE_URL and the retry/timeout settings. Nothing here
depends on the machine's speed: waits are read from what the client says it waits (its log) and checked
against the server's clock only from below; a hang is told from a timeout by the server still holding it.
"""

from __future__ import annotations

import json
import logging
from http.server import ThreadingHTTPServer
import time
from typing import Callable, Iterator

import pytest

from rag.llm.client import LLM, LLMError, StreamEnd
from rag.types import Usage
from testing.scripted_http import (
    GAVE_UP, GOOD, JSON, MALFORMED, QUESTION, RATE_LIMITED, RATE_LIMITED_NO_WAIT, RELEASE, Script, completion,
    good_stream, scripted_server,
)
from testing.seeds import make_settings, small_seeds

MESSAGES = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def server(monkeypatch) -> Iterator[Callable[[Script], list[dict]]]:
    """server(script) starts a local server answering POSTs from script; returns the list of requests it saw."""
    started: list[ThreadingHTTPServer] = []

    def start(script: Script, models: list[str] | None = None) -> list[dict]:
        httpd, seen = scripted_server(script, models)
        started.append(httpd)
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{httpd.server_address[1]}/v1")
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        return seen

    RELEASE.clear()
    GAVE_UP.clear()
    yield start
    RELEASE.set()
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def test_rate_limit_is_retried(server, tmp_path):
    seen = server([RATE_LIMITED, RATE_LIMITED, (200, JSON, completion("Hello [1]."))])
    text, usage = LLM(make_settings(tmp_path, llm_retries=2, llm_timeout=5)).complete(MESSAGES)
    assert (text, usage) == ("Hello [1].", Usage(9, 2, "server"))
    assert len(seen) == 3
    assert all(r["path"] == "/v1/chat/completions" for r in seen)
    assert seen[0]["body"]["messages"] == MESSAGES and seen[0]["body"]["model"] == "gpt-4o-mini"


def test_rate_limit_without_retries_raises(server, tmp_path):
    seen = server([RATE_LIMITED, (200, JSON, completion("too late"))])
    with pytest.raises(LLMError) as err:
        LLM(make_settings(tmp_path, llm_retries=0, llm_timeout=5)).complete(MESSAGES)
    assert len(seen) == 1
    assert "rate-limiting" in err.value.message and "127.0.0.1" in err.value.message
    assert "--offline" in err.value.hint


def test_retries_run_out(server, tmp_path):
    seen = server([RATE_LIMITED])
    with pytest.raises(LLMError) as err:
        LLM(make_settings(tmp_path, llm_retries=1, llm_timeout=5)).complete(MESSAGES)
    assert len(seen) == 2 and "rate-limiting" in err.value.message and "1 retries" in err.value.message


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
def test_non_json_body_is_an_llm_error(server, tmp_path, content_type):
    seen = server([(200, {"content-type": content_type}, b"<html><body>Welcome to nginx!</body></html>")])
    with pytest.raises(LLMError) as err:
        LLM(make_settings(tmp_path, llm_retries=0, llm_timeout=5)).complete(MESSAGES)
    assert len(seen) == 1
    message = err.value.message
    assert "127.0.0.1" in message and "\n" not in message and "Traceback" not in message
    assert len(message) < 300
    assert "--offline" in err.value.hint


def test_model_the_server_does_not_list_is_refused_before_asking(server, tmp_path):
    seen = server([(200, JSON, completion("Hello [1]."))], models=["llama3.1:latest", "qwen2.5:7b"])
    with pytest.raises(LLMError) as err:
        LLM(make_settings(tmp_path, llm_model="mistral", llm_retries=0)).complete(MESSAGES)
    assert "no model 'mistral' (it serves llama3.1:latest, qwen2.5:7b)" in err.value.message
    assert "RAG_LLM_MODEL" in err.value.hint and not seen
    # Ollama serves "llama3.1" as "llama3.1:latest"
    assert LLM(make_settings(tmp_path, llm_model="llama3.1", llm_retries=0)).complete(MESSAGES)[0] == "Hello [1]."


def test_server_error_is_reported(server, tmp_path):
    seen = server([(500, JSON, b'{"error": {"message": "model crashed"}}')])
    with pytest.raises(LLMError) as err:
        LLM(make_settings(tmp_path, llm_retries=0, llm_timeout=5)).complete(MESSAGES)
    assert len(seen) == 1
    assert "HTTP 500" in err.value.message and "model crashed" in err.value.message


def test_streamed_reply_over_http(server, tmp_path):
    def sse(*events: dict) -> bytes:
        return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"

    base = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini"}
    body = sse(*[{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
                 for p in ["Hel", "lo ", "[1]."]],
               {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
               {**base, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}})
    seen = server([(200, {"content-type": "text/event-stream"}, body)])
    items = list(LLM(make_settings(tmp_path, llm_retries=0, llm_timeout=5)).stream(MESSAGES))
    assert items == ["Hel", "lo ", "[1].", StreamEnd(Usage(9, 3, "server"), "length")] and items[-1].truncated
    assert seen[0]["body"]["stream"] is True and seen[0]["body"]["stream_options"] == {"include_usage": True}


def test_stream_that_dies_mid_way_over_http(server, tmp_path):
    base = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini"}
    events = b"".join(b"data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {"content": p},
                                                                  "finish_reason": None}]}).encode() + b"\n\n"
                      for p in ["The answer ", "is that "])
    # the server promises more than it sends, then closes the connection
    server([(200, {"content-type": "text/event-stream", "content-length": str(len(events) + 500)}, events)])
    got: list[object] = []
    with pytest.raises(LLMError) as err:
        for item in LLM(make_settings(tmp_path, llm_retries=0, llm_timeout=5)).stream(MESSAGES):
            got.append(item)
    assert got == ["The answer ", "is that "]
    assert "broke off after 19 characters" in err.value.message
    assert "\n" not in err.value.message and "incomplete" in err.value.hint and "--offline" in err.value.hint


# --------------------------------------------------------------------------- backoff

@pytest.fixture
def waits(caplog) -> Callable[[], list[float]]:
    """waits() -> the seconds the openai client said it would wait before each retry (its own log line,
    "Retrying request to URL in S seconds"), so a test checks the backoff exactly, whatever the machine."""
    caplog.set_level(logging.INFO, logger="openai._base_client")

    def read() -> list[float]:
        return [float(r.args[1]) for r in caplog.records
                if r.name == "openai._base_client" and r.msg.startswith("Retrying request")]

    return read


def gaps(seen: list[dict]) -> list[float]:
    """Seconds between the requests the server received (never less than what the client waited)."""
    return [b["t"] - a["t"] for a, b in zip(seen, seen[1:])]


def test_backoff_grows_and_llm_retries_bounds_the_count(server, tmp_path, waits):
    # no Retry-After: openai waits 0.5 s * 2**n, less up to 25% jitter
    script: Script = [RATE_LIMITED_NO_WAIT]
    seen = server(script)
    llm = LLM(make_settings(tmp_path, llm_retries=3, llm_timeout=5))
    with pytest.raises(LLMError) as err:
        llm.complete(MESSAGES)
    assert len(seen) == 4  # the first request and RAG_LLM_RETRIES=3 retries, no more
    assert "still after 3 retries" in err.value.message and "it asks" not in err.value.message
    asked = waits()
    assert len(asked) == 3, asked
    for n, wait in enumerate(asked):
        assert 0.5 * 2**n * 0.75 <= wait <= 0.5 * 2**n, asked  # ranges [0.375,0.5], [0.75,1], [1.5,2]
    assert asked[2] > asked[1] > asked[0], asked
    assert all(gap >= wait for gap, wait in zip(gaps(seen), asked)), (gaps(seen), asked)  # it really waited

    script[:] = [(200, JSON, completion("Hello [1]."))]  # the rate limit lifts: the same client answers
    assert llm.complete(MESSAGES)[0] == "Hello [1]." and len(seen) == 5


def test_retry_after_is_honoured(server, tmp_path, waits):
    limited = (429, {**JSON, "retry-after": "1"}, RATE_LIMITED[2])
    seen = server([limited, limited, (200, JSON, completion("Hello [1]."))])
    assert LLM(make_settings(tmp_path, llm_retries=2, llm_timeout=5)).complete(MESSAGES)[0] == "Hello [1]."
    assert waits() == [1.0, 1.0]  # backoff alone would wait at most 0.5 s before the first retry
    assert len(gaps(seen)) == 2 and all(gap >= 0.98 for gap in gaps(seen)), gaps(seen)


def test_rate_limit_error_says_how_long_the_server_asks_to_wait(server, tmp_path, waits):
    # openai never waits longer than 2 minutes: a longer Retry-After fails at once, and says so
    seen = server([(429, {**JSON, "retry-after": "300"}, RATE_LIMITED[2])])
    with pytest.raises(LLMError) as err:
        LLM(make_settings(tmp_path, llm_retries=2, llm_timeout=5)).complete(MESSAGES)
    assert len(seen) == 1 and waits() == []  # it did not wait at all
    assert "still after 0 retries; it asks to wait 300 s" in err.value.message
    assert err.value.hint.startswith("wait 300 s")


# --------------------------------------------------------------------------- malformed and stalled streams

@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    """Five hand-made papers ingested into a home of their own: (settings, Retriever)."""
    from rag.ingestion.pipeline import ingest
    from rag.search.retriever import Retriever

    tmp = tmp_path_factory.mktemp("llm-http")
    small_seeds(tmp / "seeds")
    settings = make_settings(tmp / "home", seeds=tmp / "seeds", llm="openai", llm_retries=0, llm_timeout=1)
    ingest(settings)
    return settings, Retriever(settings)


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_stream_is_an_error_never_an_answer_then_recovers(server, small_index, case):
    from rag.answer.answerer import Answerer
    from rag.types import Answer

    reply, says, partial = MALFORMED[case]
    settings, retriever = small_index
    script: Script = [reply]
    seen = server(script)
    answerer = Answerer(settings, retriever=retriever)
    got: list[object] = []
    t0 = time.monotonic()
    with pytest.raises(LLMError) as err:
        for item in answerer.stream(QUESTION, mode="llm"):
            got.append(item)
    elapsed = time.monotonic() - t0
    assert not GAVE_UP.is_set()  # an error, not a hang: the client gave up while the server still held the request
    assert not any(isinstance(i, Answer) for i in got)  # no final Answer: nothing is presented as complete
    assert len(seen) == 1
    message, hint = err.value.message, err.value.hint
    assert says in message and "127.0.0.1" in message and "\n" not in message and len(message) < 400
    assert "--offline" in hint
    assert bool("".join(got)) == partial
    if partial:
        assert "the answer broke off after" in message and "incomplete" in hint
    if "hang" in case:
        assert 0.9 <= elapsed, elapsed  # it waited RAG_LLM_TIMEOUT=1 s (a floor: true on any machine)

    script[:] = [good_stream()]  # the fault clears: the same Answerer answers, complete and cited
    answer = answerer.ask(QUESTION, mode="llm")
    assert answer.text == GOOD and not answer.truncated and not answer.abstained
    assert [c.title for c in answer.citations] == ["Quokka Population Dynamics on Rottnest Island"]


def test_cli_marks_a_broken_answer_incomplete_then_answers(cli, server, small_index):
    settings, _ = small_index
    script: Script = [MALFORMED["no [DONE] and no finish_reason"][0]]
    server(script)
    env = {"RAG_LLM_RETRIES": "0", "RAG_LLM_TIMEOUT": "5", "RAG_SEEDS": str(settings.seeds)}
    proc = cli("ask", QUESTION, "--llm", home=settings.home, env=env)
    assert proc.returncode == 1
    assert proc.stdout == "Quokka numbers rose\n[answer incomplete]\n"  # the filter holds a trailing space
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: the answer broke off after 20 characters: the LLM at http://127.0.0.1:")
    assert lines[1].startswith("hint: the partial answer above is incomplete") and len(lines) == 2

    script[:] = [good_stream()]
    proc = cli("ask", QUESTION, "--llm", home=settings.home, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(GOOD + "\n\nSources:\n  [1] Quokka Population Dynamics on Rottnest Island")
    assert "[answer incomplete]" not in proc.stdout
