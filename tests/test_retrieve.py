"""Hybrid search on the shared full index of the real seeds (read-only), plus a small multi-chunk index."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from testing.seeds import EVAL_QUESTIONS, make_settings, open_store, seed_file
from rag.errors import IndexMissingError, RagError
from rag.text.terms import tokenize
from rag.search.retriever import MAX_QUERY_CHARS, Retriever

KNOWN_TITLES = [
    "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
    "Intelligence per Watt: Measuring Intelligence Efficiency of Local AI",
    "MPIrigen: MPI Code Generation through Domain-Specific Language Models",
    "AgentPS: Agentic Process Supervision for Multi-modal Content Quality Assurance through Multi-round QA",
    "LoRA-SP: Streamlined Partial Parameter Adaptation for Resource-Efficient Fine-Tuning of Large Language Models",
    "Pervasive Label Errors in Test Sets Destabilize Machine Learning Benchmarks",
    "Mini-Monkey: Multi-Scale Adaptive Cropping for Multimodal Large Language Models",
    "Multiverse: Your Language Models Secretly Decide How to Parallelize and Merge Generation",
    "MiniCPM: Unveiling the Potential of Small Language Models with Scalable Training Strategies",
    "Ensembles of Compact, Region-specific & Regularized Spiking Neural Networks for Scalable Place Recognition",
]
QUERIES = ["serving large language models with less GPU memory", "spiking neural networks for robots",
           "label noise in benchmark test sets", "mixture of experts inference"]


@pytest.fixture(scope="module")
def papers_by_title(corpus):
    return {p.title: p for p in corpus.papers}


def test_full_index_summary(full_index, corpus):
    settings, s = full_index
    assert (s.papers, s.records, s.added, s.updated, s.unchanged, s.removed, s.skipped) == (615, 705, 615, 0, 0, 0, 0)
    assert s.chunks == open_store(settings).count() >= 615


@pytest.mark.parametrize("title", KNOWN_TITLES)
def test_title_finds_its_paper_first(retriever, papers_by_title, title):
    hits = retriever.search(title, k=5)
    assert hits[0].paper_id == papers_by_title[title].paper_id
    assert hits[0].title == title


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("k", [1, 7, 40])
def test_one_hit_per_paper_and_k(retriever, query, k):
    hits = retriever.search(query, k=k)
    assert len(hits) == k  # the corpus has far more than k matching papers
    ids = [h.paper_id for h in hits]
    assert len(set(ids)) == len(ids)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_default_k_is_top_k(retriever):
    assert len(retriever.search(QUERIES[0])) == retriever.settings.top_k


def test_hit_fields_match_the_corpus(retriever, papers_by_title):
    title = "Intelligence per Watt: Measuring Intelligence Efficiency of Local AI"
    paper = papers_by_title[title]
    hit = retriever.search("intelligence per watt of local inference", k=3)[0]
    assert hit.paper_id == paper.paper_id
    assert hit.date == paper.published.isoformat()
    assert hit.text == paper.abstract  # one chunk: the whole abstract, without the title
    assert hit.chunk_id == f"{paper.paper_id}:0"
    assert paper.abstract.startswith(hit.snippet.rstrip("…"))
    assert len(hit.snippet) <= 241 and hit.snippet.endswith("…") == (len(paper.abstract) > 240)
    assert hit.metadata["organization"] == paper.organization and hit.metadata["upvotes"] == paper.upvotes


@pytest.mark.parametrize("since, until", [
    (date(2025, 1, 1), None),
    (None, date(2023, 12, 31)),
    (date(2024, 1, 1), date(2024, 12, 31)),
    (date(2024, 6, 1), date(2024, 6, 1)),
])
def test_date_filters(retriever, corpus, since, until):
    expected = {p.paper_id for p in corpus.papers if p.published
                and (since is None or p.published >= since) and (until is None or p.published <= until)}
    hits = retriever.search("language models", k=200, since=since, until=until)
    for h in hits:
        assert h.date is not None  # undated papers never pass a bound
        d = date.fromisoformat(h.date)
        assert (since is None or d >= since) and (until is None or d <= until)
    # with a bound only dated papers compete, and the dense side returns every one of them
    assert {h.paper_id for h in hits} == expected


def test_date_filter_excludes_undated_papers(retriever, papers_by_title):
    title = KNOWN_TITLES[0]  # ZeRO: no date on any page
    assert papers_by_title[title].published is None
    assert retriever.search(title, k=1)[0].title == title
    assert title not in {h.title for h in retriever.search(title, k=50, since=date(2000, 1, 1))}
    assert title not in {h.title for h in retriever.search(title, k=50, until=date(2100, 1, 1))}


def test_date_range_with_no_paper_is_empty(retriever):
    assert retriever.search("language models", since=date(2030, 1, 1)) == []


@pytest.mark.parametrize("query, since, until, words", [
    ("", None, None, "empty"),
    ("   \n\t ", None, None, "empty"),
    ("word " * 1000, None, None, "characters"),
    ("language models", date(2025, 1, 2), date(2025, 1, 1), "after"),
])
def test_bad_queries_raise(retriever, query, since, until, words):
    with pytest.raises(RagError) as err:
        retriever.search(query, since=since, until=until)
    assert words in err.value.message and err.value.hint


def test_query_at_the_length_limit_is_accepted(retriever):
    query = ("memory " * 1000)[:MAX_QUERY_CHARS]
    assert len(retriever.search(query, k=3)) == 3


def test_fusion_at_least_as_good_as_bm25_alone(full_settings, retriever, papers_by_title):
    questions = [json.loads(line) for line in EVAL_QUESTIONS.read_text().splitlines() if line.strip()]
    assert len(questions) == 70

    def hit_at_5(r: Retriever) -> int:
        n = 0
        for q in questions:
            want = {papers_by_title[t].paper_id for t in q["expected_titles"]}
            n += bool(want & {h.paper_id for h in r.search(q["question"], k=5)})
        return n

    bm25_only = Retriever(make_settings(full_settings.home, dense_weight=0.0))
    fused, lexical = hit_at_5(retriever), hit_at_5(bm25_only)
    assert fused >= lexical
    assert fused >= 0.8 * len(questions)


def test_missing_index_raises_with_hint(tmp_path):
    with pytest.raises(IndexMissingError) as err:
        Retriever(make_settings(tmp_path / "nothing-here"))
    assert "rag ingest" in err.value.hint


def test_empty_collection_raises_with_hint(tmp_path):
    settings = make_settings(tmp_path / "home")
    open_store(settings, create=True)  # what ingest has done before its first batch is embedded and written
    with pytest.raises(IndexMissingError) as err:
        Retriever(settings)
    assert "empty" in err.value.message and "rag ingest" in err.value.hint


# --------------------------------------------------------------------------- multi-chunk papers

@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    """One real seed file ingested with small chunks, so most papers have several chunks.

    candidates=1000 is above the chunk count: the dense retriever then ranks every paper.
    """
    from rag.ingestion.pipeline import ingest

    path = seed_file("001")
    # term_mapping off: these tests recompute the two rankings from the question's own words
    settings = make_settings(tmp_path_factory.mktemp("chunked"), chunk_size=64, chunk_overlap=8, candidates=1000,
                             term_mapping=False)
    s = ingest(settings, [path])
    assert s.chunks > 2 * s.papers
    questions = [q["question"] for q in map(json.loads, EVAL_QUESTIONS.read_text().splitlines())
                 if q["source_file"] == path.name]
    return settings, questions


def paper_ranks(r: Retriever, query: str) -> tuple[dict[str, int], dict[str, int]]:
    """Each paper's 1-based rank in the dense and in the BM25 retriever, by its best chunk."""
    idx = r.index
    dense = r.store.query(r.embedder.embed([query])[0], r.settings.candidates)
    bm25 = idx.bm25_scores(tokenize([query])[0], r.settings.pair_weight)
    lexical = [idx.ids[i] for i in np.argsort(-bm25, kind="stable") if bm25[i] > 0][: r.settings.candidates]

    def ranks(chunk_ids):
        out: dict[str, int] = {}
        for cid in chunk_ids:
            out.setdefault(idx.metas[idx.position[cid]]["paper_id"], len(out) + 1)
        return out

    return ranks(cid for cid, _ in dense), ranks(lexical)


