"""Chunking: llama-index's SentenceSplitter counting cl100k tokens with tiktoken, offline."""

from __future__ import annotations

from functools import lru_cache

import pytest

from testing.seeds import make_settings
from rag.ingestion.chunking import chunk_paper, split_abstract, splitter
from rag.store.chroma import build_params
from rag.text.llm_tokens import count_tokens


@pytest.mark.parametrize("size", [64, 128, 512])
def test_chunks_are_what_the_splitter_makes(corpus, tmp_path, size):
    settings = make_settings(tmp_path, chunk_size=size, chunk_overlap=size // 8)
    split = splitter(settings)
    lazy = lru_cache(maxsize=1)(lambda: split)
    for paper in corpus.papers[:80]:
        pieces = split_abstract(paper.abstract, settings, lazy)
        # The shortcut for abstracts that fit in one chunk gives exactly what the splitter gives.
        assert pieces == split.split_text(paper.abstract)
        assert all(count_tokens(p) <= size for p in pieces)


def test_every_chunk_carries_its_paper(corpus, tmp_path):
    settings = make_settings(tmp_path, chunk_size=64, chunk_overlap=8)
    params = build_params(settings, "wordllama-l2_supercat-256", 256)
    paper = max(corpus.papers, key=lambda p: len(p.abstract))
    chunks = chunk_paper(paper, settings, params, lambda: splitter(settings))
    assert len(chunks) > 3
    assert [c.chunk_id for c in chunks] == [f"{paper.paper_id}:{i}" for i in range(len(chunks))]
    for c in chunks:
        assert c.text.startswith(paper.title + "\n")  # found by its title too
        assert c.metadata["paper_id"] == paper.paper_id and c.metadata["title"] == paper.title
        assert c.metadata["n_chunks"] == len(chunks)
    untitled = make_settings(tmp_path, chunk_size=64, chunk_overlap=8, index_titles=False)
    assert not chunk_paper(paper, untitled, params, lambda: splitter(untitled))[0].text.startswith(paper.title)


def test_text_that_quotes_a_special_token_is_plain_text(tmp_path):
    """An abstract or a question that writes tiktoken's "<|endoftext|>" is counted, split and cut as text
    (tiktoken's encode() would refuse it and stop the ingest)."""
    from rag.answer.question import prepare

    settings = make_settings(tmp_path, chunk_size=32, chunk_overlap=4)
    abstract = "We append <|endoftext|> between documents when packing sequences. " * 12
    pieces = split_abstract(abstract, settings, lambda: splitter(settings))
    assert len(pieces) > 2 and all("<|endoftext|>" in p for p in pieces)
    asked = prepare("Why put <|endoftext|> between packed documents? " * 40, max_tokens=64)
    assert "<|endoftext|>" in asked.text and asked.notices


def test_paper_hash_is_the_json_of_paper_and_params(corpus):
    """The content hash every stored chunk carries must not change between releases (or every paper would be
    rewritten): it is sha1 of json.dumps([paper dict with its files, params], sort_keys=True)."""
    import hashlib
    import json

    from rag.ingestion.chunking import paper_hash

    params = {"schema": 1, "embedder": "wordllama-l2_supercat-256", "dim": 256, "chunk_size": 512,
              "chunk_overlap": 64, "index_titles": True}
    for paper in corpus.papers[:50]:
        d = {**paper.to_dict(), "sources": sorted({s.rsplit(":", 1)[0] for s in paper.sources})}
        want = hashlib.sha1(json.dumps([d, params], sort_keys=True, default=str).encode()).hexdigest()
        assert paper_hash(paper, params) == want
