"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 (http.server in a thread) and the replies it can send.

Tests and the app's fault tests point OPENAI_BASE_URL at it: the client under test is the real openai.OpenAI.
A script is a list of replies, one per request, in order; the last one repeats. A reply is
(status, headers, body), or a callable(handler) that writes the whole response itself (to hang, or to send in
pieces). A content-length header in headers overrides the real one (a larger one makes a connection that
dies mid-body). A test clears a fault by replacing the script's contents in place (script[:] = [...]).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Union

Reply = Union[tuple[int, dict[str, str], bytes], Callable[[BaseHTTPRequestHandler], None]]
Script = list[Reply]
RELEASE = threading.Event()  # set at teardown: handlers that hang return, so the server can shut down
GAVE_UP = threading.Event()  # set when a hanging handler waited HANG_SECONDS: no client timed out before that
HANG_SECONDS = 30


def completion(text: str) -> bytes:
    """A whole (not streamed) chat completion whose answer is text."""
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
RATE_LIMITED_NO_WAIT = (429, JSON, b'{"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}')


def scripted_server(script: Script, models: list[str] | None = None) -> tuple[ThreadingHTTPServer, list[dict]]:
    """A running local server answering POSTs from script (GET /v1/models lists models, 404 when None);
    returns it and the list of requests it saw. Stop it with .shutdown() and .server_close()."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "me"} for m in models or []]
            payload = json.dumps({"object": "list", "data": data}).encode()
            self.send_response(200 if models is not None and self.path == "/v1/models" else 404)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            seen.append({"path": self.path, "body": json.loads(body), "t": time.monotonic()})
            reply = script[min(len(seen), len(script)) - 1]
            if callable(reply):
                reply(self)
                return
            status, headers, payload = reply
            self.send_response(status)
            for k, v in {"content-length": str(len(payload)), **headers}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return httpd, seen


BASE = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini"}
SSE = {"content-type": "text/event-stream"}
DONE = b"data: [DONE]\n\n"
QUESTION = "What drives quokka population dynamics on Rottnest Island?"
GOOD = "Quokka population dynamics on Rottnest Island were measured with a small analytical model [1]."


def delta(text: object) -> dict:
    """A stream chunk carrying text (or anything else, to test what is not text)."""
    return {**BASE, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


def finished(reason: str = "stop") -> dict:
    """The stream chunk that ends an answer."""
    return {**BASE, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}


def events(*items: dict | bytes) -> bytes:
    """Server-sent events: each item as one `data:` line (bytes as they are, dicts as JSON)."""
    return b"".join(b"data: " + (i if isinstance(i, bytes) else json.dumps(i).encode()) + b"\n\n" for i in items)


def good_stream(text: str = GOOD) -> Reply:
    """A whole, well-formed streamed answer, a word per chunk."""
    words = text.split(" ")
    pieces = [w + " " for w in words[:-1]] + [words[-1]]
    return (200, SSE, events(*map(delta, pieces), finished()) + DONE)


def hang() -> None:
    """Wait for the test's teardown; a client that never times out is found out by GAVE_UP."""
    if not RELEASE.wait(HANG_SECONDS):
        GAVE_UP.set()


def hang_before_first_byte(handler: BaseHTTPRequestHandler) -> None:
    hang()


def hang_mid_stream(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "text/event-stream")
    handler.end_headers()
    handler.wfile.write(events(delta("Quokka numbers "), delta("rose ")))
    handler.wfile.flush()
    hang()


# case -> (the server's reply, words the error says, whether text was streamed before the fault)
MALFORMED: dict[str, tuple[Reply, str, bool]] = {
    "a data line that is not JSON": ((200, SSE, events(delta("Quokka numbers "), b"{'content': oops")),
                                     "could not be read (JSONDecodeError", True),
    "chunks without choices": ((200, SSE, events({**BASE}, {**BASE, "object": "x"}) + DONE),
                               "ended the stream without finishing the answer", False),
    "no [DONE] and no finish_reason": ((200, SSE, events(delta("Quokka numbers "), delta("rose "))),
                                       "ended the stream without finishing the answer", True),
    # what llama-cpp-python's server sent when another request interrupted a running stream
    "[DONE] without a finish_reason": ((200, SSE, events(delta("Quokka numbers "), delta("rose ")) + DONE),
                                       "ended the stream without finishing the answer", True),
    "an error object in a 200 stream": ((200, SSE, events(delta("Quokka "), {"error": {
        "message": "model overloaded", "type": "server_error"}})), "reported an error: model overloaded", True),
    "an error object as the whole 200 stream": ((200, SSE, events({"error": {"message": "CUDA out of memory"}})),
                                                "reported an error: CUDA out of memory", False),
    "a delta that is not text": ((200, SSE, events(delta(42), finished()) + DONE), "streamed a int as text", False),
    "a huge single delta": ((200, SSE, events(delta("Quokka "), delta("numbers rose. " * 300_000), finished()) + DONE),
                            "sent more than 32768 characters", True),
    "a hang before the first byte": (hang_before_first_byte, "did not answer within 1 s", False),
    "a hang mid-stream": (hang_mid_stream, "sent nothing for 1 s while streaming its answer", True),
}
