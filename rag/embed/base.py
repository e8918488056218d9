"""The Embedder interface and the factory that picks one from the settings."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from rag.config import EmbedSettings
    from rag.embed.wordllama import WordLlamaEmbedder


class Embedder(Protocol):
    """What every embedding model offers. Vectors are L2-normalised float32 rows."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts (documents or queries alike)."""
        ...


@lru_cache(maxsize=1)
def _wordllama() -> WordLlamaEmbedder:
    from rag.embed.wordllama import WordLlamaEmbedder

    return WordLlamaEmbedder()


@lru_cache(maxsize=1)
def _minilm() -> Embedder:
    from rag.embed.minilm import NumpyMiniLM

    return NumpyMiniLM()


@lru_cache(maxsize=4)
def _sentence_transformer(kind: str, model: str, online: bool) -> Embedder:
    from rag.embed import st as embed_st

    return embed_st.minilm() if kind == "minilm" else embed_st.sentence_transformer(model, online)


def sentence_scorer() -> Embedder:
    """The cheap embedder that scores an offline answer's candidate sentences (a transformer would embed ~50
    sentences a question): WordLlama's static word vectors, in the base install."""
    return _wordllama()


def get_embedder(settings: EmbedSettings) -> Embedder:
    """The embedder the settings ask for. Local models are loaded once per process; an OpenAI client is
    made per call so it follows the current OPENAI_* environment."""
    if settings.embedder == "openai":
        from rag.embed.openai import OpenAIEmbedder

        return OpenAIEmbedder(settings.openai_embed_model)
    if settings.embedder == "minilm":
        return _minilm()
    if settings.embedder == "st":
        return _sentence_transformer(settings.embedder, settings.st_model, settings.st_online)
    return _wordllama()
