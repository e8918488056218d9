"""Your own papers in, from the Papers tab: files of papers (JSONL/JSON, CSV/TSV, BibTeX, arXiv Atom XML, page-dump
text) are kept as sources and ingested with the seeds; the page shows what was added, updated and skipped, and why.

The report and the list of sources are escaped HTML (file names, titles and reasons come from the user's files).
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag import CorpusError, IngestBusyError, RagError
from ui.backend import Backend, render_sentence
from ui.papers import PapersTab, table_rows

if TYPE_CHECKING:
    from rag import IngestSummary, UserSource

TYPES = [".jsonl", ".json", ".csv", ".tsv", ".bib", ".xml", ".txt"]
FORMATS_NOTE = ("JSONL or JSON, CSV or TSV, BibTeX (.bib), arXiv Atom (.xml) or page-dump .txt, several at once. "
                "Each paper needs a title and an abstract; authors, date, DOI, arXiv id, URL and venue are kept when the "
                "file has them. The files are kept with the index, so later ingests keep their papers.")
SHOWN_PROBLEMS = 20  # a report lists this many reasons, then says how many more
STATUS = {"added": "added", "updated": "updated (a new version of a file added before)",
          "unchanged": "already added, with the same content"}


def counts_line(summary: IngestSummary) -> str:
    """'2 added · 0 updated · 1 skipped · 617 papers indexed' (papers, counted over the whole index)."""
    return (f"<b>{summary.added} added</b> · {summary.updated} updated · {summary.skipped} skipped · "
            f"{summary.papers} papers indexed")


def _problem_file(problem: str) -> str:
    """'mine.jsonl:3: no abstract' -> 'mine.jsonl'."""
    return problem.split(":", 1)[0]


def report_html(summary: IngestSummary, uploaded: list[str]) -> str:
    """What an upload did: the counts, each file (format, records, added/updated/unchanged), then the reasons records
    of the uploaded files were skipped; reasons about other files (the seeds, earlier uploads) are only counted."""
    names = {s["name"] for s in summary.sources} | set(uploaded)
    files = "".join(f'<li><b>{escape_text(s["name"])}</b> ({escape_text(s["format"])}): '
                    f'{s["records"]} record{"s" * (s["records"] != 1)}, '
                    f'{escape_text(STATUS.get(s["status"], s["status"]))}</li>' for s in summary.sources)
    mine = [p for p in summary.problems if _problem_file(p) in names]
    others = len(summary.problems) - len(mine)
    parts = [f'<div class="upload-report done"><div class="counts">{counts_line(summary)}</div>',
             f'<ul class="files">{files}</ul>' if files else ""]
    if mine:
        more = len(mine) - SHOWN_PROBLEMS
        items = "".join(f"<li>{escape_text(p)}</li>" for p in mine[:SHOWN_PROBLEMS])
        parts.append(f'<div class="problems">Skipped or changed in your files:<ul>{items}</ul>'
                     + (f"and {more} more (`rag ingest FILE` lists them all)" if more > 0 else "") + "</div>")
    if others:
        parts.append(f'<div class="others">{others} notes about the seeds or files added before '
                     "(`rag ingest` lists them).</div>")
    return "".join(parts) + "</div>"


def error_text(e: RagError, paths: list[Path]) -> str:
    """What went wrong and what to do, with the uploaded files named as the person named them (not by the
    temporary paths the server kept them at). Not escaped."""
    text = f"{render_sentence(e.message)} {render_sentence(upload_hint(e))}"
    for p in paths:
        text = text.replace(str(p), p.name)
    return text


def error_html(e: RagError, paths: list[Path]) -> str:
    """An upload that added nothing: what went wrong and what to do."""
    return f'<div class="upload-report error"><b>Nothing was added.</b> {escape_text(error_text(e, paths))}</div>'


def upload_hint(e: RagError) -> str:
    """The error's remedy in the app's words (the library's name the CLI)."""
    if isinstance(e, IngestBusyError):
        return "let it finish, then upload the file again (nothing of yours was lost)"
    return e.hint


def sources_html(sources: list[UserSource]) -> str:
    """The files added so far: name, format, records read, the day added."""
    if not sources:
        return ('<div class="empty">No files added yet: the index holds the seed pages only. Add files of papers '
                "above.</div>")
    rows = "".join(f"<tr><td>{escape_text(s.name)}</td><td>{escape_text(s.format)}</td><td>{s.records}</td>"
                   f"<td>{escape_text(s.added[:10])}</td></tr>" for s in sources)
    return ('<table class="sources-list"><thead><tr><th>Your files</th><th>Format</th><th>Records</th>'
            f"<th>Added</th></tr></thead><tbody>{rows}</tbody></table>"
            '<div class="figures">`rag sources remove NAME` removes a file and the papers found only in it.</div>')


def escape_text(text: object) -> str:
    """Untrusted text as HTML text."""
    return escape(str(text))


class UploadPanel:
    """The upload box of the Papers tab: `build()` where it should appear, then `wire(papers)` once the table exists."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def build(self) -> None:
        with gr.Accordion("Add your own papers", open=True, elem_id="upload-box"):
            with gr.Row(equal_height=False):
                self.files = gr.File(label="Files of papers", file_count="multiple", file_types=TYPES, height=170,
                                     scale=2, elem_id="upload-files")
                with gr.Column(scale=3):
                    self.report = gr.HTML(f'<div class="empty">{FORMATS_NOTE}</div>', elem_id="upload-report")
                    self.sources = gr.HTML(elem_id="upload-sources")
                    with gr.Row():
                        self.chosen = gr.Dropdown([], label="Remove an added file", multiselect=True, scale=3,
                                                  elem_id="remove-choice")
                        self.remove_btn = gr.Button("Remove", variant="stop", scale=0, min_width=90,
                                                    elem_id="remove-source")

    def wire(self, papers: PapersTab) -> None:
        """Register the upload's event: one upload at a time; it refreshes the report, the sources and the table."""
        self.papers = papers
        self.files.upload(self.add, [self.files], [self.report, self.sources, papers.table, papers.count, self.files],
                          api_visibility="private", concurrency_limit=1, concurrency_id="upload",
                          show_progress_on=[self.files],  # the bar where the files were dropped, not on every output
                          ).then(self.choices, None, [self.chosen], api_visibility="private", queue=False)
        self.remove_btn.click(self.remove, [self.chosen], [self.report, self.sources, papers.table, papers.count,
                                                           self.chosen],
                              api_visibility="private", concurrency_limit=1, concurrency_id="upload")

    def add(self, files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Ingest the uploaded files; the report, the list of sources, the table showing the uploaded files' papers,
        and the file box cleared. An error is a warning and a report that nothing was added."""
        paths = [Path(f) for f in (files or [])]
        if not paths:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        progress(0, desc=f"Reading {len(paths)} file{'s' * (len(paths) > 1)}…")

        def told(done: int, total: int) -> None:
            if total:
                progress((done, total), desc="Embedding and storing the new papers", unit="chunks")

        try:
            summary = self.backend.add_files(paths, told)
        except RagError as e:
            title = "No papers in that file" if isinstance(e, CorpusError) else "Nothing was added"
            gr.Warning(escape(error_text(e, paths), quote=False), title=title)  # a toast's message is HTML
            return error_html(e, paths), self.sources_now(), gr.skip(), gr.skip(), None
        table, count = self.uploaded_papers({s["name"] for s in summary.sources})
        return report_html(summary, [p.name for p in paths]), self.sources_now(), table, count, None

    def remove(self, names: list[str] | None) -> tuple[Any, ...]:
        """Remove the chosen sources: a report of what left, the sources, the whole table, the choices."""
        if not names:
            gr.Warning("Choose the files to remove first.", title="Nothing chosen")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            summary = self.backend.remove_files(list(names))
        except RagError as e:
            gr.Warning(escape(f"{render_sentence(e.message)} {render_sentence(e.hint)}", quote=False),
                       title="Nothing was removed")
            return (f'<div class="upload-report error"><b>Nothing was removed.</b> '
                    f'{escape_text(render_sentence(e.message))}</div>', self.sources_now(), gr.skip(), gr.skip(),
                    self.choices())
        table, count = self.papers.fill_table("")
        left = f"{summary.removed} paper{'s' * (summary.removed != 1)} left"
        report = (f'<div class="upload-report"><b>Removed {escape_text(", ".join(names))}</b>: {left} the index '
                  f"(papers also in the seeds or another file stay) · {summary.papers} papers indexed</div>")
        return report, self.sources_now(), table, count, self.choices()

    def choices(self) -> Any:
        """The dropdown of added files, nothing chosen."""
        try:
            names = [s.name for s in self.backend.sources()]
        except RagError:
            names = []
        return gr.update(choices=names, value=[])

    def uploaded_papers(self, names: set[str]) -> tuple[Any, str]:
        """The table showing the papers found in these sources, and the line above it."""
        try:
            recs = [rec for rec, _ in self.backend.records("", 0, None, None) if names & set(rec.files)]
        except RagError:
            return gr.skip(), gr.skip()
        what = f"{len(recs)} papers of your upload (search, or press Enter in the empty box, to see every paper)"
        return table_rows(recs), what

    def sources_now(self) -> str:
        """The list of sources, or a note when it cannot be read."""
        try:
            return sources_html(self.backend.sources())
        except RagError as e:
            return f'<div class="empty">{escape_text(render_sentence(e.message))}</div>'

    def fill_sources(self) -> str:
        """The list of sources when the Papers tab is opened."""
        return self.sources_now()
