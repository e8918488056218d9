"""A user's own paper files, kept under RAG_HOME so every later ingest reads them with the seeds.

    RAG_HOME/sources/
      sources.json          the manifest: one entry a file (name, format, sha256, where it came from, when)
      files/<name>          a copy of each file as it was added

`rag ingest FILE` adds (or, for a file added before from the same place, updates) a source; `rag ingest` with
no arguments, `--rebuild`, an embedder switch and `scripts/run.sh` read the seeds plus every source, so a
user's papers are never dropped by them. Removing a source is its own command (`rag sources remove NAME`).
Writes are atomic (a copy under a temporary name, then a rename; the manifest likewise), so an interrupted
add leaves either the old manifest or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.corpus.readers import detect
from rag.errors import CorpusError
from rag.faultpoints import checkpoint
from rag.store.paths import Paths

if TYPE_CHECKING:
    from rag.config import StoreSettings

MANIFEST = "sources.json"
UPLOAD = "upload:"  # the origin of a file uploaded through the app, before its name


@dataclass
class UserSource:
    """One added file."""

    name: str  # unique among sources and seed files; the name papers cite as "name:line"
    format: str
    sha256: str
    origin: str  # the absolute path it was added from
    added: str  # ISO time, UTC
    records: int = 0  # records read from it when it was added
    size: int = 0  # bytes

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (`rag sources --json`)."""
        return asdict(self)


@dataclass
class Staged:
    """What adding one file did: its source and whether it was new, updated (same origin, new content) or
    already there (same content)."""

    source: UserSource
    status: str  # "added" | "updated" | "unchanged"


class Sources:
    """The sources of one data home."""

    def __init__(self, paths: Paths) -> None:
        self.dir = paths.sources_dir
        self.files_dir = self.dir / "files"
        self.manifest = self.dir / MANIFEST

    def list(self) -> list[UserSource]:
        """Every source, in the order added (the order their records are merged in, after the seeds)."""
        if not self.manifest.is_file():
            return []
        try:
            raw = json.loads(self.manifest.read_text(encoding="utf-8"))
            return [UserSource(**entry) for entry in raw["sources"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CorpusError(f"the list of added sources is unreadable: {self.manifest} ({e})",
                              f"restore it from a backup, or delete {self.dir} and add your files again") from e

    def path(self, source: UserSource) -> Path:
        """Where a source's copy is kept."""
        return self.files_dir / source.name

    def add(self, file: Path, records: int, taken: set[str], uploaded: bool = False) -> Staged:
        """Keep a copy of file as a source (taken: names a new source may not use, e.g. the seed files').

        The origin says which earlier source a new version replaces: the file's absolute path, or for a file
        uploaded through the app (whose path is a temporary one) "upload:<its name>"."""
        data = file.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        origin = f"{UPLOAD}{file.name}" if uploaded else str(file.resolve())
        current = self.list()
        same = next((s for s in current if s.sha256 == sha), None)
        if same is not None:
            return Staged(same, "unchanged")
        old = next((s for s in current if s.origin == origin), None)
        names = taken | {s.name for s in current if s is not old}
        name = old.name if old else _free_name(file.name, sha, names)
        source = UserSource(name=name, format=detect(file), sha256=sha, origin=origin,
                            added=datetime.now(timezone.utc).isoformat(timespec="seconds"), records=records,
                            size=len(data))
        self.files_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.files_dir / name, data)
        checkpoint("sources:copied")  # a crash here leaves a copy no manifest names: ignored, overwritten next time
        kept = [source if s is old else s for s in current] if old else [*current, source]
        self._save(kept)
        checkpoint("sources:listed")  # a crash here: the next `rag ingest` reads the source and indexes its papers
        return Staged(source, "updated" if old else "added")

    def remove(self, names: list[str]) -> list[UserSource]:
        """Forget these sources and delete their copies; an unknown name is an error (nothing removed)."""
        current = self.list()
        by_name = {s.name: s for s in current}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            known = ", ".join(by_name) or "none"
            raise CorpusError(f"no added source named {', '.join(map(repr, unknown))} (sources: {known})",
                              "`rag sources` lists them")
        gone = [by_name[n] for n in names]
        self._save([s for s in current if s.name not in names])
        for s in gone:
            self.path(s).unlink(missing_ok=True)
        return gone

    def _save(self, sources: list[UserSource]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"sources": [s.to_dict() for s in sources]}, indent=1, ensure_ascii=False)
        _atomic_write(self.manifest, text.encode("utf-8"))


def _free_name(name: str, sha: str, taken: set[str]) -> str:
    """The file's own name, or name-<hash>.ext when another source or a seed file has it."""
    if name not in taken and not name.startswith("."):
        return name
    stem, dot, ext = name.lstrip(".").rpartition(".")
    return f"{stem}-{sha[:8]}.{ext}" if dot and stem else f"{name.lstrip('.')}-{sha[:8]}"


def _atomic_write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise



def list_sources(settings: StoreSettings) -> list[UserSource]:
    """The sources added to this data home, in the order added."""
    return Sources(Paths.of(settings)).list()
