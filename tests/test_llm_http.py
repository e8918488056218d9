"""rag.llm against a real (tiny) HTTP server on 127.0.0.1: the openai client's retries and error mapping.

The server is http.server in a thread; the client under test is the real openai.OpenAI that
`make_client` builds from OPENAI_BASE_URL and the retry/timeout settings.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import pytest

from conftest import make_settings
from rag.llm import LLM, LLMError, StreamEnd
from rag.types import Usage

MESSAGES = [{"role": "user", "content": "Say hello."}]

# (status, headers, body) per request, in order; the last one repeats. A content-length header in
# headers overrides the real one (a larger one makes a connection that dies mid-body).
Script = list[tuple[int, dict[str, str], bytes]]


def completion(text: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    }).encode()


JSON = {"content-type": "application/json"}
# retry-after: 0 is what the brief's server sends; openai ignores 0 and falls back to its own backoff
# (0.5 s, 1 s), so retry-after-ms keeps the test fast. Both are headers real servers send.
RATE_LIMITED = (429, {**JSON, "retry-after": "0", "retry-after-ms": "10"},
                b'{"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}')


@pytest.fixture
def server(monkeypatch) -> Iterator[Callable[[Script], list[dict]]]:
    """server(script) starts a local server answering POSTs from script; returns the list of requests it saw."""
    started: list[ThreadingHTTPServer] = []

    def start(script: Script, models: list[str] | None = None) -> list[dict]:
        seen: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  GET /v1/models lists `models` (404 when None)
                data = [{"id": m, "object": "model", "created": 0, "owned_by": "me"} for m in models or []]
                payload = json.dumps({"object": "list", "data": data}).encode()
                self.send_response(200 if models is not None and self.path == "/v1/models" else 404)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                seen.append({"path": self.path, "body": json.loads(body)})
                status, headers, payload = script[min(len(seen), len(script)) - 1]
                self.send_response(status)
                for k, v in {"content-length": str(len(payload)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        started.append(httpd)
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{httpd.server_address[1]}/v1")
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        return seen

    yield start
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
