"""rag: cited question answering over Hugging Face Daily Papers abstracts.

This module is the public API: `ui/`, `eval/`, tests of behaviour and anyone embedding the library import
from here, never from the stage packages (an import contract in pyproject.toml checks it in CI).
It is lazy: `import rag` loads nothing heavy; each name imports its module on first use, so the CLI
starts fast and the offline path never loads what it does not need.

    from rag import Settings, ingest, Answerer
    settings = Settings(home="/tmp/rag")
    ingest(settings)
    print(Answerer(settings).ask("How can an LLM be served with less GPU memory?").text)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    # settings, one section per stage
    "Settings": "rag.config",
    "get_settings": "rag.config",
    # the stages' entry points
    "ingest": "rag.ingestion.pipeline",
    "IngestSummary": "rag.ingestion.pipeline",
    "Retriever": "rag.search.retriever",
    "Answerer": "rag.answer.answerer",
    "HISTORY_TURNS": "rag.answer.answerer",
    "compare_papers": "rag.answer.compare",
    "Comparison": "rag.answer.compare",
    # references out: an answer's cited papers (or any papers) as BibTeX or a numbered Markdown list
    "references_bibtex": "rag.answer.references",
    "references_markdown": "rag.answer.references",
    "answer_with_references": "rag.answer.references",
    "cited_records": "rag.answer.references",
    "papers_bibtex": "rag.answer.references",
    "papers_markdown": "rag.answer.references",
    "bib_key": "rag.answer.references",
    "authors_text": "rag.answer.references",
    "LLM": "rag.llm.client",
    "use_llm": "rag.llm.client",
    "llm_base_url": "rag.llm.client",
    "Paths": "rag.store.paths",
    # our types: the contract between stages
    "Answer": "rag.types",
    "Citation": "rag.types",
    "Flag": "rag.types",
    "Hit": "rag.types",
    "Paper": "rag.types",
    "PaperRecord": "rag.types",
    "Source": "rag.types",
    "Turn": "rag.types",
    "Usage": "rag.types",
    # errors that carry a remedy
    "RagError": "rag.errors",
    "ConfigError": "rag.errors",
    "CorpusError": "rag.errors",
    "IndexMissingError": "rag.errors",
    "IndexMismatchError": "rag.errors",
    "StoreUnavailableError": "rag.errors",
    "DataHomeError": "rag.errors",
    "LLMError": "rag.llm.client",
    # text helpers the UI and the eval share with the answerer
    "CITE_MARK": "rag.text.cites",
    "answer_sentences": "rag.answer.citations",
    "split_sentences": "rag.text.sentences",
    "remove_sources": "rag.ingestion.pipeline",
    "IngestBusyError": "rag.ingestion.lock",
    "list_sources": "rag.ingestion.sources",
    "UserSource": "rag.ingestion.sources",
    "paper_id": "rag.corpus.records",
    "load_corpus": "rag.corpus.readers",
    "corpus_files": "rag.corpus.readers",
    "content_terms": "rag.text.terms",
    "bm25_tokenize": "rag.text.terms",
    "question_names": "rag.text.names",
    "is_name_token": "rag.text.names",
    "name_coverage": "rag.answer.coverage",
    "GENERIC_WORDS": "rag.text.names",
    "surface_key": "rag.text.names",
    "SurfaceIndex": "rag.store.surface",
    "parse_day": "rag.text.dates",
    "DateRange": "rag.text.dates",
}
_ALIASES = {"compare_papers": "compare", "llm_base_url": "base_url", "bm25_tokenize": "tokenize", "GENERIC_WORDS": "GENERIC", "name_coverage": "check",
            "papers_bibtex": "to_bibtex", "papers_markdown": "to_markdown"}  # public name -> name in its module

__all__ = [  # the same names as _EXPORTS (tests/test_public_api.py checks)
    "Answer", "Answerer", "CITE_MARK", "Comparison", "GENERIC_WORDS", "Citation", "ConfigError", "CorpusError", "DataHomeError", "DateRange",
    "Flag", "HISTORY_TURNS", "Hit", "IndexMismatchError", "IndexMissingError", "IngestSummary", "LLM", "LLMError",
    "Paper", "PaperRecord", "Paths", "RagError", "Retriever", "Settings", "Source", "StoreUnavailableError", "Turn",
    "Usage", "answer_sentences", "bm25_tokenize", "compare_papers", "content_terms", "get_settings", "ingest", "is_name_token", "llm_base_url", "name_coverage",
    "load_corpus", "paper_id", "parse_day", "question_names", "corpus_files", "split_sentences", "surface_key", "use_llm",
    "SurfaceIndex", "IngestBusyError", "UserSource", "list_sources", "remove_sources",
    "answer_with_references", "authors_text", "bib_key", "cited_records", "papers_bibtex", "papers_markdown",
    "references_bibtex", "references_markdown",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(import_module(module), _ALIASES.get(name, name))
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # for type checkers and editors; never executed
    from rag.answer.answerer import HISTORY_TURNS, Answerer
    from rag.answer.citations import answer_sentences
    from rag.answer.compare import Comparison
    from rag.answer.compare import compare as compare_papers
    from rag.answer.coverage import check as name_coverage
    from rag.answer.references import (answer_with_references, authors_text, bib_key, cited_records,
                                       references_bibtex, references_markdown)
    from rag.answer.references import to_bibtex as papers_bibtex
    from rag.answer.references import to_markdown as papers_markdown
    from rag.config import Settings, get_settings
    from rag.corpus.readers import corpus_files, load_corpus
    from rag.corpus.records import paper_id
    from rag.errors import (ConfigError, CorpusError, DataHomeError, IndexMismatchError, IndexMissingError, RagError,
                            StoreUnavailableError)
    from rag.ingestion.pipeline import IngestSummary, ingest, remove_sources
    from rag.ingestion.lock import IngestBusyError
    from rag.ingestion.sources import UserSource, list_sources
    from rag.llm.client import LLM, LLMError, use_llm
    from rag.llm.client import base_url as llm_base_url
    from rag.search.retriever import Retriever
    from rag.store.paths import Paths
    from rag.text.cites import CITE_MARK
    from rag.text.dates import DateRange, parse_day
    from rag.text.names import GENERIC as GENERIC_WORDS
    from rag.store.surface import SurfaceIndex
    from rag.text.names import is_name_token, question_names, surface_key
    from rag.text.sentences import split_sentences
    from rag.text.terms import content_terms
    from rag.text.terms import tokenize as bm25_tokenize
    from rag.types import Answer, Citation, Flag, Hit, Paper, PaperRecord, Source, Turn, Usage
