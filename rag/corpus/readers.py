"""Files and folders -> one deduplicated corpus, whatever each file's format.

Formats, told by extension and, where the extension says nothing sure (.txt, none, unknown), by content:
  page dump   Hugging Face Daily Papers page text (rag/corpus/parse.py), the seeds' format
  jsonl       JSON Lines (also a JSON array), one paper an object       (rag/corpus/tabular.py)
  csv         CSV or TSV with a header row                               (rag/corpus/tabular.py)
  bibtex      BibTeX entries that have an abstract                       (rag/corpus/bibtex.py)
  atom        arXiv API Atom XML, as saved from a query                 (rag/corpus/atom.py)
Each reader is pure: it reads one file and returns its Records, appending a Problem (file, line or entry
key, reason) for whatever it could not use; it never raises for bad content, so one bad record or file costs
only itself. Folders are read recursively (hidden files and folders skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rag.corpus.records import Record, merge
from rag.errors import CorpusError
from rag.types import Paper, Problem

Reader = Callable[[Path, list[Problem]], list[Record]]

FORMATS = ("page dump", "jsonl", "csv", "bibtex", "atom")
EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv", ".tsv": "csv",
    ".bib": "bibtex", ".bibtex": "bibtex",
    ".xml": "atom", ".atom": "atom",
}
SNIFF_BYTES = 4096


@dataclass
class Corpus:
    """Result of reading: unique papers, the number of records, the files read and what was skipped or odd."""

    papers: list[Paper]
    records: int
    files: list[str]
    problems: list[Problem] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)  # file name -> format
    counts: dict[str, int] = field(default_factory=dict)  # file name -> records read from it

    @property
    def skipped(self) -> int:
        """Number of would-be papers not ingested."""
        return sum(p.count for p in self.problems if p.skipped)


def detect(path: Path) -> str:
    """The format of a file: by its extension when that is one of ours (but .txt), else by its first bytes."""
    by_ext = EXTENSIONS.get(path.suffix.lower())
    if by_ext:
        return by_ext
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return "page dump"  # the page reader reports the unreadable file
    return sniff(head)


def sniff(head: bytes) -> str:
    """The format the first bytes of a file look like (a page dump when nothing else fits)."""
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        return "atom"
    if text.startswith(("{", "[")):
        return "jsonl"
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("%")]
    if lines and lines[0].lstrip().startswith("@"):
        return "bibtex"
    first = lines[0].casefold() if lines else ""
    if any(sep in first for sep in ",\t;") and "title" in first and any(
            name in first for name in ("abstract", "summary", "description")):
        return "csv"
    return "page dump"


def reader(fmt: str) -> Reader:
    """The reader of a format (imported on first use: BibTeX and XML parsing load only when needed)."""
    if fmt == "page dump":
        from rag.corpus.parse import parse_file
        return parse_file
    if fmt == "jsonl":
        from rag.corpus.tabular import read_jsonl
        return read_jsonl
    if fmt == "csv":
        from rag.corpus.tabular import read_csv
        return read_csv
    if fmt == "bibtex":
        from rag.corpus.bibtex import read_bibtex
        return read_bibtex
    if fmt == "atom":
        from rag.corpus.atom import read_atom
        return read_atom
    raise ValueError(f"unknown format {fmt!r}")


def read_file(path: Path, problems: list[Problem], fmt: str | None = None) -> list[Record]:
    """The records of one file, in its format (detected when not given)."""
    fmt = fmt or detect(path)
    records = reader(fmt)(path, problems)
    for r in records:
        r.kind = fmt
    return records


def _readable(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".")


def corpus_files(paths: list[Path]) -> list[Path]:
    """Expand folders (recursively) to the files in them a reader takes: page dumps (*.txt) and every extension
    of another format; named files are read whatever their suffix. A missing path is an error."""
    files: list[Path] = []
    wanted = {".txt", *EXTENSIONS}
    for path in paths:
        if path.is_dir():
            found = [p for p in sorted(path.rglob("*")) if p.suffix.lower() in wanted and _readable(p)
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)]
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(f"path not found: {path}",
                              "pass folders or files of papers (page dumps, .jsonl, .csv, .bib, arXiv .xml), "
                              "e.g. `rag ingest seeds/`")
    if not files:
        raise CorpusError(f"no paper files in {', '.join(map(str, paths))}",
                          "copy the page dumps into seeds/, or pass .txt, .jsonl, .csv, .bib or .xml files")
    return files


def load_corpus(paths: list[Path], names: dict[Path, str] | None = None) -> Corpus:
    """Read every file (folders expanded), collect problems, and return deduplicated papers.

    names: a display name for some files (a user's source is read from its copy under RAG_HOME and named as
    the file it was added from); other files are named by their file name.
    """
    problems: list[Problem] = []
    records: list[Record] = []
    files = corpus_files(paths)
    shown: list[str] = []
    formats: dict[str, str] = {}
    counts: dict[str, int] = {}
    for f in files:
        name = (names or {}).get(f, f.name)
        fmt = detect(f)
        found: list[Problem] = []
        recs = read_file(f, found, fmt)
        for r in recs:
            r.file = name
        for p in found:
            p.file = name
        problems.extend(found)
        records.extend(recs)
        shown.append(name)
        formats[name], counts[name] = fmt, len(recs)
    return Corpus(papers=merge(records), records=len(records), files=shown, problems=problems,
                  formats=formats, counts=counts)
