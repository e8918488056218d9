"""The Gradio app: a cited chat with the evidence beside it, and a paper browser. `rag serve` starts it.

Offline by construction: analytics off before Gradio is imported, a theme with system fonts only
(no Google Fonts), and the page's own CSS and script inline.
"""

from __future__ import annotations

import importlib.util
import os

# The one piece of work at import time, and it must come before `import gradio`: Gradio looks up outside hosts
# (analytics, version check) unless GRADIO_ANALYTICS_ENABLED=False, and huggingface_hub, which gradio imports,
# reads HF_HUB_OFFLINE once, when it is imported. setdefault: a value the caller set explicitly wins.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from typing import TYPE_CHECKING, Any  # noqa: E402

import gradio as gr  # noqa: E402

from rag import ConfigError  # noqa: E402
from ui import api, assets, examples, render  # noqa: E402
from ui.backend import Backend  # noqa: E402
from ui.chat import example_text, make_chat_turn, make_references, new_conversation  # noqa: E402
from ui.compare_tab import CompareTab  # noqa: E402
from ui.papers import PapersTab, ask_question  # noqa: E402
from ui.upload import UploadPanel  # noqa: E402

if TYPE_CHECKING:
    from rag import Settings

SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
MAX_UPLOAD = "200mb"  # one uploaded file at most (gradio refuses a larger one before it reaches us)


def theme() -> gr.themes.Base:
    """The default look with local fonts only (the default theme names web fonts)."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def _model_text(backend: Backend) -> str:
    if backend.llm_available():
        from rag import llm_base_url as base_url

        return f"Model: **{backend.settings.llm_model}** at {base_url()} · offline mode available"
    return ("Model: none. Answers are the abstracts' own sentences, cited (offline). "
            "Set OPENAI_BASE_URL or OPENAI_API_KEY to add an LLM mode.")


def build(settings: Settings, backend: Backend | None = None) -> gr.Blocks:
    """The page: Chat (answer + sources panel + controls), Compare and Papers (+ upload) tabs, plus the API endpoints."""
    backend = backend or Backend(settings)
    chat_turn = make_chat_turn(backend)
    with gr.Blocks(title="rag-papers: cited answers") as demo:
        gr.Markdown("### Ask the papers: answers cited from Hugging Face Daily Papers abstracts")
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(elem_id="chat", height=520, latex_delimiters=[], feedback_options=None,
                                             buttons=["copy"], show_label=False,
                                             placeholder="Ask a question, or pick an example below: the answer "
                                                         "cites its papers as [n]; click [n] to see the evidence.",
                                             examples=[{"text": q} for q in examples.CHAT])
                        with gr.Row():
                            question = gr.Textbox(placeholder="Ask about the papers, then press Enter",
                                                  show_label=False, scale=6, lines=1, max_lines=1, autofocus=True,
                                                  elem_id="question")
                            send = gr.Button("Ask", variant="primary", scale=0, min_width=80, elem_id="send")
                            clear = gr.Button("New chat", scale=0, min_width=100, elem_id="new")
                        # the last answer with its references: shown once an answer cites a paper
                        with gr.Column(visible=False, elem_id="refs") as refs:
                            with gr.Row():
                                copy = gr.Button("Copy answer with references", size="sm", scale=0, min_width=250,
                                                 elem_id="copy-refs")
                                bib = gr.DownloadButton("Download .bib", size="sm", scale=0, min_width=150,
                                                        elem_id="download-bib")
                            with gr.Accordion("Answer with references, to select and copy by hand", open=False,
                                              elem_id="refs-box"):
                                refs_text = gr.Textbox(show_label=False, lines=6, max_lines=16, elem_id="refs-text")
                        figures = gr.Markdown(elem_id="figures", elem_classes="figures")
                        with gr.Row():
                            k = gr.Slider(1, 20, value=settings.answer_k, step=1, label="Number of sources")
                            since = gr.Textbox(label="From date", placeholder="YYYY-MM-DD", max_lines=1)
                            until = gr.Textbox(label="To date", placeholder="YYYY-MM-DD", max_lines=1)
                            choices = backend.mode_choices()
                            mode = gr.Radio(choices, value=choices[0], label="Answer mode")
                        gr.Markdown(_model_text(backend), elem_classes="figures")
                    with gr.Column(scale=2):
                        sources = gr.HTML(render.sources_html([]), elem_id="sources", label="Sources")
            with gr.Tab("Compare", id="compare"):
                CompareTab(backend).build()
            with gr.Tab("Papers", id="papers") as papers_tab:
                upload = UploadPanel(backend)
                upload.build()
                papers = PapersTab(backend)
                papers.build()
                upload.wire(papers)
        answers = gr.State([])

        # Enter, Ask, an example question and "Ask about this paper" run the same turn, at most CONCURRENCY at once
        turn = dict(fn=chat_turn, inputs=[question, answers, k, since, until, mode],
                    outputs=[question, chatbot, sources, figures, answers], api_visibility="private",
                    concurrency_limit=api.CONCURRENCY, concurrency_id="answer", show_progress="hidden")
        # after every turn (and a new chat): the last answer's references, or nothing when it cites no paper
        references = dict(fn=make_references(backend), inputs=[answers], outputs=[refs, refs_text, bib],
                          api_visibility="private", show_progress="hidden")
        question.submit(**turn).then(**references)
        send.click(**turn).then(**references)
        chatbot.example_select(example_text, None, [question], api_visibility="private",
                               queue=False).then(**turn).then(**references)
        for forget in (clear.click, chatbot.clear):  # the chat's own trash button forgets the answers too
            forget(new_conversation, None, [chatbot, sources, figures, answers],
                   api_visibility="private").then(**references)
        papers.ask_btn.click(
            lambda rec: (gr.Tabs(selected="chat"), ask_question(rec.title) if rec else ""),
            [papers.selected], [tabs, question], api_visibility="private",
        ).then(**turn).then(**references)
        copy.click(None, [refs_text], None, js=assets.COPY_REFERENCES)  # in the browser: no round trip
        # the table is filled when the tab is first opened, not on page load: the chat comes first
        papers_tab.select(papers.fill_once, [papers.query, papers.count], [papers.table, papers.count],
                          api_visibility="private")
        papers_tab.select(upload.fill_sources, None, [upload.sources], api_visibility="private", queue=False)
        papers_tab.select(upload.choices, None, [upload.chosen], api_visibility="private", queue=False)
        api.register(backend)
    return demo


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def logins(settings: Settings) -> list[tuple[str, str]]:
    """RAG_APP_AUTH ('user:password', comma-separated) as Gradio's auth list; [] when unset."""
    if settings.app_auth is None:
        return []
    pairs = []
    for item in settings.app_auth.get_secret_value().split(","):
        user, sep, password = item.strip().partition(":")
        if not (sep and user and password):
            raise ConfigError("RAG_APP_AUTH must be 'user:password' (several separated by commas)",
                              "set it like RAG_APP_AUTH=alice:a-long-password")  # never echo the value
        pairs.append((user, password))
    return pairs


