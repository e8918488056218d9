"""LLM tokens (cl100k, with tiktoken, offline): the encoding and token counts for prompts, questions and
chunks. Not BM25 terms (those are rag/text/terms.py). tiktoken is pointed at the encodings llama-index-core
ships before first use."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def encoding() -> Any:
    """The cl100k_base encoding, loaded without any network access."""
    if not os.environ.get("TIKTOKEN_CACHE_DIR"):
        from importlib.util import find_spec

        # llama-index sets this variable only while it loads cl100k, then unsets it. find_spec
        # locates the folder without importing llama_index.core (about 2 s).
        spec = find_spec("llama_index.core")
        if spec and spec.submodule_search_locations:
            os.environ["TIKTOKEN_CACHE_DIR"] = os.path.join(spec.submodule_search_locations[0], "_static", "tiktoken_cache")
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in text. Special-token markers ("<|endoftext|>") count as plain text: an
    abstract that quotes one is text, and encode() would refuse it."""
    return len(encoding().encode_ordinary(text))
