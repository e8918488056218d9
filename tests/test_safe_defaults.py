"""Safe defaults (issue 8, part 7): the app binds 127.0.0.1, asks for a login when bound elsewhere, and secrets
(the OpenAI key, the Chroma token, the app password) never appear in logs, errors, the page or eval reports.

Secrets are canaries; a real local HTTP server plays the LLM endpoint and echoes the key back in its errors
(as OpenAI's own 401 does, partly), so a message that passed a server's words on would show it.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from testing.scripted_http import SSE, delta, events, finished, scripted_server

KEY = "sk-canary-4d9e2b7a1c3f5e6d"
TOKEN = "chroma-canary-0a1b2c3d"
PASSWORD = "pw-canary-9z8y7x"


def echo_key(status: int):
    """A reply that quotes the request's Authorization header back in an HTTP error (as OpenAI's 401 partly does)."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        said = handler.headers.get("authorization", "")
        payload = json.dumps({"error": {"message": f"Incorrect API key provided: {said}",
                                        "type": "invalid_request_error"}}).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    return reply


def echoing_server(mode: str) -> ThreadingHTTPServer:
    """An OpenAI-compatible endpoint serving model 'm' that answers '401' / '500' with the key quoted back, or
    ('ok') streams an answer that cites [1]."""
    ok = (200, SSE, events(delta("The sources describe it [1]."), finished()))
    httpd, _ = scripted_server([ok if mode == "ok" else echo_key(int(mode))], models=["m"])
    return httpd


@pytest.fixture
def endpoint():
    started: list[ThreadingHTTPServer] = []

    def start(mode: str) -> str:
        httpd = echoing_server(mode)
        started.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1"

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def secret_env(url: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": url, "RAG_LLM_MODEL": "m", "RAG_LLM_RETRIES": "0",
            "RAG_LLM_TIMEOUT": "10", "RAG_CHROMA_TOKEN": TOKEN, "RAG_APP_AUTH": f"alice:{PASSWORD}"}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (KEY, TOKEN, PASSWORD):
            assert secret not in text, f"{secret} leaked: ...{text[max(0, text.find(secret) - 80):][:160]}..."


# --------------------------------------------------------------------------- binding and login


def test_serving_beyond_loopback_without_a_login_is_refused(cli, tmp_path):
    r = cli("serve", "--host", "0.0.0.0", "--port", "1", home=tmp_path / "home")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "without a login" in r.stderr and "RAG_APP_AUTH" in r.stderr and "--no-auth" in r.stderr


def test_malformed_login_setting_is_refused_without_echoing_it(cli, tmp_path):
    r = cli("serve", "--host", "0.0.0.0", home=tmp_path / "home", env={"RAG_APP_AUTH": PASSWORD})
    assert r.returncode == 1 and "RAG_APP_AUTH must be 'user:password'" in r.stderr
    assert_no_secret(r.stdout, r.stderr)


def listening(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on port (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(addr)
    return found


@pytest.fixture(scope="module")
def guarded_app(start_app, full_settings, tmp_path_factory):
    """`rag serve` with its default host, a login, and a key, a token and an unreachable LLM in its environment."""
    log = tmp_path_factory.mktemp("guarded") / "serve.log"
    env = secret_env("http://127.0.0.1:9/v1")
    env.pop("RAG_CHROMA_TOKEN")  # the embedded store: a token would not be used (it is tested on eval below)
    server = start_app(full_settings.home, log, env=env)
    yield server, log
    server.stop()


def test_default_bind_is_loopback_only(guarded_app):
    server, _ = guarded_app
    assert listening(server.port) == {"0100007F"}  # 127.0.0.1 and nothing else (not 0.0.0.0, not ::)


def test_login_is_required_and_works(guarded_app):
    from gradio_client import Client

    server, log = guarded_app
    page = httpx.get(server.url + "/config", timeout=30)
    assert page.status_code in (401, 403) or '"auth_required":true' in page.text.replace(" ", "")
    with pytest.raises(Exception):
        Client(server.url, verbose=False).predict("What is PagedAttention?", api_name="/ask")
    client = Client(server.url, verbose=False, auth=("alice", PASSWORD))
    out = client.predict("What is PagedAttention?", 0, "", "", "extractive", api_name="/ask")  # the LLM is down
    assert out["done"] and out["citations"]
    assert_no_secret(page.text, json.dumps(out), log.read_text())


def test_llm_error_in_the_app_shows_no_key(guarded_app):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    server, log = guarded_app
    client = Client(server.url, verbose=False, auth=("alice", PASSWORD))
    with pytest.raises(AppError) as e:
        client.predict("What is PagedAttention?", 0, "", "", "llm", api_name="/ask")
    assert "cannot reach the LLM" in str(e.value) or "Cannot reach the LLM" in str(e.value)
    session = httpx.Client(timeout=30)
    session.post(server.url + "/login", data={"username": "alice", "password": PASSWORD})
    html = session.get(server.url + "/").text + session.get(server.url + "/config").text
    assert "127.0.0.1:9" in html  # the page names the LLM it would use (so this text is the real page)
    assert_no_secret(str(e.value), html, log.read_text())


# --------------------------------------------------------------------------- CLI errors and eval reports


@pytest.mark.parametrize("mode", ["401", "500"])
def test_cli_errors_never_show_the_key(cli, full_settings, endpoint, mode):
    r = cli("ask", "--llm", "What is PagedAttention?", home=full_settings.home, env=secret_env(endpoint(mode)))
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert_no_secret(r.stdout, r.stderr)


def test_eval_reports_never_show_secrets(cli, full_settings, endpoint, tmp_path):
    src = Path(__file__).resolve().parent.parent / "eval" / "questions.jsonl"
    questions = tmp_path / "two.jsonl"
    questions.write_text("".join(src.read_text().splitlines(keepends=True)[:2]))
    report, html = tmp_path / "report.json", tmp_path / "report.html"
    r = cli("eval", "--llm", "--index", "current", "--questions", questions, "--json", report, "--html", html,
            home=full_settings.home, env=secret_env(endpoint("ok")), timeout=600)
    assert report.exists() and html.exists(), r.stderr
    assert_no_secret(r.stdout, r.stderr, report.read_text(), html.read_text())
    r = cli("eval", "--llm", "--index", "current", "--questions", questions, home=full_settings.home,
            env=secret_env(endpoint("500")), timeout=600)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert_no_secret(r.stdout, r.stderr)
