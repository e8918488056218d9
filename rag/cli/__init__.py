"""`rag` command line: ingest, search, ask, compare, chat, papers, serve, eval, serve-llm, sources.

The composition root: the one package of rag that builds Settings from the environment, wires the stages
together, and may import ui/ (for `rag serve`) and eval/ (for `rag eval`); the import contract in
pyproject.toml forbids that anywhere else in rag. Errors become one line on stderr and exit code 1.

This module holds the typer `app`, `main()` and what every command shares (errors to exit codes, Settings);
the commands live by what they do:
- ingest.py: `rag ingest` and `rag sources` (your added files): the index in line with the seeds and sources;
- answer.py: `rag search`, `ask`, `compare`, `chat`, `papers`: questions in, hits and cited answers out;
- serve.py: `rag serve` (ui/), `rag eval` (eval/), `rag serve-llm` (llama.cpp): handing over to another program.
Every heavy library is imported inside the command that needs it, so `rag --help` loads typer only.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

import typer

from rag.errors import RagError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cited answers from Hugging Face Daily Papers abstracts.")


def _fail(message: str, hint: str = "") -> None:
    typer.echo(f"error: {message}" + (f"\nhint: {hint}" if hint else ""), err=True)
    raise typer.Exit(1)


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn RagError into a message plus hint and exit code 1 (no traceback)."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RagError as e:
            _fail(e.message, e.hint)
        except Exception as e:  # a full or read-only data home can surface anywhere (sqlite, numpy, Chroma)
            fault = _disk_fault(e)
            if fault is None:
                raise
            _fail(fault.message, fault.hint)
        except KeyboardInterrupt:
            # Ingest writes in batches and records each paper's hash, so nothing half-done is trusted.
            typer.echo("interrupted; run the same command again to finish (finished work is kept)", err=True)
            raise typer.Exit(130) from None

    return run


def _disk_fault(e: Exception) -> Any:
    """The DataHomeError behind e (disk full, read-only, no permission), or None for any other error."""
    from rag.config import data_home
    from rag.store.faults import data_home_error

    return data_home_error(e, data_home())


def _settings() -> Any:
    from pydantic import ValidationError

    from rag.config import Settings

    try:
        return Settings()
    except ValidationError as e:
        err = e.errors()[0]
        where = f"RAG_{str(err['loc'][0]).upper()}: " if err["loc"] else ""
        _fail(f"invalid setting: {where}{err['msg']}", "check your RAG_* environment variables")


def main() -> None:
    """Console-script entry point."""
    import logging

    # Something in the stack sets the root logger to INFO; httpx would print every LLM/server request on stderr.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app(prog_name="rag")


# The command modules register their commands on `app` when imported; this order is the order of `rag --help`.
from rag.cli import ingest, answer, serve  # noqa: E402,F401  (after app and the helpers they import)
