"""No work at import time: importing rag, the CLI or any stage loads no heavy library; each module imports what
it needs inside the functions that need it (the CLI starts fast, the offline path never loads the LLM client).

Each check runs in a fresh interpreter, so what an earlier test imported cannot hide a module-level import.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Libraries that take tens to thousands of milliseconds to import, or reach for files or hosts when they do.
HEAVY = frozenset({"chromadb", "gradio", "gradio_client", "llama_index", "bm25s", "Stemmer", "torch",
                   "transformers", "sentence_transformers", "openai", "tiktoken", "wordllama", "huggingface_hub"})
# Watched too where a module has no business with them at import time.
WATCHED = HEAVY | {"numpy", "pydantic", "pydantic_settings", "typer", "rich", "httpx", "filelock"}

# the rag.cli package and each of its modules (found on disk, so a new command module is checked too)
CLI_MODULES = ["rag.cli", *sorted(f"rag.cli.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "rag" / "cli")]))]

# module -> the watched libraries it may load when imported (what it needs at module level, and why)
ALLOWED = {
    "rag": set(),  # the lazy public API
    **{name: {"typer"} for name in CLI_MODULES},  # the command line is declared with typer's decorators
    "rag.config": {"pydantic", "pydantic_settings"},  # Settings are pydantic models
    "rag.answer.answerer": set(),
    "rag.search.retriever": {"numpy"},  # its scoring and fusion are numpy throughout
    "rag.ingestion.pipeline": {"numpy"},  # through the store's side index (numpy arrays)
    "ui.app": {"gradio", "gradio_client", "huggingface_hub", "numpy", "pydantic", "httpx", "typer", "rich",
               "filelock", "pydantic_settings"},  # gradio and what gradio itself imports (with the mcp extra: mcp's
    # settings)
    "eval.cli": {"pydantic", "pydantic_settings"},  # through rag.Settings
}

_PROBE = """
import importlib, json, sys
watched = set(json.loads(sys.argv[1]))
loaded = {}
for name in sys.argv[2:]:
    before = {m.split('.')[0] for m in sys.modules}
    importlib.import_module(name)
    loaded[name] = sorted(({m.split('.')[0] for m in sys.modules} - before) & watched)
print(json.dumps(loaded))
"""


def loaded_by(*modules: str) -> dict[str, list[str]]:
    """In a fresh interpreter, import modules one after another: module -> the watched libraries it brought in."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(sorted(WATCHED)), *modules], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_a_module_loads_only_what_it_needs(module: str):
    (loaded,) = loaded_by(module).values()
    assert set(loaded) <= ALLOWED[module], f"importing {module} loaded {sorted(set(loaded) - ALLOWED[module])}"


def test_no_rag_module_loads_a_heavy_library():
    """Every module under rag/, imported one after another in one interpreter; the first to bring in a heavy
    library is named."""
    import rag

    modules = ["rag", "rag.cli", *sorted(m.name for m in pkgutil.walk_packages(rag.__path__, "rag."))]
    assert len(modules) > 30, modules
    culprits = {name: libs for name, libs in loaded_by(*modules).items() if set(libs) & HEAVY}
    assert not culprits, f"heavy libraries loaded at import time: {culprits}"


def test_the_probe_sees_an_import():
    """The check can fail: a module that imports a heavy library at module level is caught."""
    assert "bm25s" in loaded_by("rag.text.terms", "bm25s")["bm25s"]
