"""A question worded unlike every abstract: the search is unsure of its top paper (a low fused score, barely above
the next, few of the question's words in the top papers), ranks by meaning alone, and the answer says that no paper
matches closely (rag/search/retriever.py is_unsure, rag/answer/answerer.py WEAK_MATCH)."""

from __future__ import annotations

from testing.seeds import make_settings

# a task-grouping paper (STG-MTL) described in other words
UNSURE = ("Is there a method that sorts many learning objectives into groups trained together in one network, by how "
          "confident and how variable each example's predictions are?")
TITLE = "S-LoRA: Serving Thousands of Concurrent LoRA Adapters"


def test_an_unsure_search_ranks_by_meaning_alone(retriever, full_settings):
    from rag.search.retriever import Retriever

    found = retriever.find(UNSURE, k=10)
    assert found.unsure
    by_meaning = Retriever(make_settings(full_settings.home, bm25_weight=0.0)).find(UNSURE, k=10)
    assert [h.paper_id for h in found.hits] == [h.paper_id for h in by_meaning.hits]
    off = Retriever(make_settings(full_settings.home, meaning_fallback=False)).find(UNSURE, k=10)
    assert not off.unsure


def test_a_clear_question_keeps_its_fused_ranking(retriever):
    assert not retriever.find(TITLE).unsure  # a title stands far out
    # several papers answering is not uncertainty: close scores at the top are what such a question expects
    assert not retriever.find(UNSURE, several=True).unsure
    # a name only a few papers mention points at them (BM25 finds them by it)
    assert not retriever.find("How many GPUs were used to train StructLM?").unsure


def test_the_answer_says_no_paper_matches_closely(retriever, full_settings):
    from rag.answer.answerer import WEAK_MATCH, Answerer

    answerer = Answerer(make_settings(full_settings.home, llm="extractive"), retriever=retriever)
    weak = answerer.ask(UNSURE)
    assert weak.weak_match and WEAK_MATCH in weak.caveats and not weak.abstained
    assert weak.citations and weak.to_dict()["weak_match"] is True
    clear = answerer.ask(f"What does {TITLE} propose?")
    assert not clear.weak_match and WEAK_MATCH not in clear.caveats


def test_rag_search_says_it_ranked_by_meaning(cli, full_settings):
    unsure = cli("search", UNSURE, "-k", "3", home=full_settings.home)
    assert unsure.returncode == 0, unsure.stderr
    assert "no paper matches closely" in unsure.stderr and "RAG_MEANING_FALLBACK=false" in unsure.stderr
    clear = cli("search", TITLE, "-k", "3", home=full_settings.home)
    assert clear.returncode == 0 and "no paper matches closely" not in clear.stderr


def test_the_llm_is_told_when_no_paper_matches_closely(retriever, full_settings, monkeypatch):
    """In the LLM mode the prompt says the sources are only the nearest and how to decline; a model that declines
    gets the abstention with the nearest papers (a real HTTP server on 127.0.0.1, scripted replies)."""
    from rag.answer.answerer import Answerer
    from rag.answer.prompt import ABSTAIN_PHRASE, WEAK_NOTE
    from testing.scripted_http import good_stream, scripted_server

    httpd, seen = scripted_server([good_stream(ABSTAIN_PHRASE), good_stream()])
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{httpd.server_address[1]}/v1")
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        answerer = Answerer(make_settings(full_settings.home, llm="openai", llm_retries=0), retriever=retriever)
        weak = answerer.ask(UNSURE, mode="llm")
        assert WEAK_NOTE in seen[0]["body"]["messages"][-1]["content"]
        assert weak.abstained and weak.weak_match and weak.nearest
        answerer.ask(f"What does {TITLE} propose?", mode="llm")
        assert WEAK_NOTE not in seen[1]["body"]["messages"][-1]["content"]
    finally:
        httpd.shutdown()
        httpd.server_close()
