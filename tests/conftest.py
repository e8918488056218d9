"""Fixtures and the tiers. Helpers the tests import live in testing/ (not installed; pytest's pythonpath finds it).

Everything is real: Chroma in a temporary folder (Settings(home=...) / RAG_HOME), the default MiniLM embedder, the
seed page dumps in seeds/, real `rag` subprocesses, a real `chroma run`, the app in Debian's chromium, llama.cpp.

Tiers: a test is marked from the fixtures it uses (TIERS below; a fixture's own fixtures count too), and a
hypothesis test with many examples is `slow`. A plain `pytest` runs only the unmarked, fast tests (pyproject's
addopts); `pytest -m ""` (what scripts/test.sh runs) runs every tier, `pytest -m cli` one of them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

# Hermetic settings: no RAG_* variable from the developer's shell may change what the tests see.
for _key in [k for k in os.environ if k.startswith("RAG_")]:
    del os.environ[_key]
# One embedding cache for the whole run (every temporary home, every `rag` subprocess and every pytest-xdist worker
# reads it): each text is embedded by MiniLM once, not once per test that ingests the seeds. The process that makes
# it (the xdist controller, or a plain pytest) removes it; workers inherit it through TESTS_EMBED_CACHE_DIR. A test
# of the cache itself sets its own.
_EMBED_CACHE = os.environ.get("TESTS_EMBED_CACHE_DIR", "")
if not _EMBED_CACHE or not os.path.isdir(_EMBED_CACHE):
    _EMBED_CACHE = tempfile.mkdtemp(prefix="rag-test-embed-cache-")
    os.environ["TESTS_EMBED_CACHE_DIR"] = _EMBED_CACHE
    atexit.register(shutil.rmtree, _EMBED_CACHE, ignore_errors=True)
os.environ["RAG_EMBED_CACHE_DIR"] = _EMBED_CACHE

from testing.cli import Cli  # noqa: E402  (after the environment is cleaned)
from testing.seeds import SEEDS, make_settings, write_seed  # noqa: E402

# fixture -> the tiers of every test that uses it
TIERS: dict[str, tuple[str, ...]] = {
    "cli": ("cli",),  # `python -m rag.cli` subprocesses
    "chroma_server": ("server",),  # a real `chroma run`
    "start_chroma": ("server",),
    "app_url": ("browser",),  # `rag serve` as a process, driven over HTTP or in chromium
    "start_app": ("browser",),
    "browser": ("browser",),
    "llm_server": ("slow",),  # llama.cpp's server: a real LLM, seconds per answer
    "local_llm_server": ("slow",),
    "clean_ingest": ("slow",),  # the SIGKILL ingest tests: dozens of ingest subprocesses
}
SLOW_EXAMPLES = 100  # a hypothesis test that tries at least this many examples is slow
FAST_LOOP = "not (cli or server or browser or slow)"  # pyproject's addopts: what a plain `pytest` runs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with the tiers of the fixtures it uses (directly or through other fixtures)."""
    for item in items:
        tiers = {tier for name in getattr(item, "fixturenames", ()) for tier in TIERS.get(name, ())}
        hypothesis_settings = getattr(getattr(item, "obj", None), "_hypothesis_internal_use_settings", None)
        if hypothesis_settings is not None and hypothesis_settings.max_examples >= SLOW_EXAMPLES:
            tiers.add("slow")
        for tier in sorted(tiers):
            item.add_marker(tier)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say how to run what the fast loop left out (`pytest tests/test_server.py` alone deselects it all)."""
    left_out = len(terminalreporter.stats.get("deselected", []))
    if left_out and config.option.markexpr == FAST_LOOP:
        terminalreporter.write_line(f"{left_out} tests of the cli/server/browser/slow tiers were not run: "
                                    '`pytest -m ""` runs every tier, `pytest -m server` one of them')


# --------------------------------------------------------------------------- the real seeds and one index

@pytest.fixture
def seeds_writer() -> Callable[..., Path]:
    """write_seed(folder, name, papers, spaced=..., header=...) -> path."""
    return write_seed


@pytest.fixture(scope="session")
def corpus():
    """The real seeds, parsed once."""
    from rag.corpus.readers import load_corpus

    return load_corpus([SEEDS])


@pytest.fixture(scope="session")
def full_index(tmp_path_factory):
    """One ingest of every real seed into a temporary home, shared by read-only tests: (settings, summary)."""
    from rag.ingestion.pipeline import ingest

    from filelock import FileLock

    settings = make_settings(tmp_path_factory.mktemp("full-home"))
    # under pytest-xdist, one worker embeds the seeds while the other waits, then ingests from the shared cache
    with FileLock(os.path.join(_EMBED_CACHE, "full-index.lock")):
        return settings, ingest(settings)


@pytest.fixture(scope="session")
def full_settings(full_index):
    return full_index[0]


@pytest.fixture(scope="session")
def retriever(full_settings):
    """A Retriever on the shared full index (read-only use only)."""
    from rag.search.retriever import Retriever

    return Retriever(full_settings)


# --------------------------------------------------------------------------- the CLI

@pytest.fixture(scope="session")
def cli() -> Iterator[Cli]:
    """`cli(*args, home=..., env=..., input=...)` runs `python -m rag.cli ARGS`; `cli.popen(...)` starts one."""
    runner = Cli()
    yield runner
    runner.close()


# --------------------------------------------------------------------------- a real Chroma server

@pytest.fixture(scope="session")
def start_chroma() -> Iterator[Callable[..., Any]]:
    """start_chroma(path) -> a started ChromaServer of its own; stopped by PID at the end if still running."""
    from testing.chroma_server import ChromaServer

    started: list[Any] = []

    def start(path: Path, port: int | None = None) -> Any:
        started.append(ChromaServer(path, port).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def chroma_server(start_chroma, tmp_path_factory):
    """One Chroma server for the session; tests keep apart by collection name."""
    return start_chroma(tmp_path_factory.mktemp("chroma-server") / "data")


# --------------------------------------------------------------------------- the app (`rag serve`) and a browser

@pytest.fixture(scope="session")
def start_app() -> Iterator[Callable[..., Any]]:
    """start_app(home, log, env=..., extra_args=..., timeout=..., kind=AppServer) -> a started `rag serve` on a
    free port of 127.0.0.1, offline (testing/app_server.py; kind: a subclass); stopped by PID at the end."""
    from testing.app_server import AppServer

    started: list[Any] = []

    def start(home: Path, log: Path, *, env: dict[str, str] | None = None, extra_args: tuple[str, ...] = (),
              timeout: float = 180, kind: type = AppServer) -> Any:
        started.append(kind(home, log, env=env, extra_args=extra_args).start(timeout=timeout))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def app_url(start_app, full_settings, tmp_path_factory) -> str:
    """`rag serve` over the shared index (no trailing slash)."""
    server = start_app(full_settings.home, tmp_path_factory.mktemp("app") / "serve.log", timeout=120)
    return server.ready_url.rstrip("/")


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (testing/browser.py). Without it the browser tests FAIL, never skip."""
    from testing.browser import CHROMIUM, launch_chromium

    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is not installed at {CHROMIUM}: run `bash scripts/test.sh` (it installs it "
                    "with apt-get) or `apt-get install chromium`. The browser tests need it.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


# --------------------------------------------------------------------------- a real llama.cpp server

@pytest.fixture(scope="session")
def local_llm_server() -> Callable[..., Any]:
    """local_llm_server(log_dir, **options) -> a LocalLLMServer, not started (skips when the llm-local extra is
    missing, fails in CI): testing/llm_local.py."""
    from testing.llm_local import local_llm_server as make

    return make


@pytest.fixture(scope="session")
def llm_server(local_llm_server, tmp_path_factory):
    """One llama.cpp server for the session (tests that kill a server start their own)."""
    server = local_llm_server(tmp_path_factory.mktemp("llm-server")).start(timeout=120)
    yield server
    server.stop()
