"""The paper catalogue: papers as Hits and PaperRecords, read from the side index's chunk table.

Lookups by paper id go through the side index's paper -> positions map (no scan of every chunk).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.types import Hit, PaperRecord

if TYPE_CHECKING:
    from rag.store.side_index import SideIndex

SNIPPET_CHARS = 240
MIN_OVERLAP_CHARS = 20  # shorter shared text between chunks is a coincidence, not the splitter's overlap


def hit_at(idx: SideIndex, pos: int, score: float, **ranks: Any) -> Hit:
    """The Hit for the chunk at a position of the side index."""
    meta, doc = idx.metas[pos], idx.docs[pos]
    title = meta["title"]
    text = doc[len(title) + 1 :] if doc.startswith(title + "\n") else doc
    return Hit(paper_id=meta["paper_id"], title=title, score=score,
               snippet=text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else ""),
               date=meta.get("date") or None, chunk_id=idx.ids[pos], text=text, metadata=meta, **ranks)


def paper_hit(idx: SideIndex, paper_id: str) -> Hit | None:
    """A paper as a Hit (its first chunk in store order, no scores), e.g. to bring back a paper an earlier
    answer cited."""
    positions = idx.paper_positions.get(paper_id)
    return hit_at(idx, positions[0], 0.0) if positions else None


def join_overlapping(head: str, tail: str) -> str:
    """head + tail without the text they share (consecutive chunks overlap by a few sentences)."""
    if not head:
        return tail
    for start in range(max(0, len(head) - len(tail)), len(head) - MIN_OVERLAP_CHARS + 1):
        if head[start].isspace() or (start and not head[start - 1].isspace()):
            continue  # an overlap starts at a word
        if tail.startswith(head[start:]):
            return head + tail[len(head) - start :]
    return f"{head} {tail}"


def paper_record(idx: SideIndex, paper_id: str) -> PaperRecord | None:
    """One paper's record with its whole abstract (its chunks in order, overlaps removed)."""
    positions = sorted(idx.paper_positions.get(paper_id, []), key=lambda i: idx.metas[i].get("chunk", 0))
    if not positions:
        return None
    abstract = ""
    for pos in positions:
        abstract = join_overlapping(abstract, hit_at(idx, pos, 0.0).text)
    return PaperRecord.from_metadata(idx.metas[positions[0]], abstract)


def paper_records(idx: SideIndex) -> list[PaperRecord]:
    """Every indexed paper's record (from its first chunk), sorted by title."""
    records = [PaperRecord.from_metadata(idx.metas[positions[0]]) for positions in idx.paper_positions.values()]
    return sorted(records, key=lambda r: r.title.casefold())
