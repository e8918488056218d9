"""Dates, in one place: the YYYY-MM-DD dates users type, the sortable YYYYMMDD integers stored with chunks,
and date ranges. The range rule (bounds inclusive; an undated paper is outside any bounded range) lives
only in DateRange, in the three forms the stages need: a test of one date, a mask over the side index's
dates, and a metadata filter for Chroma."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from datetime import date, datetime

from rag.errors import RagError

if TYPE_CHECKING:
    import numpy as np


def parse_day(value: object, what: str = "date") -> date | None:
    """'YYYY-MM-DD' (or empty/None) as a date; anything else is a RagError naming `what` and the format."""
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise RagError(f"{what} {text!r} is not a date", "use YYYY-MM-DD, e.g. 2024-06-01") from None


_TIME = re.compile(r"[T ]?\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?\s*(?:Z|[+-]\d{2}:?\d{2}|GMT|UTC)?", re.IGNORECASE)
_ISO_PART = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_MONTH_NAMES = frozenset("jan feb mar apr may jun jul aug sep oct nov dec".split())
PRECISION = {"year": 1, "month": 2, "day": 3}


def date_precision(text: str | None) -> str | None:
    """How much a date as written says: "day" ("2024-05-17", "Jun 11", "17 May 2024"), "month" ("2024-05",
    "May 2024"), "year" ("2024"), or None (no date in it). A stored date of "2024-01-01" from "2024" is a year."""
    if not text or not text.strip():
        return None
    t = _TIME.sub("", text).strip()
    if m := _ISO_PART.match(t):
        return "day" if m.group(3) else "month" if m.group(2) else "year"
    words = re.findall(r"[A-Za-z]+|\d+", t)
    if any(w[:3].lower() in _MONTH_NAMES for w in words if w.isalpha()):
        return "day" if any(w.isdigit() and len(w) <= 2 for w in words) else "month"
    return "year" if any(w.isdigit() and len(w) == 4 for w in words) else None


def date_int(d: date | None) -> int:
    """A date as the sortable integer YYYYMMDD stored in chunk metadata; 0 for no date."""
    return int(d.strftime("%Y%m%d")) if d else 0


@dataclass(frozen=True)
class DateRange:
    """Papers published in [since, until]; either end may be open. Undated papers fail any bound."""

    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise RagError(f"the start date {self.since} is after the end date {self.until}", "swap the dates")

    @property
    def bounded(self) -> bool:
        """Whether either end is set."""
        return bool(self.since or self.until)

    @property
    def ints(self) -> tuple[int, int]:
        """(since, until) as YYYYMMDD integers, 0 for an open end."""
        return date_int(self.since), date_int(self.until)

    def contains(self, day: int | str | date | None) -> bool:
        """Whether a paper dated day (YYYYMMDD int, ISO string, date, or 0/''/None for undated) is in range."""
        if not self.bounded:
            return True
        n = day if isinstance(day, int) else date_int(parse_day(day) if day else None)
        lo, hi = self.ints
        return n > 0 and (not lo or n >= lo) and (not hi or n <= hi)

    def mask(self, date_ints: np.ndarray) -> np.ndarray:
        """The same test over an array of YYYYMMDD integers (0: undated)."""
        import numpy as np

        lo, hi = self.ints
        ok = np.ones(len(date_ints), dtype=bool)
        if lo:
            ok &= date_ints >= lo
        if hi:
            ok &= (date_ints <= hi) & (date_ints > 0)
        return ok

    def where(self, field: str = "date_int") -> dict[str, Any] | None:
        """The same test as a metadata filter in Chroma's syntax on the YYYYMMDD field; None when unbounded."""
        lo, hi = self.ints
        conds: list[dict[str, Any]] = []
        if lo:
            conds.append({field: {"$gte": lo}})
        if hi:
            conds.append({field: {"$lte": hi}})
            conds.append({field: {"$gt": 0}})  # undated papers cannot satisfy an upper bound
        if not conds:
            return None
        return conds[0] if len(conds) == 1 else {"$and": conds}
