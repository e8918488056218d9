"""The Compare tab: a question about several papers as a table (what each proposes, its task or data, what it
reports), every cell a sentence of that paper's own abstract; beside it the papers' abstracts, where a click on a
cell highlights its sentence. The table exports as CSV or Markdown."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag import PaperRecord, RagError
from ui import examples, render
from ui.backend import Backend, abstract_sentences, user_error

if TYPE_CHECKING:
    from rag import Comparison

HEADERS = ["[n]", "Paper", "Proposes", "Task or data", "Reports"]
CELL_COLUMNS = {2: "proposes", 3: "setting", 4: "results"}  # table column -> the Row's Cell shown there
EXAMPLE = examples.COMPARE


@dataclass
class Evidence:
    """One row's paper as the panel shows it: its abstract's sentences and, per table column, the cell's sentence."""

    n: int
    title: str
    record: PaperRecord
    sentences: list[str]
    cells: dict[int, int | None]  # table column -> index in sentences (None: the cell is empty)


def table_rows(table: Comparison) -> list[list[Any]]:
    """One row per paper: [n], title (date), then the three cells (– when the abstract has none, as in Markdown)."""
    return [[f"[{r.n}]", r.title + (f" ({r.date})" if r.date else ""),
             *(getattr(r, name).text or "–" for name in CELL_COLUMNS.values())] for r in table.rows]


def exports(table: Comparison) -> tuple[str, str]:
    """(CSV file, Markdown file) of the table, written to the temporary folder Gradio serves downloads from."""
    folder = Path(tempfile.mkdtemp(prefix="rag-compare-"))
    csv_path, md_path = folder / "comparison.csv", folder / "comparison.md"
    csv_path.write_text(table.to_csv(), encoding="utf-8")
    md_path.write_text(f"{table.question}\n\n{table.to_markdown()}\n", encoding="utf-8")
    return str(csv_path), str(md_path)


def panel_html(papers: list[Evidence], n: int | None = None, sentence: int | None = None) -> str:
    """The panel of the table's papers; paper [n] picked, with its sentence `sentence` highlighted."""
    cards = [render.compare_card(e.n, e.title, e.record, e.sentences, e.n == n, sentence if e.n == n else None)
             for e in papers]
    return render.compare_panel(cards, "" if n is None else f"{n}:{'' if sentence is None else sentence}")


def cells_note(table: Comparison) -> str:
    """Where the cells come from (the abstracts' own sentences, or a model's words each checked against the sentence
    of its own paper it names) and the table's note (how many model cells were kept, or why none were)."""
    said = ("each cell is a sentence of that paper's own abstract (– where it has none)" if table.mode != "llm" else
            f"cells written by {table.model} are kept only when the sentence of their own paper they name states "
            "them; the others are the abstract's own sentences")
    return said + ": click a cell to see its sentence in the abstract." + (f" {table.note}" if table.note else "")


class CompareTab:
    """Components and handlers of the Compare tab; `build()` inside a gr.Tab."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def build(self) -> None:
        with gr.Row():
            self.question = gr.Textbox(placeholder=f"A question about several papers, e.g. “{EXAMPLE}”",
                                       show_label=False, scale=6, lines=1, max_lines=1, elem_id="compare-question")
            self.go = gr.Button("Compare", variant="primary", scale=0, min_width=100, elem_id="compare-go")
            self.example = gr.Button("Ask the example", scale=0, min_width=220, elem_id="compare-example")
        self.count = gr.Markdown(elem_classes="figures", elem_id="compare-count")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=480):
                self.table = gr.Dataframe(headers=HEADERS, datatype=["str"] * len(HEADERS), interactive=False,
                                          wrap=True, column_widths=["7%", "18%", "25%", "25%", "25%"],
                                          max_height=640, elem_id="compare-table", show_label=False)
                with gr.Row():
                    self.csv = gr.DownloadButton("Download CSV", visible=False, elem_id="compare-csv", size="sm")
                    self.md = gr.DownloadButton("Download Markdown", visible=False, elem_id="compare-md", size="sm")
            with gr.Column(scale=2, min_width=320):
                self.sources = gr.HTML(panel_html([]), elem_id="compare-sources")
        self.papers = gr.State([])  # the table's papers (Evidence), for the panel to highlight a clicked cell
        run = {"fn": self.run, "inputs": [self.question], "api_visibility": "private", "concurrency_id": "answer",
               "outputs": [self.table, self.count, self.csv, self.md, self.sources, self.papers]}
        for trigger in (self.question.submit, self.go.click):
            trigger(**run)
        self.example.click(lambda: EXAMPLE, None, [self.question], api_visibility="private", queue=False).then(**run)
        self.table.select(self.pick, [self.papers], [self.sources], api_visibility="private", show_progress="hidden")

    def run(self, question: str) -> tuple[Any, ...]:
        """The table and its papers for a question; an abstention says so, with the nearest papers, and offers no
        download."""
        try:
            table = self.backend.compare(question, None, None, None)
        except RagError as e:
            raise user_error(e) from None
        if table.abstained:
            hidden = gr.update(visible=False)
            return [], table.text, hidden, hidden, panel_html([]), []
        csv_path, md_path = exports(table)
        count = f"{len(table.rows)} papers of {table.papers_searched} searched; " + cells_note(table)
        papers = self.evidence(table)
        return (table_rows(table), count, gr.update(value=csv_path, visible=True), gr.update(value=md_path, visible=True),
                panel_html(papers), papers)

    def evidence(self, table: Comparison) -> list[Evidence]:
        """Each row's paper with its whole abstract, split as the cells' sentence numbers count."""
        out = []
        for r in table.rows:
            rec = self.backend.paper(r.paper_id) or PaperRecord(r.paper_id, r.title, r.date)
            cells = {col: getattr(r, name).sentence for col, name in CELL_COLUMNS.items()}
            out.append(Evidence(r.n, r.title, rec, abstract_sentences(rec.abstract), cells))
        return out

    def pick(self, papers: list[Evidence], evt: gr.SelectData) -> Any:
        """A click on a cell: its paper's card picked, and the cell's sentence highlighted in the abstract ([n] and
        Paper cells, and an empty cell, pick the card alone)."""
        index = evt.index if isinstance(evt.index, (list, tuple)) and len(evt.index) == 2 else None
        if index is None:
            return gr.skip()
        # the row's [n] (the table may be sorted by a column); its position when the row value is missing
        label = str((evt.row_value or [""])[0])
        n = int(label.strip("[]")) if label.strip("[]").isdigit() else None
        paper = next((e for e in papers if e.n == n), None) or (papers[index[0]] if 0 <= index[0] < len(papers) else None)
        if paper is None:
            return gr.skip()
        return panel_html(papers, paper.n, paper.cells.get(index[1]))
