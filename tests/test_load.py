"""Many answers at once: each must be the answer the same question gets when asked alone.

Real components throughout: one shared Answerer on the full index (50 threads, released together by
a barrier), the real `rag serve` through 20 gradio_client Clients at once, and llama.cpp's server
with three LLM answers streaming at once. The question mix (testing/load.py; bench/load.py times the
same loads) has answerable, unanswerable, date-filtered, other-k and follow-up questions.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from rag.store.paths import Paths
from testing.load import Case, ask_api, ask_web, cases, snapshot, together

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # gradio_client, below

MIX = cases()


def assert_same_as_alone(load: list[Case], got: list[Any], alone: dict[Case, dict]) -> None:
    """Every answer under load completed and equals (text, citations, sources and their supporting
    sentences, abstention, evidence; timings aside) the answer the same question got alone."""
    failed = [(c.label(), r) for c, r in zip(load, got) if isinstance(r, BaseException)]
    assert not failed, failed
    for case, result in zip(load, got):
        snap = snapshot(result)
        want = alone[case]
        assert snap["question"] == want["question"]
        assert snap["answer"] == want["answer"], case.label()
        assert snap["citations"] == want["citations"], case.label()
        assert [(s["paper_id"], s["supporting"]) for s in snap["sources"]] == \
            [(s["paper_id"], s["supporting"]) for s in want["sources"]], case.label()
        assert snap["abstained"] == want["abstained"], case.label()
        assert snap == want, case.label()  # and everything else (scores, evidence, flags, nearest)


def test_the_mix_has_every_kind_of_question():
    """So that the loads below exercise abstention, date filters, k and follow-ups, not one code path."""
    assert len(set(MIX)) == len(MIX) >= 25
    assert sum(bool(c.since or c.until) for c in MIX) >= 4
    assert len({c.k for c in MIX}) >= 4
    assert sum(bool(c.history) for c in MIX) >= 3


# --------------------------------------------------------------------------- the Python API

@pytest.fixture(scope="module")
def answerer(full_settings):
    """One Answerer shared by every thread (documented as thread-safe for reading)."""
    from rag.answer.answerer import Answerer

    return Answerer(full_settings)


@pytest.fixture(scope="module")
def api_alone(answerer) -> dict[Case, dict]:
    """Each question of the mix asked alone, one after the other."""
    return {case: snapshot(ask_api(answerer, case)) for case in MIX}


def test_the_answers_alone_cover_abstentions_and_cited_answers(api_alone):
    answers = list(api_alone.values())
    assert sum(a["abstained"] for a in answers) >= 4
    assert sum(bool(a["citations"]) for a in answers) >= 15
    follow = api_alone[MIX[-1]]  # "what about [2]?": answered from the second paper of the earlier turn
    assert follow["citations"][0]["paper_id"] == MIX[-1].history[0]["citations"][1]["paper_id"]
    for case, a in api_alone.items():
        if case.since and not a["abstained"]:
            assert all(s["date"] >= case.since for s in a["sources"]), case.label()


def test_fifty_answers_at_once_equal_the_answers_alone(answerer, api_alone):
    load = [MIX[i % len(MIX)] for i in range(50)]  # every question twice (or so), all at once
    got, _, _ = together(lambda case: ask_api(answerer, case), load)
    assert_same_as_alone(load, got, api_alone)
    assert len({snapshot(g)["answer"] for g in got}) == len({api_alone[c]["answer"] for c in load})


def test_fifty_searches_at_once_equal_the_searches_alone(answerer):
    from datetime import date

    retriever = answerer.retriever
    queries = [(c.question, (5, 10, 20)[i % 3], date.fromisoformat(c.since) if c.since else None,
                date.fromisoformat(c.until) if c.until else None) for i, c in enumerate(MIX)]
    queries = [queries[i % len(queries)] for i in range(50)]

    def search(q: tuple) -> list[dict]:
        text, k, since, until = q
        return [h.to_dict() for h in retriever.search(text, k=k, since=since, until=until)]

    alone = {q: search(q) for q in set(queries)}
    got, _, _ = together(search, queries)
    assert not [g for g in got if isinstance(g, BaseException)]
    for q, hits in zip(queries, got):
        assert hits == alone[q], q[0]
        assert 0 < len(hits) <= q[1]


def test_searches_at_once_while_another_client_ingests(tmp_path, seeds_writer, chroma_server):
    """A long-lived Retriever (the app's) picks up another client's ingest while 20 searches run at once:
    each search uses one whole index, none fails, all find the new paper, the saved side index loads again.
    Through a Chroma server, where two clients share a collection (the embedded store's case is the next test)."""
    from rag.ingestion.pipeline import ingest
    from rag.search.retriever import FRESHNESS_SECONDS, Retriever
    from rag.store.side_index import SideIndex
    from testing.clock import FakeClock
    from testing.seeds import make_settings

    folder = tmp_path / "seeds"
    seeds_writer(folder, "001_a.txt", [f"Paper about {t}" for t in ("tide pools", "glacier melt", "coral reefs")])
    settings = make_settings(tmp_path / "home", seeds=folder, chroma_url=chroma_server.url, collection="load")
    ingest(settings)
    clock = FakeClock()
    retriever = Retriever(settings, clock=clock)
    new = ["Paper about volcanic ash clouds", "Paper about volcanic lightning", "Paper about lava tubes"]
    seeds_writer(folder, "002_b.txt", new)
    ingest(settings.model_copy(update={"home": tmp_path / "other-home"}))  # another client, its own side index
    clock.advance(FRESHNESS_SECONDS)  # the next search checks the store again

    got, _, _ = together(lambda _: retriever.search("volcanic ash clouds", k=6), list(range(20)))
    assert not [g for g in got if isinstance(g, BaseException)], got
    assert all(hits[0].title == new[0] and len(hits) == 6 for hits in got)
    assert len(retriever.papers()) == 6
    assert SideIndex.load(Paths.of(settings).side_index_dir, retriever.index.fingerprint) is not None


def test_an_embedded_store_shows_a_running_process_what_another_process_ingested(cli, tmp_path, seeds_writer):
    """`rag serve` on the embedded store, with another process ingesting: once the marker changes, the next
    searches (20 at once here) use the new vectors, not only the BM25 side. Chroma keeps the vector index it
    loaded while a client is open, so the Retriever reopens its store (tried without that: the dense search kept
    returning the old five papers for a question about vLLM)."""
    import shutil

    from rag.search.retriever import FRESHNESS_SECONDS, Retriever
    from testing.clock import FakeClock
    from testing.seeds import SEEDS, make_settings, small_seeds

    folder = small_seeds(tmp_path / "seeds")
    home = tmp_path / "home"
    env = {"RAG_SEEDS": str(folder)}
    assert cli("ingest", home=home, env=env).returncode == 0  # another process, as `rag ingest` beside the app
    clock = FakeClock()
    retriever = Retriever(make_settings(home, seeds=folder), clock=clock)
    question = "How does vLLM use PagedAttention to reduce KV cache memory waste?"
    vllm = "Efficient Memory Management for Large Language Model Serving with PagedAttention"
    assert vllm not in {h.title for h in retriever.search(question, k=3)}
    for f in SEEDS.glob("*.txt"):  # the 615 real papers join the five
        shutil.copy(f, folder)
    assert cli("ingest", home=home, env=env).returncode == 0
    clock.advance(FRESHNESS_SECONDS)
    old_store = retriever.store

    assert retriever.search(question, k=3)[0].title == vllm  # this search found the new marker: store reopened
    assert retriever.store is not old_store
    got, _, _ = together(lambda _: retriever.search(question, k=3), list(range(20)))
    assert not [g for g in got if isinstance(g, BaseException)], got
    assert all(hits[0].title == vllm for hits in got)
    dense = retriever.store.query(retriever.embedder.embed([question])[0], 3, None)  # the vector side alone
    idx = retriever.index
    assert vllm in {idx.metas[idx.position[cid]]["title"] for cid, _ in dense if cid in idx.position}


# --------------------------------------------------------------------------- the app's /ask endpoint

def test_twenty_clients_at_once_get_the_answers_asked_alone(app_url, api_alone):
    """20 callers, each with its own Client (session), against the app's answer queue (ui/api.py CONCURRENCY)."""
    from gradio_client import Client

    mix = MIX[len(MIX) - 20:]  # the unanswerable, dated, k and follow-up questions, and some answerable ones
    client = Client(app_url, verbose=False)
    alone = {case: snapshot(ask_web(client, case)) for case in mix}
    for case in mix:  # the app answers as the Python API does (same index, same settings)
        assert alone[case]["answer"] == api_alone[case]["answer"], case.label()
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda _: Client(app_url, verbose=False), mix))
    got, _, _ = together(lambda i: ask_web(clients[i], mix[i]), list(range(len(mix))), timeout=180)
    assert all(isinstance(g, BaseException) or g["done"] for g in got)
    assert_same_as_alone(mix, got, alone)


