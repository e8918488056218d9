"""`rag search`, `ask`, `compare`, `chat` and `papers`: questions in, hits and cited answers out.

Also what they share: the `--since`/`--until` date filter, the `--offline`/`--llm` choice of answer mode, and
the printing of a streamed answer with its sources, notes and timings (`ask` and `chat`).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated, Any, Callable, Optional

import typer

from rag.cli import _fail, _friendly, _settings, app
from rag.errors import RagError

# the date filter that search, ask and compare share
Since = Annotated[Optional[str], typer.Option("--since", help="Only papers published on or after YYYY-MM-DD.")]
Until = Annotated[Optional[str], typer.Option("--until", help="Only papers published on or before YYYY-MM-DD.")]
Cite = Annotated[Optional[str], typer.Option(
    "--cite", metavar="bibtex|markdown",
    help="After each answer, the cited papers' references: BibTeX entries or a numbered Markdown list (`rag ask "
         "--json` gives them as the keys 'references', in that style, and 'bibtex').")]


def _parse_date(value: Optional[str], flag: str) -> Optional[date]:
    from rag.text.dates import parse_day

    return parse_day(value, flag)


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
    found = Retriever(_settings()).find(query, k=k, since=lo, until=hi)
    hits = found.hits
    if found.mapped:
        typer.echo(f"note: also searched for {', '.join(found.concepts)} (the corpus's words for what the query "
                   "describes; RAG_TERM_MAPPING=false turns this off)", err=True)
    if found.unsure:
        typer.echo("note: no paper matches closely (few of the query's words, no paper standing out): ranked by "
                   "meaning alone; RAG_MEANING_FALLBACK=false turns this off", err=True)
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
    cite: Cite = None,
) -> None:
    """Answer a question with numbered citations to the papers (streams to the terminal)."""
    from rag.answer.answerer import Answerer
    from rag.answer.references import references, references_bibtex

    _check_cite(cite)
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
    _print_references(answer, cite, lookup)


def _check_cite(cite: Optional[str]) -> None:
    """An unknown --cite style is an error before anything is answered."""
    from rag.answer.references import STYLES

    if cite is not None and cite not in STYLES:
        _fail(f"unknown --cite style {cite!r}", "use --cite bibtex or --cite markdown")


def _print_references(answer: Any, cite: Optional[str], lookup: Callable[[str], Any]) -> None:
    """After an answer, its cited papers' references in the --cite style (nothing without --cite)."""
    from rag.answer.references import references

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
    cite: Cite = None,
) -> None:
    """A conversation in the terminal: follow-up questions refer to earlier answers ("what about [2]?")."""
    from rag.answer.answerer import Answerer

    _check_cite(cite)
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
            _print_references(history[-1], cite, answerer.retriever.paper)
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
