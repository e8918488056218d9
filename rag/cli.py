"""`rag` command line: ingest, search, ask, chat, papers, serve, serve-llm, eval.

The composition root: the one module of rag that builds Settings from the environment, wires the stages
together, and may import ui/ (for `rag serve`) and eval/ (for `rag eval`); the import contract in
pyproject.toml forbids that anywhere else in rag. Errors become one line on stderr and exit code 1.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from rag.errors import IndexMismatchError, RagError

# the date filter that search, ask and compare share
Since = Annotated[Optional[str], typer.Option("--since", help="Only papers published on or after YYYY-MM-DD.")]
Until = Annotated[Optional[str], typer.Option("--until", help="Only papers published on or before YYYY-MM-DD.")]

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


def _parse_date(value: Optional[str], flag: str) -> Optional[date]:
    from rag.text.dates import parse_day

    return parse_day(value, flag)


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


@app.command()
@_friendly
def search(
    query: str = typer.Argument(..., help="What you are looking for."),
    k: int = typer.Option(None, "-k", min=1, max=200, help="Number of papers (default RAG_TOP_K=10)."),
    since: Since = None,
    until: Until = None,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of hits."),
) -> None:
    """Hybrid search: one hit per paper, best first."""
    from rag.search.retriever import Retriever

    lo, hi = _parse_date(since, "--since"), _parse_date(until, "--until")
    hits = Retriever(_settings()).search(query, k=k, since=lo, until=hi)
    if as_json:
        keys = ("paper_id", "title", "score", "date", "snippet", "dense_rank", "bm25_rank")
        typer.echo(json.dumps([{key: h.to_dict()[key] for key in keys} for h in hits]))
        return
    if not hits:
        typer.echo("no matching papers")
    for n, h in enumerate(hits, 1):
        typer.echo(f"{n:>2}. {h.title}  [{h.date or 'undated'}]  score {h.score:.4f}  id {h.paper_id}")
        typer.echo(f"    {h.snippet}")


def _mode(offline: bool, llm: bool) -> Optional[str]:
    if offline and llm:
        _fail("--offline and --llm exclude each other", "pick one")
    return "extractive" if offline else "llm" if llm else None


def _print_answer(stream: Any, out: Any) -> Any:
    """Write the streamed text as it comes, then what the final Answer adds (sources, flags); return it."""
    from rag.types import Answer

    shown = ""
    try:
        for item in stream:
            if isinstance(item, Answer):
                break
            out.write(item)
            out.flush()
            shown += item
    except RagError:
        if shown:
            out.write("\n[answer incomplete]\n")
        raise
    answer: Answer = item
    if answer.text != shown:  # an abstention from the model, expanded with the nearest papers
        out.write(("\n\n" if shown else "") + answer.text[len(shown):] if answer.text.startswith(shown) else "\n" + answer.text)
    if answer.truncated:  # the model ran into its token limit: never shown as a finished answer
        out.write("\n[answer cut off: the model reached RAG_LLM_MAX_TOKENS]")
    out.write("\n")
    if answer.caveats and not answer.abstained:  # an abstention's text already says what the corpus lacks
        out.write("\n" + "\n".join(f"Note: {c}" for c in answer.caveats) + "\n")
    if answer.citations:
        out.write("\nSources:\n")
        by_n = {s.n: s for s in answer.sources}
        for c in answer.citations:
            out.write(f"  [{c.n}] {c.title}" + (f" ({c.date})" if c.date else "") + f"  id {c.paper_id}\n")
            about = _about(by_n[c.n].record) if c.n in by_n else ""
            if about:
                out.write(f"      {about}\n")
    notes = list(answer.notices)
    if answer.removed_citations:
        notes.append(f"removed {answer.removed_citations} citation(s) to sources that do not exist")
    for f in answer.flags:
        cites = "".join(f"[{n}]" for n in f.citations)
        what = ("cites nothing" if f.reason == "uncited" else f"states {f.detail}, which {cites} does not" if f.reason == "fact"
                else f"not supported by {cites}")
        notes.append(f"check: \"{f.sentence[:80]}\" {what}")
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    t = answer.timings_ms
    tokens = f", {answer.usage.total_tokens} tokens ({answer.usage.counted_by})" if answer.mode == "llm" else ""
    typer.echo(f"[{answer.mode}{' ' + answer.model if answer.model else ''}: retrieval {t.get('retrieve', 0):.0f} ms, "
               f"total {t.get('total', 0):.0f} ms{tokens}]", err=True)
    return answer


def _about(record: Any) -> str:
    """A source's second line: its authors (names, or how many) and its links, when known."""
    from rag.answer.references import authors_text

    return " · ".join(filter(None, [authors_text(record), *record.links.values()]))


