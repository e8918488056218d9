"""The `rag` CLI as real subprocesses (`python -m rag.cli ARGS`) with RAG_HOME set, for tests and benchmarks.

The child runs this checkout's code (its root first on PYTHONPATH) and sees no RAG_* variable of the caller's
shell but the ones passed in. Tests get a `Cli` from the `cli` fixture (tests/conftest.py), which marks them
`cli` and kills any process a test left running.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Union

ROOT = Path(__file__).resolve().parent.parent

Arg = Union[str, bytes, os.PathLike, int, float]
SHARED_CACHE = "RAG_EMBED_CACHE_DIR"


def cli_env(home: Path, extra: dict[str, str] | None = None, *, drop: tuple[str, ...] = ("RAG_",),
            inherit: bool = True) -> dict[str, str]:
    """The child's environment: this one without the `drop` prefixes (or nothing, inherit=False), RAG_HOME=home,
    the session's shared embedding cache (tests/conftest.py) when this one has it, this checkout first on
    PYTHONPATH, then extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)} if inherit else {}
    env["RAG_HOME"] = str(home)
    if os.environ.get(SHARED_CACHE):
        env[SHARED_CACHE] = os.environ[SHARED_CACHE]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def _argv(args: tuple[Arg, ...]) -> list[Any]:
    # bytes stay bytes: a test may pass an argument that is not valid UTF-8
    return [sys.executable, "-m", "rag.cli", *(a if isinstance(a, bytes) else str(a) for a in args)]


class Cli:
    """Call it to run `python -m rag.cli ARGS` to the end; `.popen` starts one to read while it runs."""

    def __init__(self) -> None:
        self._started: list[subprocess.Popen] = []

    def __call__(self, *args: Arg, home: Path, env: dict[str, str] | None = None, cwd: Path | None = None,
                 timeout: float = 180, input: str | bytes | None = None, inherit: bool = True,
                 text: bool = True) -> subprocess.CompletedProcess:
        """Run to the end (stdin from input); the CompletedProcess with stdout and stderr (str unless text=False)."""
        return subprocess.run(_argv(args), input=input, capture_output=True, text=text, timeout=timeout,
                              env=cli_env(home, env, inherit=inherit), cwd=str(cwd or home.parent))

    def popen(self, *args: Arg, home: Path, env: dict[str, str] | None = None, cwd: Path | None = None,
              drop: tuple[str, ...] = ("RAG_",), **popen_kw: Any) -> subprocess.Popen:
        """Start it with stdout and stderr piped (popen_kw may change that); killed by close() if still running."""
        popen_kw.setdefault("stdout", subprocess.PIPE)
        popen_kw.setdefault("stderr", subprocess.PIPE)
        proc = subprocess.Popen(_argv(args), env=cli_env(home, env, drop=drop), cwd=str(cwd or home.parent),
                                **popen_kw)
        self._started.append(proc)
        return proc

    def close(self) -> None:
        """Kill (by PID) every process popen started that is still running."""
        for proc in self._started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        self._started.clear()