# --------------------------------------------------------------------------- LLM answers at once

LLM_QUESTION = "How can one GPU serve thousands of LoRA adapters of the same base model?"


def test_llm_answers_at_once_queue_instead_of_breaking_each_other(llm_server, monkeypatch, full_settings, retriever):
    """llama-cpp-python's server, by default, ended a running stream when another request arrived (against
    such a server two of these three answers broke off); llama.cpp's own server (the bundled one) queues
    requests beyond its slots, so simultaneous answers wait their turn. One question three times: the
    model is slow here (prompt evaluation dominates), and llama.cpp reuses the cached prompt."""
    from rag.answer.answerer import Answerer
    from rag.llm.server import CONTEXT_WINDOW, MODEL_ALIAS
    from rag.types import Answer

    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = full_settings.model_copy(update={
        "llm": "openai", "llm_model": MODEL_ALIAS, "llm_context_window": CONTEXT_WINDOW, "llm_max_tokens": 24,
        "llm_retries": 0, "llm_timeout": 600, "answer_k": 1})
    answerer = Answerer(settings, retriever=retriever)

    def stream(question: str) -> tuple[str, Answer]:
        items = list(answerer.stream(question, mode="llm"))
        return "".join(i for i in items if isinstance(i, str)), items[-1]

    _, alone = stream(LLM_QUESTION)
    got, _, _ = together(stream, [LLM_QUESTION] * 3, timeout=600)
    assert not [g for g in got if isinstance(g, BaseException)], got  # an interrupted stream is an LLMError
    for text, answer in got:
        assert answer.mode == "llm" and text.strip() and (answer.abstained or text == answer.text)
        assert snapshot(answer) == snapshot(alone)  # temperature 0: the answer it gets alone