@app.command()
@_friendly
def ask(
    question: str = typer.Argument(..., help="Your question about the papers."),
    k: int = typer.Option(None, "-k", min=1, max=20, help="Papers given as sources (default RAG_ANSWER_K=5)."),
    since: Since = None,
    until: Until = None,
    as_json: bool = typer.Option(False, "--json", help="Print the whole answer as one JSON object."),
    offline: bool = typer.Option(False, "--offline", help="Answer from the abstracts' own sentences, no LLM."),
    llm: bool = typer.Option(False, "--llm", help="Use the LLM (OPENAI_API_KEY / OPENAI_BASE_URL)."),
    cite: Optional[str] = typer.Option(
        None, "--cite", metavar="bibtex|markdown",
        help="Then the cited papers' references: BibTeX entries or a numbered Markdown list (with --json: the "
             "keys 'references', in that style, and 'bibtex')."),
) -> None:
    """Answer a question with numbered citations to the papers (streams to the terminal)."""
    from rag.answer.answerer import Answerer
    from rag.answer.references import STYLES, references, references_bibtex

    if cite is not None and cite not in STYLES:
        _fail(f"unknown --cite style {cite!r}", "use --cite bibtex or --cite markdown")
    lo, hi = _parse_date(since, "--since"), _parse_date(until, "--until")
    mode = _mode(offline, llm)
    answerer = Answerer(_settings())
    lookup = answerer.retriever.paper  # whole abstracts for the references
    if as_json:
        answer = answerer.ask(question, k=k, since=lo, until=hi, mode=mode)
        out = answer.to_dict()
        if cite:
            out |= {"references": references(answer, cite, lookup), "bibtex": references_bibtex(answer, lookup)}
        typer.echo(json.dumps(out))
        return
    answer = _print_answer(answerer.stream(question, k=k, since=lo, until=hi, mode=mode), sys.stdout)
    if cite:
        refs = references(answer, cite, lookup)
        typer.echo(f"\nReferences:\n{refs}" if refs else "\nNo references: the answer cites no paper.", nl=not refs)


