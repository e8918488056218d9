"""OpenAI (or compatible) embeddings through the one OpenAI client of rag/llm/client.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.errors import ConfigError, RagError

if TYPE_CHECKING:
    import numpy as np


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings; needs OPENAI_API_KEY, honours OPENAI_BASE_URL."""

    dims = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}

    def __init__(self, model: str, timeout: float = 30.0) -> None:
        from rag.llm.client import api_key_set, openai_client

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