def test_multi_chunk_papers_one_hit_each(chunked):
    settings, questions = chunked
    r = Retriever(settings)
    assert len(r.index.ids) > len(r.papers())
    for q in questions:
        hits = r.search(q, k=20)
        assert len(hits) == 20 and len({h.paper_id for h in hits}) == 20


def test_hit_ranks_are_paper_ranks(chunked):
    settings, questions = chunked
    r = Retriever(settings)
    for q in questions:
        dense, lexical = paper_ranks(r, q)
        for h in r.search(q, k=10):
            assert h.dense_rank == dense[h.paper_id]
            assert h.bm25_rank == lexical.get(h.paper_id)


def test_rrf_score_adds_both_retrievers_per_paper(chunked):
    settings, questions = chunked
    s = make_settings(settings.home, chunk_size=64, chunk_overlap=8, candidates=1000, fusion="rrf", term_mapping=False)
    r = Retriever(s)
    for q in questions:
        dense, lexical = paper_ranks(r, q)
        for h in r.search(q, k=10):
            expected = s.dense_weight / (s.rrf_k + dense[h.paper_id])
            if h.paper_id in lexical:
                expected += s.bm25_weight / (s.rrf_k + lexical[h.paper_id])
            assert h.score == pytest.approx(expected, abs=1e-6), h.title


def test_word_pairs_favour_the_phrase():
    from rag.store.side_index import SideIndex
    from rag.text.terms import bigrams

    assert bigrams(["mixtur", "expert", "rout"]) == ["mixtur_expert", "expert_rout"]
    docs = [
        "we route tokens to a mixture of experts in every layer",  # the phrase
        "the experts agree that a mixture of methods helps",  # both words, apart
        "an unrelated abstract about protein folding",
    ]
    metas = [{"paper_id": f"p{i}"} for i in range(3)]
    idx = SideIndex.build(["a", "b", "c"], docs, metas, np.eye(3, 4), "fp", dim=4)
    tokens = tokenize(["mixture of experts"])[0]
    plain, phrased = idx.bm25_scores(tokens), idx.bm25_scores(tokens, pair_weight=0.5)
    assert phrased[0] > plain[0] and phrased[1] == pytest.approx(plain[1])
    assert phrased[0] - phrased[1] > plain[0] - plain[1]
    assert phrased[2] == 0


def test_top_positions_matches_a_stable_full_sort():
    """The partial selection used for BM25 candidates gives exactly what a stable argsort would, ties included."""
    from rag.search.fusion import top_positions

    rng = np.random.default_rng(1)
    for _ in range(300):
        n, k = int(rng.integers(1, 400)), int(rng.integers(1, 120))
        scores = np.round(rng.random(n) * 5, 1)  # coarse values: many ties at the cut
        scores[rng.random(n) < 0.4] = -np.inf  # filtered out
        want = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]
        assert top_positions(scores, k) == want
    assert top_positions(np.full(5, -np.inf), 3) == []
