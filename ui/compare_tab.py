"""The Compare tab: a question about several papers as a table (what each proposes, its task or data, what it
reports), every cell a sentence of that paper's own abstract; exported as CSV or Markdown."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag import RagError
from ui.backend import Backend, user_error

if TYPE_CHECKING:
    from rag import Comparison

HEADERS = ["[n]", "Paper", "Proposes", "Task or data", "Reports"]
EXAMPLE = "Which papers speed up LLM decoding with a small draft model, and what speedups does each report?"


def table_rows(table: Comparison) -> list[list[Any]]:
    """One row per paper: [n], title (date), then the three cells ('' when the abstract has none)."""
    return [[f"[{r.n}]", r.title + (f" ({r.date})" if r.date else ""), r.proposes.text, r.setting.text, r.results.text]
            for r in table.rows]


def exports(table: Comparison) -> tuple[str, str]:
    """(CSV file, Markdown file) of the table, written to the temporary folder Gradio serves downloads from."""
    folder = Path(tempfile.mkdtemp(prefix="rag-compare-"))
    csv_path, md_path = folder / "comparison.csv", folder / "comparison.md"
    csv_path.write_text(table.to_csv(), encoding="utf-8")
    md_path.write_text(f"{table.question}\n\n{table.to_markdown()}\n", encoding="utf-8")
    return str(csv_path), str(md_path)


class CompareTab:
    """Components and handlers of the Compare tab; `build()` inside a gr.Tab."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def build(self) -> None:
        with gr.Row():
            self.question = gr.Textbox(placeholder=f"A question about several papers, e.g. “{EXAMPLE}”",
                                       show_label=False, scale=6, lines=1, max_lines=1, elem_id="compare-question")
            self.go = gr.Button("Compare", variant="primary", scale=0, min_width=100, elem_id="compare-go")
        self.count = gr.Markdown(elem_classes="figures", elem_id="compare-count")
        self.table = gr.Dataframe(headers=HEADERS, datatype=["str"] * len(HEADERS), interactive=False, wrap=True,
                                  column_widths=["5%", "20%", "25%", "25%", "25%"], max_height=640,
                                  elem_id="compare-table", show_label=False)
        with gr.Row():
            self.csv = gr.DownloadButton("Download CSV", visible=False, elem_id="compare-csv", size="sm")
            self.md = gr.DownloadButton("Download Markdown", visible=False, elem_id="compare-md", size="sm")
        for trigger in (self.question.submit, self.go.click):
            trigger(self.run, [self.question], [self.table, self.count, self.csv, self.md], api_visibility="private",
                    concurrency_id="answer")

    def run(self, question: str) -> tuple[Any, str, Any, Any]:
        """The table for a question; an abstention says so, with the nearest papers, and offers no download."""
        try:
            table = self.backend.compare(question, None, None, None)
        except RagError as e:
            raise user_error(e) from None
        if table.abstained:
            hidden = gr.update(visible=False)
            return [], table.text, hidden, hidden
        csv_path, md_path = exports(table)
        count = (f"{len(table.rows)} papers of {table.papers_searched} searched; each cell is a sentence of that "
                 "paper's own abstract (– where it has none).")
        return table_rows(table), count, gr.update(value=csv_path, visible=True), gr.update(value=md_path, visible=True)
