"""Embedding models behind one small interface: a name, a dimension, and embed(texts) -> unit vectors."""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from rag.errors import ConfigError, RagError

if TYPE_CHECKING:
    import numpy as np

    from rag.config import Settings


class Embedder(Protocol):
    """What every embedding model offers. Vectors are L2-normalised float32 rows."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts (documents or queries alike)."""
        ...


class WordLlamaEmbedder:
    """Offline: WordLlama's 256-dim static embeddings, whose weights ship in the wheel."""

    name = "wordllama-l2_supercat-256"
    dim = 256

    @cached_property
    def model(self) -> Any:
        """The WordLlama model, loaded on first use (an unchanged re-ingest never needs it)."""
        import logging
        from pathlib import Path

        root = logging.getLogger()
        level, handlers = root.level, list(root.handlers)
        import wordllama
        from wordllama import WordLlama

        # wordllama calls logging.basicConfig(level=INFO) on import, which would print every HTTP request
        # of the LLM client (httpx logs at INFO) on the CLI's stderr: put the root logger back as it was.
        root.setLevel(level)
        for handler in root.handlers[len(handlers):]:
            root.removeHandler(handler)

        # 0.4.0.post1 looks for its tokenizer under tokenizer/ while the wheel ships tokenizers/;
        # pointing cache_dir at the package and disabling downloads keeps it fully offline.
        return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True, dim=self.dim)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised embeddings of texts."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self.model.embed(texts, norm=True), dtype=np.float32)


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings; needs OPENAI_API_KEY, honours OPENAI_BASE_URL."""

    dims = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}

    def __init__(self, model: str, timeout: float = 30.0) -> None:
        from rag.llm import api_key_set, openai_client

        if not api_key_set():
            raise ConfigError(
                "RAG_EMBEDDER=openai needs OPENAI_API_KEY", "set OPENAI_API_KEY, or use RAG_EMBEDDER=wordllama"
            )
        self.client = openai_client(timeout, retries=2)
        self.model = model
        self.name = f"openai-{model}"
        self.dim = self.dims.get(model, 0) or len(self._call(["dimension probe"])[0])

    def _call(self, texts: list[str]) -> list[list[float]]:
        import openai

        try:
            resp = self.client.embeddings.create(model=self.model, input=texts)
        except openai.OpenAIError as e:
            raise RagError(f"OpenAI embedding request failed: {e}", "check OPENAI_API_KEY / OPENAI_BASE_URL") from e
        return [d.embedding for d in resp.data]

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised embeddings, requested in batches of 256."""
        import numpy as np

        rows: list[list[float]] = []
        for i in range(0, len(texts), 256):
            rows.extend(self._call(texts[i : i + 256]))
        out = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


@lru_cache(maxsize=1)
def _wordllama() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@lru_cache(maxsize=4)
def _sentence_transformer(kind: str, model: str, online: bool) -> Embedder:
    from rag import embed_st

    return embed_st.minilm() if kind == "minilm" else embed_st.sentence_transformer(model, online)


def get_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for. Local models are loaded once per process; an OpenAI client is
    made per call so it follows the current OPENAI_* environment."""
    if settings.embedder == "openai":
        return OpenAIEmbedder(settings.openai_embed_model)
    if settings.embedder in ("minilm", "st"):
        return _sentence_transformer(settings.embedder, settings.st_model, settings.st_online)
    return _wordllama()
