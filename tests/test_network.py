"""The CLI and the app open no network connection beyond this machine (127.0.0.0/8, ::1, localhost, Unix sockets).

Each child process runs with an audit hook (a sitecustomize.py first on its PYTHONPATH) that logs every socket
connect, sendto, bind and name lookup, whichever library makes it. The environment variables that CI sets to keep
libraries quiet (GRADIO_ANALYTICS_ENABLED, HF_HUB_OFFLINE, ANONYMIZED_TELEMETRY, TIKTOKEN_CACHE_DIR) are removed,
so what is checked is what a user gets. Native code that opens sockets without Python's socket module (Chroma's
Rust core, llama.cpp) is not seen by the hook: an strace of the same commands showed no connect from it either.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

from testing.app_server import AppServer

# What CI and the other tests set to keep libraries off the network; removed here, so the code has to do it.
QUIETING = ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE", "ANONYMIZED_TELEMETRY", "TIKTOKEN_CACHE_DIR",
            "TRANSFORMERS_OFFLINE", "OPENAI_API_KEY", "OPENAI_BASE_URL")

SITECUSTOMIZE = '''"""Written by tests/test_network.py: logs this process's socket connects, sends, binds and name lookups."""
import json
import os
import sys

_LOG = os.environ.get("NET_AUDIT_LOG")


def _text(value):
    return value.decode(errors="replace") if isinstance(value, (bytes, bytearray)) else value


def _write(entry):
    entry["pid"] = os.getpid()
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(entry, default=repr) + "\\n").encode())
    finally:
        os.close(fd)


def _hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind"):
        sock, address = args[0], args[-1]
        if address is None:  # sendmsg on a connected socket: its connect was logged
            return
        plain = isinstance(address, (str, bytes, bytearray))
        _write({"event": event, "family": int(sock.family),
                "address": _text(address) if plain else [_text(part) for part in address]})
    elif event == "socket.getaddrinfo":
        _write({"event": event, "host": _text(args[0]), "port": _text(args[1])})


if _LOG:
    _write({"event": "start", "argv": sys.argv})
    sys.addaudithook(_hook)
'''


def audit_env(tmp_path: Path, name: str) -> tuple[dict[str, str], Path]:
    """Environment additions that put the audit hook into a child process, and the log it writes."""
    hook = tmp_path / "audit-hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / f"net-{name}.jsonl"
    root = str(Path(__file__).resolve().parent.parent)
    return {"NET_AUDIT_LOG": str(log), "PYTHONPATH": f"{hook}:{root}"}, log


def events(log: Path) -> list[dict[str, Any]]:
    """The entries the hook wrote (none if the process never opened the log)."""
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def is_local_host(host: Any) -> bool:
    """Loopback address, localhost, or no host at all (a lookup of the local machine's own addresses)."""
    if host is None or host == "localhost" or (isinstance(host, str) and host.endswith(".localhost")):
        return True
    try:  # "" (every interface) is no address: ValueError
        addr = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return addr.is_loopback or bool(mapped and mapped.is_loopback)


def outside(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries that reach (or could reach) beyond this machine."""
    bad = []
    for e in entries:
        if e["event"] == "socket.getaddrinfo":
            if not is_local_host(e["host"]):
                bad.append(e)
        elif e["event"] != "start" and e["family"] != socket.AF_UNIX:
            if not is_local_host(e["address"][0]):
                bad.append(e)
    return bad


def test_the_check_itself():
    assert is_local_host("127.0.0.1") and is_local_host("127.8.9.10") and is_local_host("::1")
    assert is_local_host("localhost") and is_local_host("::ffff:127.0.0.1") and is_local_host(None)
    for host in ("", "0.0.0.0", "10.0.0.1", "8.8.8.8", "2001:4860::8888", "api.gradio.app", "huggingface.co"):
        assert not is_local_host(host), host
    assert outside([{"event": "socket.connect", "family": socket.AF_INET, "address": ["104.18.0.1", 443]},
                    {"event": "socket.connect", "family": socket.AF_UNIX, "address": "/tmp/x.sock"},
                    {"event": "socket.getaddrinfo", "host": "us.i.posthog.com", "port": 443}]) != []


def test_cli_opens_no_outside_connection(tmp_path, cli, seeds_writer, monkeypatch):
    for key in QUIETING:
        monkeypatch.delenv(key, raising=False)
    seeds = tmp_path / "seeds"
    seeds_writer(seeds, "page.txt", ["Serving large language models with less GPU memory",
                                     "Retrieval augmented generation for scientific question answering",
                                     "Sparse attention for long documents"])
    home = tmp_path / "home"
    commands = {"ingest": ["ingest", seeds],
                "search": ["search", "GPU memory"],
                "ask": ["ask", "--offline", "How can language models be served with less GPU memory?"]}
    for name, args in commands.items():
        env, log = audit_env(tmp_path, name)
        proc = cli(*args, home=home, env=env)
        assert proc.returncode == 0, proc.stderr
        entries = events(log)
        assert entries and entries[0]["event"] == "start", f"the audit hook did not run in `rag {name}`"
        assert not outside(entries), f"`rag {name}` reached beyond 127.0.0.1: {outside(entries)}"


class AuditedApp(AppServer):
    """`rag serve` with the audit hook and without the variables that quiet Gradio and the Hugging Face hub."""

    def env(self) -> dict[str, str]:
        run_env = super().env()
        for key in QUIETING:
            run_env.pop(key, None)
        return run_env


def ask_over_http(url: str, question: str) -> dict[str, Any]:
    """One question through the app's /ask endpoint with plain HTTP (Gradio's call API): the final result."""
    body = json.dumps({"data": [question, 0, "", "", "", None]}).encode()
    request = urllib.request.Request(f"{url}/gradio_api/call/ask", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        event_id = json.load(resp)["event_id"]
    with urllib.request.urlopen(f"{url}/gradio_api/call/ask/{event_id}", timeout=120) as resp:
        stream = resp.read().decode()
    # server-sent events: "event: generating|complete|error" then "data: [result]"
    kinds = [line.split(":", 1)[1].strip() for line in stream.splitlines() if line.startswith("event:")]
    data = [line.split(":", 1)[1] for line in stream.splitlines() if line.startswith("data:")]
    assert kinds and kinds[-1] == "complete", stream[-2000:]
    return json.loads(data[-1])[0]


def test_app_opens_no_outside_connection(tmp_path, cli, start_app, seeds_writer, monkeypatch):
    for key in QUIETING:
        monkeypatch.delenv(key, raising=False)
    seeds = tmp_path / "seeds"
    seeds_writer(seeds, "page.txt", ["Serving large language models with less GPU memory",
                                     "Retrieval augmented generation for scientific question answering"])
    home = tmp_path / "home"
    assert cli("ingest", seeds, home=home).returncode == 0
    env, log = audit_env(tmp_path, "serve")
    server = start_app(home, tmp_path / "serve.log", env=env, timeout=120, kind=AuditedApp)
    try:
        answer = ask_over_http(server.url, "How can language models be served with less GPU memory?")
    finally:
        server.stop()
    assert answer["done"] and answer["citations"], answer
    entries = events(log)
    assert not outside(entries), f"`rag serve` reached beyond 127.0.0.1: {outside(entries)}"
    # the hook saw the app's own loopback traffic (Gradio's launch check, the warm-up question): it was watching
    own = [e for e in entries if e["event"] == "socket.connect" and e["address"][1] == server.port]
    assert own, f"the audit hook saw no connection to the app's port {server.port}: {entries}"
