"""Automatic term mapping (rag/search/glossary.py): a question's plain words also search the corpus's names."""

from __future__ import annotations

import json
import re

import pytest

from testing.seeds import make_settings
from rag.search.glossary import GLOSSARY, MIN_WORDS, concepts, mapped_concepts

KV = {"terms": ["KV cache", "key-value cache"], "plain": ["attention cache", "cached keys and values", "cache"]}
SPEC = {"terms": ["speculative decoding", "draft model"], "plain": ["guess tokens ahead"]}
# a question in plain words (no "KV", no "key-value") about what the corpus calls the KV cache
PLAIN_KV = "How can serving systems shrink the attention cache that grows with every generated token?"


def mapped_terms(question, path):
    """Every name the search adds for the question, in order (what the retriever searches)."""
    return [t for names in mapped_concepts(question, path) for t in names]


@pytest.fixture
def glossary(tmp_path):
    path = tmp_path / "glossary.json"
    path.write_text(json.dumps([KV, SPEC]), encoding="utf-8")
    return path


@pytest.mark.parametrize("question", [
    "How do I trim the attention cache?",
    "Which methods compress the cache used by attention?",  # any order, other words between
])
def test_a_plain_phrase_maps_to_the_corpus_names(glossary, question):
    assert mapped_terms(question, glossary) == ["KV cache", "key-value cache"]


def test_words_match_by_their_stems(glossary):
    # cached/cache, keys/key, values/value; "key-value cache" is then named already (its words are all there)
    assert mapped_terms("Where are the cached keys and values kept?", glossary) == ["KV cache"]


@pytest.mark.parametrize("question", [
    "Attention to detail matters when the results are written to a slow, distant, disk-based cache.",  # far apart
    "How big is the cache?",  # a one-word phrase is too loose: it never fires
    "What is the attention span of readers?",
])
def test_unrelated_or_loose_wording_maps_to_nothing(glossary, question):
    assert mapped_terms(question, glossary) == []


def test_names_are_grouped_by_concept(glossary):
    assert mapped_concepts("Can a draft model guess tokens ahead to shrink the attention cache?", glossary) == [
        ("KV cache", "key-value cache"), ("speculative decoding",)]


def test_names_the_question_already_uses_are_not_added_again(glossary):
    # "draft model" is named; the guessing described still adds the concept's other name
    assert mapped_terms("Can a draft model guess tokens ahead for a big one?", glossary) == ["speculative decoding"]
    assert mapped_terms("Does the KV cache or the attention cache grow faster?", glossary) == ["key-value cache"]


def test_the_shipped_glossary_names_only_what_the_abstracts_say(corpus):
    """Every name the search adds occurs in some paper, so a mapping can only lead to the corpus's own words."""
    text = " ".join(f"{p.title} {p.abstract}" for p in corpus.papers).lower()
    entries = json.loads(GLOSSARY.read_text(encoding="utf-8"))
    absent = [t for e in entries for t in e["terms"]
              if not re.search(rf"(?<!\w){re.escape(t.lower())}(?!\w)", text)]
    assert not absent, absent
    assert len(concepts()) == len(entries) > 100
    assert all(c.plain for c in concepts()), "a concept no phrase can reach"
    assert all(len(p) >= MIN_WORDS for c in concepts() for p in c.plain)


def test_plain_words_search_the_corpus_names_too(retriever, full_settings):
    from rag.search.retriever import Retriever

    found = retriever.find(PLAIN_KV, k=10)
    assert "KV cache" in found.mapped
    plain = Retriever(make_settings(full_settings.home, term_mapping=False)).find(PLAIN_KV, k=10)
    assert plain.mapped == ()

    def kv(hits):
        return sum(bool(re.search(r"\bKV\b|key-value", h.title + " " + h.snippet, re.I)) for h in hits)

    assert kv(found.hits) > kv(plain.hits), ([h.title for h in found.hits], [h.title for h in plain.hits])


def test_the_answer_says_what_it_also_searched(full_settings, retriever):
    from rag.answer.answerer import Answerer

    answer = Answerer(make_settings(full_settings.home, llm="extractive"), retriever=retriever).ask(PLAIN_KV)
    assert {"KV cache", "KVCache"} <= set(answer.also_searched)  # every name searched, in --json
    notice = next(n for n in answer.notices if n.startswith("also searched for KV cache"))
    assert "KVCache" not in notice  # shown: one name a concept
    assert answer.to_dict()["also_searched"] == answer.also_searched


def test_an_off_topic_question_is_judged_as_written_not_as_mapped(full_settings, retriever):
    """Mapped names bring the search closer to the corpus; the abstain rule must still read the question as asked.
    ("text and speech" maps to "multimodal"; the corpus has no paper on sign language. Judged on the expanded
    query, the top paper's cosine was 0.46 and this was answered.)"""
    from rag.answer.answerer import Answerer

    question = "Which papers translate sign language videos into text and speech?"
    found = retriever.find(question, k=5)
    assert found.mapped and found.closest is not None
    plain = retriever.embedder.embed([question])[0]
    assert found.closest == pytest.approx(max(sim for _, sim in retriever.store.query(plain, 1)), abs=1e-6)
    assert all(h.dense_score is None or h.dense_score <= found.closest + 1e-6 for h in found.hits)
    answer = Answerer(make_settings(full_settings.home, llm="extractive"), retriever=retriever).ask(question)
    assert answer.abstained and answer.also_searched
    assert answer.evidence["dense"] == pytest.approx(found.closest, abs=1e-4)


