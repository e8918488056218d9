"""A paper -> its chunks: token-based splitting of the abstract, each chunk carrying the paper's record and the
content hash that tells an ingest whether the stored chunks are still current."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

from rag.text.dates import date_int
from rag.types import Chunk, Paper, PaperRecord

if TYPE_CHECKING:
    from rag.config import IngestSettings


def splitter(settings: IngestSettings) -> Any:
    """llama-index's sentence-aware splitter, counting cl100k tokens with tiktoken (offline), cutting sentences
    with rag/text/sentences.py (the answerer's sentences; nltk is never imported)."""
    from llama_index.core.node_parser import SentenceSplitter

    from rag.text.llm_tokens import encoding
    from rag.text.sentences import sentence_pieces

    return SentenceSplitter(
        chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap, tokenizer=encoding().encode_ordinary,
        chunking_tokenizer_fn=sentence_pieces,
    )


def paper_hash(paper: Paper, params: dict[str, Any]) -> str:
    """Content hash of everything that goes into a paper's chunks (text, metadata, chunking)."""
    d = paper.to_dict()
    # Line numbers move when a page is edited; the files a paper comes from are stored metadata.
    d["sources"] = sorted({src.rsplit(":", 1)[0] for src in paper.sources})
    # what json.dumps([d, params], sort_keys=True, default=str) writes, with params encoded once per ingest
    blob = f"[{json.dumps(d, sort_keys=True, default=str)}, {_encoded(tuple(sorted(params.items())))}]"
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


@lru_cache(maxsize=8)
def _encoded(params: tuple[tuple[str, Any], ...]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str)


def split_abstract(text: str, settings: IngestSettings, split: Callable[[], Any]) -> list[str]:
    """Token-based chunks of an abstract; one that fits in a chunk is not split (nor is llama-index loaded)."""
    from rag.text.llm_tokens import count_tokens

    if count_tokens(text) <= settings.chunk_size:
        return [text.strip()]
    return split().split_text(text) or [text.strip()]


def chunk_paper(paper: Paper, settings: IngestSettings, params: dict[str, Any], split: Callable[[], Any]) -> list[Chunk]:
    """Split one abstract; every chunk carries the paper's id, title and metadata."""
    pieces = split_abstract(paper.abstract, settings, split)
    meta = {
        **PaperRecord.of_paper(paper).to_metadata(date_int(paper.published)),
        "paper_hash": paper_hash(paper, params),
        "n_chunks": len(pieces),
    }
    return [
        Chunk(
            chunk_id=f"{paper.paper_id}:{i}",
            paper_id=paper.paper_id,
            index=i,
            # The title goes into the indexed text so a chunk can be found by it.
            text=f"{paper.title}\n{piece}" if settings.index_titles else piece,
            metadata={**meta, "chunk": i},
        )
        for i, piece in enumerate(pieces)
    ]
