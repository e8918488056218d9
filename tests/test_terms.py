"""BM25 terms (rag/text/terms.py): the shared tokeniser and its bounded cache."""

from __future__ import annotations

from rag.text import terms


def test_terms_cache_past_its_cap_returns_every_text(monkeypatch):
    """The cache clears itself when full; a call that straddles the clear still answers for every text
    (it used to read back keys it had just cleared: a KeyError once a long-running app had seen ~50k texts)."""
    monkeypatch.setattr(terms, "_TERMS", {})
    monkeypatch.setattr(terms, "_TERMS_MAX", 3)
    texts = [f"sentence number {i} about mixture of experts routing" for i in range(10)]
    first = terms.terms_of(texts[:3])  # fills the cache to its cap
    assert len(terms._TERMS) == 3
    mixed = terms.terms_of(texts[:3] + texts[3:6])  # three cached, three new: the cache is cleared on the way
    assert mixed[:3] == first
    assert all("expert" in t and "rout" in t for t in mixed)
    assert len(terms._TERMS) <= 3  # bounded
    for _ in range(5):  # many calls past the cap, each text asked twice in one call
        batch = texts[2:9] + texts[2:9]
        assert terms.terms_of(batch) == [frozenset(terms.tokenize([t])[0]) for t in batch]


def test_content_terms_ignore_citation_marks_and_stop_words():
    assert terms.content_terms("The experts [12] route tokens.") == frozenset({"expert", "rout", "token"})