def check_exposure(host: str, auth: list[tuple[str, str]], no_auth: bool) -> None:
    """Serving beyond this machine without a login is refused unless asked for explicitly."""
    if host in LOOPBACK or host.startswith("127.") or auth or no_auth:
        return
    raise ConfigError(f"--host {host} would let anyone who can reach this machine use the app without a login",
                      "set RAG_APP_AUTH=user:password, or pass --no-auth if the network is trusted")


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860, mcp: bool = False,
          block: bool = True, no_auth: bool = False) -> Any:
    """Open the index, build the page and serve it; blocks until Ctrl-C unless block=False."""
    if mcp and importlib.util.find_spec("mcp") is None:
        raise ConfigError("the MCP server needs the mcp package", "pip install 'gradio[mcp]' (see docs/usage.md: MCP)")
    auth = logins(settings)
    check_exposure(host, auth, no_auth)
    backend = Backend(settings)
    problem = backend.warm()  # opens the index and the embedder now, so the first question is fast
    if problem:
        print(f"warning: {problem}; the app starts anyway and says so when asked", flush=True)
    demo = build(settings, backend)
    demo.queue(default_concurrency_limit=api.CONCURRENCY)
    launched = demo.launch(server_name=host, server_port=port, theme=theme(), css=assets.CSS, head=assets.HEAD,
                           js=assets.ON_LOAD, footer_links=["api"], mcp_server=mcp, prevent_thread_lock=True,
                           quiet=False, show_error=True, ssr_mode=False, pwa=False, auth=auth or None,
                           auth_message="Log in to ask the papers (RAG_APP_AUTH)." if auth else None,
                           max_file_size=MAX_UPLOAD)
    if problem is None:
        warm_up(launched[1], auth[0] if auth else None)
    if block:
        demo.block_thread()
    return launched


def warm_up(url: str, login: tuple[str, str] | None = None) -> None:
    """One question through the running server's queue: its first event costs ~1 s more than the next ones
    (measured from the browser), which the first person to ask should not pay."""
    import logging

    from gradio_client import Client

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the client's requests are not news
    try:
        Client(url, verbose=False, auth=login).predict("warm up", api_name="/ask")
    except Exception as e:  # noqa: BLE001  (a failed warm-up only costs the first question its speed)
        print(f"warning: warm-up question failed: {e}", flush=True)

