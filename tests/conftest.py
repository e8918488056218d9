"""Shared fixtures: the real seeds, one ingested index of them, small hand-made seed folders, the CLI.

Everything is real: Chroma in a temporary folder (Settings(home=...) / RAG_HOME), the WordLlama
embedder, the seed page dumps in seeds/. Nothing of ours is mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Union

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EVAL_QUESTIONS = ROOT / "eval" / "paraphrase_queries.jsonl"

# Hermetic settings: no RAG_* variable from the developer's shell may change what the tests see.
for _key in [k for k in os.environ if k.startswith("RAG_")]:
    del os.environ[_key]

from rag.config import Settings  # noqa: E402  (after the environment is cleaned)


def seed_file(prefix: str) -> Path:
    """The one real seed file whose name starts with prefix (e.g. '003')."""
    (path,) = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    return path


def make_settings(home: Path, **overrides: Any) -> Settings:
    """Settings on a given data home; ignores any .env file so the tests are hermetic."""
    overrides.setdefault("seeds", SEEDS)
    return Settings(_env_file=None, home=home, **overrides)


def open_store(settings: Settings, create: bool = False) -> Any:
    """The real Chroma-backed store of settings' home (built with settings' params)."""
    from rag.embed.base import get_embedder
    from rag.store.chroma import Store, build_params

    emb = get_embedder(settings)
    return Store.open(settings, build_params(settings, emb.name, emb.dim), create=create)


# --------------------------------------------------------------------------- hand-made seed files

def abstract_for(topic: str) -> str:
    """A prose abstract (long enough for the parser to see it as one) about topic."""
    return (
        f"We study {topic} and report what we found. "
        "Our method combines careful measurement with a small analytical model of the system under test. "
        "Experiments on three public benchmarks show consistent gains over strong baselines at similar cost. "
        "We release the code and the data to support further work on this problem."
    )


SeedPaper = Union[str, dict]


def write_seed(folder: Path, name: str, papers: Iterable[SeedPaper], *, spaced: bool = False,
               header: bool = True) -> Path:
    """Write one page dump.

    papers: titles, or dicts with title and optional abstract, authors (int), organization, date
    ("Mon D[, YYYY] [upvotes]"). spaced=False is the compact layout (title line, abstract line);
    spaced=True is the layout with blank lines and the '• N authors' / '·' / date block.
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    if header:
        if spaced:
            lines += ["new", "", "Get trending papers in your email inbox!", "", "Subscribe", "",
                      "byAK and the research community", "", "Mar 13", ""]
        else:
            lines += ["Get trending papers in your email inbox once a day!", "Get trending papers in your email inbox!"]
    for p in papers:
        p = {"title": p} if isinstance(p, str) else p
        abstract = p.get("abstract") or abstract_for(p["title"].lower())
        if not spaced:
            lines += [p["title"], abstract]
            continue
        lines += [p["title"], "", abstract, ""]
        if p.get("authors") is not None:
            lines.append(f"  • {p['authors']} authors")
        elif p.get("organization"):
            lines.append(p["organization"])
        if p.get("date"):
            lines += ["·", p["date"]]
        lines.append("")
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- CLI

def cli(*args: object, home: Path, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `python -m rag.cli ARGS` as a real subprocess with RAG_HOME=home."""
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    run_env["RAG_HOME"] = str(home)
    run_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), run_env.get("PYTHONPATH")]))
    run_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *map(str, args)],
        capture_output=True, text=True, env=run_env, cwd=str(cwd or home.parent), timeout=timeout,
    )


# --------------------------------------------------------------------------- fixtures

@pytest.fixture
def seeds_writer() -> Callable[..., Path]:
    """write_seed(folder, name, papers, spaced=..., header=...) -> path."""
    return write_seed


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess]:
    """cli(*args, home=..., env=..., cwd=...) -> CompletedProcess."""
    return cli


@pytest.fixture(scope="session")
def corpus():
    """The real seeds, parsed once."""
    from rag.corpus.parse import load_corpus

    return load_corpus([SEEDS])


@pytest.fixture(scope="session")
def full_index(tmp_path_factory):
    """One ingest of every real seed into a temporary home, shared by read-only tests: (settings, summary)."""
    from rag.ingestion.pipeline import ingest

    settings = make_settings(tmp_path_factory.mktemp("full-home"))
    return settings, ingest(settings)


@pytest.fixture(scope="session")
def full_settings(full_index) -> Settings:
    return full_index[0]


@pytest.fixture(scope="session")
def retriever(full_settings):
    """A Retriever on the shared full index (read-only use only)."""
    from rag.search.retriever import Retriever

    return Retriever(full_settings)


# --------------------------------------------------------------------------- a real Chroma server

from testing.chroma_server import ChromaServer, free_port  # noqa: E402,F401  (re-exported for the tests)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """One Chroma server for the session; tests keep apart by collection name."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data").start()
    yield server
    server.stop()


# --------------------------------------------------------------------------- the app (`rag serve`)

@pytest.fixture(scope="session")
def app_url(full_settings, tmp_path_factory):
    """`rag serve` on a free port of 127.0.0.1 over the shared index, offline; stopped by PID at the end."""
    from testing.app_server import app_process

    server = app_process(full_settings.home, tmp_path_factory.mktemp("app") / "serve.log").start(timeout=120)
    yield server.ready_url.rstrip("/")
    server.stop()


# --------------------------------------------------------------------------- a real llama.cpp server

def local_llm_server(log_dir: Path, **options: Any) -> Any:
    """A LocalLLMServer (llama.cpp serving the bundled SmolLM2-135M; options: its keyword arguments), not
    started. Skips when the llm-local extra is missing, except in CI (CI=true), where scripts/test.sh
    installs it: there it fails."""
    from rag.errors import ConfigError
    from rag.llm.server import LocalLLMServer

    try:
        return LocalLLMServer(log=log_dir / "llama-server.log", **options)
    except ConfigError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{e.message}; {e.hint}")


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory):
    """One llama.cpp server for the session (tests that kill a server start their own)."""
    server = local_llm_server(tmp_path_factory.mktemp("llm-server")).start(timeout=120)
    yield server
    server.stop()
