"""The app's endpoints through gradio_client, against `rag serve` on 127.0.0.1 (offline answers)."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.answer.extractive import third_person
from rag.text.cites import strip_citation_marks
from rag.text.sentences import split_sentences

os.environ.setdefault("HF_HUB_OFFLINE", "1")

VLLM_TITLE = "Efficient Memory Management for Large Language Model Serving with PagedAttention"
VLLM_Q = "How does vLLM use PagedAttention to reduce KV cache memory waste?"
UNANSWERABLE = "What is the boiling point of olive oil in Antarctica?"
ABSTAIN_START = "The corpus does not contain an answer"


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def assert_cited(out: dict) -> None:
    """Every [n] in the text is a citation, every citation is in the text and among the sources."""
    assert out["done"] is True and out["abstained"] is False
    in_text = {int(n) for n in re.findall(r"\[(\d+)\]", out["answer"])}
    cited = {c["n"] for c in out["citations"]}
    assert in_text and in_text == cited
    by_n = {s["n"]: s for s in out["sources"]}
    for c in out["citations"]:
        src = by_n[c["n"]]
        assert src["paper_id"] == c["paper_id"] and src["cited"]
        assert src["supporting"] and all(s in src["text"] for s in src["supporting"])


def test_endpoints_are_documented(client):
    names = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/search", "/paper"} <= set(names)


def test_question_returns_cited_answer(client):
    out = client.predict(VLLM_Q, api_name="/ask")
    assert_cited(out)
    assert out["citations"][0]["title"] == VLLM_TITLE
    assert out["mode"] == "extractive" and out["question"] == VLLM_Q
    assert {"retrieve", "total"} <= set(out["timings_ms"])


def test_answer_streams(client):
    job = client.submit(VLLM_Q, api_name="/ask")
    outputs = list(job)
    partial = [o for o in outputs if not o["done"]]
    assert len(partial) >= 2  # the extractive answer is written paragraph by paragraph
    assert all(b["answer"].startswith(a["answer"]) for a, b in zip(partial, partial[1:]))
    final = job.result()
    assert final["done"] and final["answer"].startswith(partial[-1]["answer"])


def test_unanswerable_question_abstains(client):
    out = client.predict(UNANSWERABLE, api_name="/ask")
    # the place named is in no paper, and the answer says so first
    assert out["abstained"] is True and out["answer"].startswith("No paper in the corpus mentions Antarctica.")
    assert ABSTAIN_START in out["answer"] and out["missing_terms"] == ["Antarctica"]
    assert out["citations"] == [] and out["nearest"]


def test_empty_question_is_a_clear_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="The question is empty. Type a question about the papers."):
        client.predict("   ", api_name="/ask")
    assert client.predict(VLLM_Q, api_name="/ask")["citations"]  # and the app goes on answering


def test_bad_date_is_a_clear_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="YYYY-MM-DD"):
        client.predict(VLLM_Q, 5, "2024-13-45", api_name="/ask")


def test_follow_up_with_history(client):
    first = client.predict("Which methods reduce KV-cache memory?", api_name="/ask")
    assert len(first["citations"]) >= 2
    second = client.predict("what about [2]?", api_name="/ask", history=[first])
    assert_cited(second)
    assert second["citations"][0]["paper_id"] == first["citations"][1]["paper_id"]


def test_search_and_paper(client):
    from gradio_client.exceptions import AppError

    hits = client.predict("speculative decoding", 3, api_name="/search")
    assert len(hits) == 3 and all("speculative" in h["title"].lower() for h in hits)
    everything = client.predict("", api_name="/search")
    assert len(everything) == 615
    rec = client.predict(hits[0]["paper_id"], api_name="/paper")
    assert rec["title"] == hits[0]["title"] and len(rec["abstract"]) > 200
    with pytest.raises(AppError, match="No paper with id"):
        client.predict("p-nope", api_name="/paper")


def test_ten_simultaneous_chats_get_their_own_answers(client):
    papers = client.predict("", api_name="/search")[:10]
    questions = [f"What does the paper {p['title']} propose?" for p in papers]
    alone = [client.predict(q, api_name="/ask") for q in questions]
    jobs = [client.submit(q, api_name="/ask") for q in questions]  # all in flight at once
    with ThreadPoolExecutor(10) as pool:
        together = list(pool.map(lambda job: job.result(timeout=120), jobs))
    for q, a, t in zip(questions, alone, together):
        assert t["question"] == q and t["done"]
        assert t["answer"] == a["answer"] and t["citations"] == a["citations"]
    assert len({t["answer"] for t in together}) == 10


def test_compare_endpoint_returns_a_table_of_own_sentences(client):
    out = client.predict("Which papers tackle serving thousands of LoRA adapters that share one base model?",
                         api_name="/compare")
    assert not out["abstained"] and len(out["rows"]) >= 2
    titles = {r["title"] for r in out["rows"]}
    assert "S-LoRA: Serving Thousands of Concurrent LoRA Adapters" in titles
    for r in out["rows"]:
        abstract = client.predict(r["paper_id"], api_name="/paper")["abstract"]
        for role in ("proposes", "setting", "results"):
            cell = r[role]
            assert (cell["text"] == "") == (cell["sentence"] is None)
            # the cell is its own paper's sentence at its index, in the third person
            assert not cell["text"] or cell["text"] == third_person(strip_citation_marks(
                split_sentences(abstract)[cell["sentence"]]))
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", api_name="/compare")
