"""The chat tab's handlers: stream one answer into the chat, then fill the sources panel and the figures; then offer
the last answer with its references (Markdown to copy, BibTeX to download)."""

from __future__ import annotations

import tempfile
import time
from html import escape
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr

from rag import Answer, PaperRecord, RagError
from ui import render
from ui.backend import Backend, render_sentence, user_error

CURSOR = " ▍"  # shown at the end of the text while the answer is still being written


def messages(answers: list[Answer]) -> list[dict[str, str]]:
    """The chat as Gradio messages, rebuilt from the session's answers (the answers are the truth)."""
    out: list[dict[str, str]] = []
    for t, a in enumerate(answers):
        out.append({"role": "user", "content": render.markdown_text(a.question)})
        out.append({"role": "assistant",
                    "content": render.caveat_lines(a) + render.answer_markdown(a.text, t, a.sources) + render.flag_note(a)})
    return out


def make_chat_turn(backend: Backend) -> Callable[..., Iterator[tuple[Any, ...]]]:
    """The handler for Enter / Ask: (question, answers, k, since, until, mode) -> streamed page updates.

    Outputs: question box, chat, sources panel, figures, answers (the session's state).
    """

    def chat_turn(question: str, answers: list[Answer], k: float, since: str, until: str,
                  mode: str) -> Iterator[tuple[Any, ...]]:
        t0 = time.perf_counter()
        question = (question or "").strip()
        if not question:  # a warning, not gr.Error: an error would cover the chat until the next question
            gr.Warning("The question is empty. Type a question about the papers, then press Enter.",
                       title="Nothing to answer")
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        turn = len(answers)
        chat = messages(answers) + [{"role": "user", "content": render.markdown_text(question)},
                                    {"role": "assistant", "content": "Searching the papers…"}]
        yield "", chat, gr.skip(), "searching…", gr.skip()
        first_ms: float | None = None
        text = ""
        try:
            for text, final in backend.stream(question, answers, int(k), since, until, mode):
                if final is None:
                    first_ms = first_ms or _ms(t0)
                    chat = chat[:-1] + [{"role": "assistant", "content": render.answer_markdown(text, turn) + CURSOR}]
                    yield gr.skip(), chat, gr.skip(), gr.skip(), gr.skip()
                    continue
                for notice in final.notices:  # e.g. a pasted text shortened to the question budget
                    gr.Info(escape(render_sentence(notice), quote=False), title="Note")
                done = answers + [final]
                total_ms = _ms(t0)
                figures = render.figures(final, first_ms or total_ms, total_ms)
                yield "", messages(done), render.sources_html(done), figures, done
                return
        except RagError as e:
            if text:  # part of an answer was shown: keep it, say it is incomplete, and let the person go on
                note = "\n\n*[answer incomplete]*"
                chat = chat[:-1] + [{"role": "assistant", "content": render.answer_markdown(text, turn) + note}]
                gr.Warning(user_error(e).message, title="The answer stopped")
                yield question, chat, gr.skip(), "", gr.skip()
                return
            gr.Warning(user_error(e).message, title="Could not answer")
            yield question, messages(answers), gr.skip(), "", gr.skip()  # the chat as it was; the question kept

    return chat_turn


def example_text(evt: gr.SelectData) -> str:
    """The question of the example clicked in the empty chat (then asked like one typed)."""
    return evt.value["text"] if isinstance(evt.value, dict) else str(evt.value or "")


def new_conversation() -> tuple[Any, ...]:
    """Forget the session's answers: empty chat, empty sources panel, no figures."""
    return [], render.sources_html([]), "", []


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


def make_references(backend: Backend) -> Callable[[list[Answer]], tuple[Any, ...]]:
    """The handler run after each turn: (answers) -> the references' group shown or hidden, the answer with its
    Markdown references (to copy), the .bib file (to download).

    Shown only when the last answer cites a paper; the papers' whole records come from the index."""

    def lookup(paper_id: str) -> PaperRecord | None:
        try:
            return backend.paper(paper_id)
        except RagError:  # the source's own record is used instead
            return None

    def references(answers: list[Answer]) -> tuple[Any, ...]:
        from rag import answer_with_references, references_bibtex

        last = answers[-1] if answers else None
        if last is None or not last.citations:
            return gr.update(visible=False), "", None
        text = answer_with_references(last, "markdown", lookup)
        bib = Path(tempfile.mkdtemp(prefix="rag-references-")) / "references.bib"  # a folder Gradio serves from
        bib.write_text(references_bibtex(last, lookup), encoding="utf-8")
        return gr.update(visible=True), text, str(bib)

    return references