@app.command()
@_friendly
def compare(
    question: str = typer.Argument(..., help="A question about several papers, e.g. 'Which papers ..., and what "
                                              "does each report?'"),
    k: int = typer.Option(None, "-k", min=1, max=20, help="Papers to consider (default: as `rag ask` chooses)."),
    since: Since = None,
    until: Until = None,
    as_json: bool = typer.Option(False, "--json", help="Print the table as one JSON object."),
    as_csv: bool = typer.Option(False, "--csv", help="Print the table as CSV."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print the table as Markdown (the default)."),
    offline: bool = typer.Option(False, "--offline", help="Every cell a sentence of its own abstract, no LLM."),
    llm: bool = typer.Option(False, "--llm", help="The LLM writes the cells (OPENAI_API_KEY / OPENAI_BASE_URL)."),
) -> None:
    """A table of the papers that answer the question: what each proposes, its task or data, what it reports,
    each cell a sentence of that paper's own abstract, or with an LLM configured the model's words, each kept
    only when the sentence of that paper it quotes backs it (a note on stderr says how many were rejected)."""
    from rag.answer.answerer import Answerer
    from rag.answer.compare import compare as make_table

    if as_json + as_csv + as_markdown > 1:
        _fail("--json, --csv and --markdown exclude each other", "pick one")
    lo, hi = _parse_date(since, "--since"), _parse_date(until, "--until")
    mode = _mode(offline, llm)
    table = make_table(Answerer(_settings()), question, k=k, since=lo, until=hi, mode=mode)
    if table.note:
        typer.echo(f"note: {table.note}", err=True)
    if as_json:
        typer.echo(json.dumps(table.to_dict()))
    elif as_csv:
        typer.echo(table.to_csv(), nl=False)
    else:
        typer.echo(table.to_markdown())
        if not table.abstained:
            typer.echo(f"\n{len(table.rows)} papers; {table.papers_searched} papers searched", err=True)


@app.command()
@_friendly
def chat(
    k: int = typer.Option(None, "-k", min=1, max=20, help="Papers given as sources (default RAG_ANSWER_K=5)."),
    offline: bool = typer.Option(False, "--offline", help="Answer from the abstracts' own sentences, no LLM."),
    llm: bool = typer.Option(False, "--llm", help="Use the LLM (OPENAI_API_KEY / OPENAI_BASE_URL)."),
) -> None:
    """A conversation in the terminal: follow-up questions refer to earlier answers ("what about [2]?")."""
    from rag.answer.answerer import Answerer

    mode = _mode(offline, llm)
    answerer = Answerer(_settings())
    history: list[Any] = []
    typer.echo(f"Ask about the {answerer.retriever.paper_count()} papers. /new starts over, /quit (or Ctrl-D) ends.",
               err=True)
    while True:
        try:
            question = input("\nyou> ").strip()
        except EOFError:
            typer.echo("", err=True)
            return
        if question in ("/quit", "/exit", "quit", "exit"):
            return
        if question == "/new":
            history = []
            typer.echo("(new conversation)", err=True)
            continue
        if not question:
            continue
        try:
            history.append(_print_answer(answerer.stream(question, history[-5:], k=k, mode=mode), sys.stdout))
        except RagError as e:  # the conversation goes on after a failed turn
            typer.echo(f"error: {e.message}" + (f"\nhint: {e.hint}" if e.hint else ""), err=True)


@app.command()
@_friendly
def papers(as_json: bool = typer.Option(False, "--json", help="Print a JSON array.")) -> None:
    """List the indexed papers."""
    from rag.search.retriever import Retriever

    out = [{"paper_id": r.paper_id, "title": r.title, "date": r.date, "upvotes": r.upvotes, "files": "; ".join(r.files),
            "author_names": r.author_names, "venue": r.venue, "links": r.links}
           for r in Retriever(_settings()).papers()]
    if as_json:
        typer.echo(json.dumps(out))
        return
    for row in out:
        link = next(iter(row["links"].values()), "")
        typer.echo(f"{row['paper_id']}  {row['date'] or '          '}  {row['title']}" + (f"  {link}" if link else ""))
    typer.echo(f"{len(out)} papers", err=True)


@app.command()
@_friendly
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(7860, "--port", min=1, max=65535, help="Port to listen on."),
    mcp: bool = typer.Option(False, "--mcp", help="Also serve /ask, /search, /paper as MCP tools (needs gradio[mcp])."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Allow another --host without RAG_APP_AUTH (trusted network)."),
) -> None:
    """Open the web app: streaming cited chat, sources beside every answer, a paper browser."""
    from ui.app import serve as run_app

    run_app(_settings(), host=host, port=port, mcp=mcp, no_auth=no_auth)


@app.command("eval")
@_friendly
def eval_(
    questions: Path = typer.Option(None, "--questions", help="Golden questions (JSONL); default eval/questions.jsonl."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write all metrics and per-question results here."),
    html_out: Optional[Path] = typer.Option(None, "--html", help="Write an HTML report with plots here."),
    baseline: Path = typer.Option(None, "--baseline", help="Baseline to gate against; default eval/baseline.json."),
    update_baseline: bool = typer.Option(False, "--update-baseline", help="Accept this run as the new baseline."),
    compare: bool = typer.Option(False, "--compare", help="Run several configurations side by side (no gate)."),
    config: list[str] = typer.Option([], "--config", help="Extra configuration 'name:setting=value,...' (repeatable)."),
    index: str = typer.Option("fresh", "--index", help="'fresh': build from the seeds in a temp folder; "
                              "'current': the configured index as it is."),
    llm: bool = typer.Option(False, "--llm", help="Evaluate the LLM mode (default: offline, which the gate uses)."),
    judge: bool = typer.Option(False, "--judge", help="Also ask an LLM judge (needs OPENAI_API_KEY/OPENAI_BASE_URL)."),
) -> None:
    """Evaluate answer quality on the golden questions; exit 1 when a metric got worse than the baseline allows."""
    from eval.cli import run_eval

    code = run_eval(_settings(), questions=questions, json_out=json_out, html_out=html_out, baseline=baseline,
                    update_baseline=update_baseline, compare=compare, configs=config, index=index,
                    mode="llm" if llm else "extractive", judge=judge, echo=typer.echo)
    raise typer.Exit(code)


@app.command("serve-llm")
@_friendly
def serve_llm(
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Another .gguf file (default: the bundled SmolLM2-135M)."),
) -> None:
    """Serve the bundled tiny model (SmolLM2-135M) with llama.cpp's OpenAI-compatible server, until Ctrl-C."""
    from rag.llm.server import WARNING, LocalLLMServer
    from rag.llm.process import port_in_use

    if model is not None and not model.is_file():
        raise RagError(f"no model file at {model}", "give the path of a .gguf file, or leave out --model")
    server = LocalLLMServer(port=port, host=host, model=model)
    if port_in_use(host, port):
        raise RagError(f"port {port} is in use", "pick another one with --port")
    typer.echo(f"warning: {WARNING}", err=True)
    typer.echo(f"starting llama.cpp's server with {server.model.name} on {server.url} ...", err=True)
    _stop_on_signals()
    try:
        try:
            server.start(timeout=120)
        except RuntimeError as e:
            raise RagError(f"the llama.cpp server did not start: {e}", "see its output above") from None
        env = server.client_env()
        typer.echo("ready. In another shell, point rag at it:\n  export " +
                   " ".join(f"{k}={v}" for k, v in env.items()) +
                   '\n  rag ask "How can a large language model be served with less GPU memory?"\nCtrl-C stops the server.')
        server.proc.wait()  # type: ignore[union-attr]
    except KeyboardInterrupt:
        typer.echo("stopping the server", err=True)
    finally:
        server.stop()  # never leave the llama.cpp server running without us
    code = server.proc.returncode if server.proc is not None else None
    if code not in (0, -2, -15, None):
        raise RagError(f"the llama.cpp server exited with code {code}", "see its output above")


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (a supervisor, `kill`) both end a long-running command through its cleanup, even
    when SIGINT was ignored by whoever started us (a shell's background job inherits SIG_IGN)."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupt)


def main() -> None:
    """Console-script entry point."""
    import logging

    # Something in the stack sets the root logger to INFO; httpx would print every LLM/server request on stderr.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app(prog_name="rag")


if __name__ == "__main__":
    sys.exit(main())
