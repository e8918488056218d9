"""`rag ingest` and `rag sources`: bring the index in line with the seeds and the files you added.

`_run_ingest` is what both share: one ingest (or removal) with a progress bar on a terminal, an optional rebuild
when the index was built with other settings, and the summary printed as text or JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import typer

from rag.cli import _friendly, _settings, app
from rag.errors import IndexMismatchError


@app.command()
@_friendly
def ingest(
    paths: list[Path] = typer.Argument(
        None, help="Your own paper files or folders to add (.jsonl, .csv, .bib, arXiv .xml, page dumps): kept under "
                   "RAG_HOME and read with the seeds from now on. None: update the index from the seeds and sources."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Drop the index and build it again from scratch."),
    rebuild_on_mismatch: bool = typer.Option(
        False, "--rebuild-if-mismatched",
        help="When the index was built with other settings (e.g. another embedder), say so and rebuild it."),
) -> None:
    """Read the seeds and your added sources, and bring the index in line with them (incremental)."""
    from rag.ingestion.pipeline import ingest as run_ingest

    _run_ingest(lambda settings, **kw: run_ingest(settings, add=list(paths) if paths else None, **kw),
                as_json, rebuild, rebuild_on_mismatch)


sources_app = typer.Typer(no_args_is_help=False, help="Your added paper files (`rag ingest FILE` adds one).")
app.add_typer(sources_app, name="sources")


@sources_app.callback(invoke_without_command=True)
@_friendly
def sources(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print a JSON array.")) -> None:
    """List the files you added: name, format, records, where it came from, when."""
    if ctx.invoked_subcommand:
        return
    from rag.ingestion.sources import Sources
    from rag.store.paths import Paths

    found = Sources(Paths.of(_settings())).list()
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in found]))
        return
    if not found:
        typer.echo("no added sources (the index holds the seeds only); add files with `rag ingest FILE`")
    for s in found:
        typer.echo(f"{s.name}  {s.format}, {_count(s.records, 'record')}, added {s.added[:10]} from {s.origin}")


@sources_app.command("remove")
@_friendly
def sources_remove(
    names: list[str] = typer.Argument(..., help="Names as `rag sources` lists them."),
    as_json: bool = typer.Option(False, "--json", help="Print the ingest summary as one JSON object."),
) -> None:
    """Forget added sources and delete their copies; papers found only in them leave the index."""
    from rag.ingestion.pipeline import remove_sources

    _run_ingest(lambda settings, **kw: remove_sources(settings, list(names), **kw), as_json, False, False)


def _count(n: int, noun: str) -> str:
    """'1 record', '2 records'."""
    return f"{n} {noun}{'s' * (n != 1)}"


def _run_ingest(run_ingest: Callable[..., Any], as_json: bool, rebuild: bool, rebuild_on_mismatch: bool) -> None:
    """Run an ingest with a progress bar on a terminal; print its summary and problems."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from rag.ingestion.pipeline import IngestSummary

    settings = _settings()
    err = Console(stderr=True)
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("embedding chunks", total=None)

        def run(rebuild: bool) -> IngestSummary:
            return run_ingest(settings, rebuild=rebuild,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))

        try:
            summary = run(rebuild)
        except IndexMismatchError as e:
            if not rebuild_on_mismatch:
                raise
            err.print(f"{e.message}: rebuilding it (the embedding cache makes a later switch back cheap)",
                      highlight=False, soft_wrap=True)
            summary = run(True)
    if as_json:
        typer.echo(json.dumps(summary.to_dict()))
        return
    for problem in summary.problems:
        err.print(f"[yellow]warning[/]: {problem}", highlight=False)
    for src in summary.sources:
        typer.echo(f"{src['status']}: {src['name']} ({src['format']}, {_count(src['records'], 'record')})")
    s = summary
    typer.echo(
        f"{s.papers} papers ({s.records} records read), {s.chunks} chunks: {s.added} added, "
        f"{s.updated} updated, {s.unchanged} unchanged, {s.removed} removed, {s.skipped} skipped "
        f"in {s.seconds:.2f} s" + (f"; kept {s.kept_unreadable} papers of unreadable files" if s.kept_unreadable else "")
    )