def test_a_question_that_names_its_paper_keeps_it_first(retriever):
    """A name only a few papers mention points at them; the rest of the question is not mapped to a broad concept
    that would push other papers above it (mapped, "GPUs used to train" put a distributed-training paper first)."""
    assert retriever.find("How many GPUs were used to train the model?").mapped  # the same words do map
    found = retriever.find("How many GPUs were used to train StructLM?")
    assert found.mapped == ()
    assert found.hits[0].title.startswith("StructLM")


# --------------------------------------------------------------------------- the concept text (document expansion)

DOCS = ["we compress the kv cache of long prompts", "the cache of a web server", "speculative decoding with a draft",
        "kv values and a cache", "a draft model for speculative decoding of the kv cache", "protein folding"]


def small_index():
    import numpy as np

    from rag.store.side_index import SideIndex

    ids = [f"c{i}" for i in range(len(DOCS))]
    vecs = np.eye(len(DOCS), 4, dtype=np.float32) + 0.1
    return SideIndex.build(ids, DOCS, [{"paper_id": f"p{i}", "paper_hash": "h"} for i in range(len(DOCS))],
                           vecs / np.linalg.norm(vecs, axis=1, keepdims=True), "t", 4)


def test_chunks_containing_a_phrase_are_those_with_its_words_side_by_side():
    from rag.text.terms import tokenize

    idx = small_index()
    for phrase in ("kv cache", "cache", "speculative decoding", "draft model", "folding protein", "unheard"):
        want = [i for i, doc in enumerate(tokenize(DOCS)) if any(
            doc[j:j + len(p)] == p for p in [tokenize([phrase])[0]] for j in range(len(doc)))]
        assert idx.containing(tokenize([phrase])[0]).tolist() == want, phrase


def test_the_concept_text_scores_as_bm25_over_each_chunks_expansion(glossary):
    """ConceptIndex computes, without writing it, the BM25 (bm25s, lucene) of the text each chunk would have if
    it were expanded with the plain phrases of every concept it names."""
    import numpy as np

    from rag.search.glossary import ConceptIndex, concepts
    from rag.text.terms import load_bm25s, tokenize

    idx = small_index()
    index = ConceptIndex(idx.containing, len(DOCS), 1.2, 0.75, glossary)
    named = [[c for c in concepts(glossary) if any(len(idx.containing(list(t))) and i in idx.containing(list(t))
                                                  for t in c.term_tokens)] for i in range(len(DOCS))]
    assert [len(n) for n in named] == [1, 0, 1, 0, 2, 0]  # "kv values and a cache" names no concept
    expanded = [[w for c in n for p in c.plain for w in p] for n in named]
    bm25 = load_bm25s().BM25(k1=1.2, b=0.75)
    bm25.index(expanded, show_progress=False)
    for question in ("how is the attention cache trimmed", "a cheap model guesses tokens ahead", "nothing here"):
        tokens = tokenize([question])[0]
        known = [t for t in tokens if t in bm25.vocab_dict]
        want = bm25.get_scores(known) if known else np.zeros(len(DOCS))
        np.testing.assert_allclose(index.scores(tokens), want, rtol=1e-5, atol=1e-6, err_msg=question)


def test_plain_words_meet_the_jargon_even_when_no_phrase_matches_whole(retriever, full_settings):
    from rag.search.retriever import Retriever

    question = "Ways to let a cheap helper guess upcoming words that the big network then checks"
    on = retriever.find(question, k=10)
    off = Retriever(make_settings(full_settings.home, term_mapping=False)).find(question, k=10)
    assert on.mapped == off.mapped == ()  # no plain phrase matched whole: the concept text did it

    def drafting(found):
        return [h.title for h in found.hits if "Speculative" in h.title or "Draft" in h.title]

    assert drafting(on) and not drafting(off), (drafting(on), [h.title for h in off.hits])


def test_a_search_standardises_its_candidates_by_the_sample(glossary, monkeypatch):
    """Below SAMPLE chunks the mean and spread are the corpus's own; above, a fixed sample's."""
    import numpy as np

    from rag.search import glossary as g
    from rag.text.terms import tokenize

    tokens = tokenize(["a cheap model guesses tokens ahead to trim the attention cache"])[0]
    for sample in (100, 3):
        monkeypatch.setattr(g, "SAMPLE", sample)
        index = g.ConceptIndex(small_index().containing, len(DOCS), 1.2, 0.75, glossary)
        every = index.scores(tokens)
        ref = every[index.sample]
        assert len(index.sample) == min(sample, len(DOCS))
        np.testing.assert_allclose(index.standardised(tokens, [0, 4]), (every[[0, 4]] - ref.mean()) / ref.std())
