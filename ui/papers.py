"""The Papers tab: search or browse the indexed papers, open one, ask about it in the chat, and add your own
files of papers (ui/upload.py)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from rag import PaperRecord, RagError
from ui import render
from ui.backend import Backend, user_error

# the paper's id stays the last column: a click on a row opens the paper it names
HEADERS = ["Title", "Authors · venue", "Date", "Upvotes", "Links", "id"]
DATATYPES = ["str", "str", "str", "number", "html", "str"]
WIDTHS = ["35%", "22%", "11%", "8%", "12%", "12%"]
SEARCH_K = 50


def byline(rec: PaperRecord) -> str:
    """'A B, C D, E F et al. · Venue', whichever the paper has (not escaped: the table shows it as text)."""
    return " · ".join(p for p in (render.author_text(rec), rec.venue or "") if p)


def table_rows(recs: list[PaperRecord]) -> list[list[Any]]:
    """Rows of the papers table (what a paper lacks stays empty; the links cell is escaped HTML, http(s) only)."""
    return [[r.title, byline(r), r.date or "", "" if r.upvotes is None else r.upvotes, render.links_html(r),
             r.paper_id] for r in recs]


def ask_question(title: str) -> str:
    """The chat question "Ask about this paper" writes: the exact title, which search finds first."""
    return f"What does the paper “{title}” propose, and what does it show?"


class PapersTab:
    """Components and handlers of the Papers tab; `build()` inside a gr.Tab."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def build(self) -> None:
        with gr.Row():
            self.query = gr.Textbox(placeholder="Search the papers (empty: every paper, most upvoted first)",
                                    show_label=False, scale=5, elem_id="paper-query", lines=1, max_lines=1)
            self.search_btn = gr.Button("Search", scale=0, elem_id="paper-search")
        self.count = gr.Markdown(elem_classes="figures")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self.table = gr.Dataframe(headers=HEADERS, datatype=DATATYPES, interactive=False, max_height=620,
                                          wrap=True, column_widths=WIDTHS, elem_id="papers-table", show_label=False)
            with gr.Column(scale=2):
                self.detail = gr.HTML(render.paper_html(None), elem_id="paper-detail")
                self.ask_btn = gr.Button("Ask about this paper", variant="primary", interactive=False,
                                         elem_id="ask-paper")
        self.selected = gr.State(None)
        for trigger in (self.query.submit, self.search_btn.click):
            trigger(self.fill_table, [self.query], [self.table, self.count], api_visibility="private")
        self.table.select(self.open_paper, [], [self.detail, self.selected, self.ask_btn], api_visibility="private")

    def fill_table(self, query: str) -> tuple[Any, str]:
        """The table for a query (or every paper); a missing index becomes a warning and an empty table."""
        try:
            recs = [rec for rec, _ in self.backend.records(query, SEARCH_K, None, None)]
        except RagError as e:
            gr.Warning(user_error(e).message, title="No papers to show")
            return [], ""
        query = (query or "").strip()
        what = f"{len(recs)} best matches for “{render.markdown_text(query)}”" if query else f"{len(recs)} papers indexed"
        return table_rows(recs), what

    def fill_once(self, query: str, count: str) -> tuple[Any, str]:
        """The table when the tab is opened, unless it is already filled."""
        return (gr.skip(), gr.skip()) if count else self.fill_table(query)

    def open_paper(self, evt: gr.SelectData) -> tuple[str, Any, Any]:
        """Show the paper of the clicked row."""
        row = evt.row_value or []
        if len(row) < len(HEADERS):
            return render.paper_html(None), None, gr.update(interactive=False)
        try:
            rec = self.backend.paper(str(row[-1]))
        except RagError as e:
            raise user_error(e) from None
        return render.paper_html(rec), rec, gr.update(interactive=rec is not None)
