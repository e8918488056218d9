"""Automatic term mapping (rag/search/glossary.py): a question's plain words also search the corpus's names."""

from __future__ import annotations

import json
import re

import pytest

from testing.seeds import make_settings
from rag.search.glossary import GLOSSARY, MIN_WORDS, concepts, mapped_terms

KV = {"terms": ["KV cache", "key-value cache"], "plain": ["attention cache", "cached keys and values", "cache"]}
SPEC = {"terms": ["speculative decoding", "draft model"], "plain": ["guess tokens ahead"]}
# a question in plain words (no "KV", no "key-value") about what the corpus calls the KV cache
PLAIN_KV = "How can serving systems shrink the attention cache that grows with every generated token?"


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
    from rag.search.glossary import mapped_concepts

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
