"""Citations in answer text: rewrite every format models write to [n], keep only real sources.

Whatever a model writes ([1], [1, 2], [1-3], [Source 2], [^1], 【1】, (source 3)), the text that
leaves this module cites each source as [n] with n among the sources shown; anything else is
removed and counted. The same filter runs on a stream and on a whole reply, so the streamed text
and the final text are identical.
"""

from __future__ import annotations

import re

from rag.text.cites import CITE_GROUP, cited_numbers, group_numbers
from rag.text.sentences import split_sentences

_OPENERS = "[【("
_HOLD_CHARS = 120  # an opener further back than this cannot start a citation any more
_DOUBLE_OPEN = re.compile(r"\[\[[^\[\]]{0,120}\]$")


class CitationFilter:
    """Rewrites citations to [n] form as text arrives, dropping numbers outside `valid`.

    Text is held back only while it could still be the start of a citation (an open bracket) or
    whitespace that a dropped citation would remove, so nothing is emitted and later taken back.
    """

    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self.pending = ""
        self.removed = 0

    def feed(self, delta: str) -> str:
        """Add streamed text; return the part that is now final."""
        self.pending += delta
        cut = len(self.pending.rstrip(" \t"))
        for i in range(cut - 1, max(0, cut - _HOLD_CHARS) - 1, -1):
            ch = self.pending[i]
            if ch in _OPENERS:
                if not _closed(self.pending, i):
                    cut = i
                break
            if ch in "]】)":
                break
        awaiting = _DOUBLE_OPEN.search(self.pending, 0, cut)  # "[[1]" may still get its second "]"
        if awaiting:
            cut = awaiting.start()
        while cut > 0 and self.pending[cut - 1] in " \t[":  # whitespace goes with a citation after it
            cut -= 1
        ready, self.pending = self.pending[:cut], self.pending[cut:]
        return self._rewrite(ready)

    def flush(self) -> str:
        """The rest, at the end of the stream."""
        ready, self.pending = self.pending, ""
        return self._rewrite(ready)

    def _rewrite(self, text: str) -> str:
        return CITE_GROUP.sub(self._replace, text)

    def _replace(self, m: re.Match[str]) -> str:
        nums = group_numbers(m.group("a") or m.group("b") or m.group("c") or m.group("d") or "")
        keep = [n for n in nums if n in self.valid]
        self.removed += len(nums) - len(keep)
        return (m.group("space") + "".join(f"[{n}]" for n in keep)) if keep else ""


def _closed(text: str, i: int) -> bool:
    closer = {"[": "]", "【": "】", "(": ")"}[text[i]]
    return closer in text[i + 1 :]


def clean_citations(text: str, valid: set[int]) -> tuple[str, int]:
    """Whole-text form of CitationFilter: (text with only valid [n] citations, number removed)."""
    f = CitationFilter(valid)
    out = f.feed(text) + f.flush()
    return out, f.removed


# ----------------------------------------------------------------------------- sentences

def answer_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Answer sentences with the citations each carries; a citation right after a full stop belongs
    to the sentence before it ("... baseline. [2] Next ...")."""
    out: list[tuple[str, list[int]]] = []
    for sent in split_sentences(text):
        lead = re.match(r"^(?:\s*\[\d{1,3}\])+", sent)
        if lead and out:
            prev, nums = out[-1]
            out[-1] = (prev + " " + lead.group(0).strip(), nums + [n for n in cited_numbers(lead.group(0)) if n not in nums])
            sent = sent[lead.end() :].strip()
            if not sent:
                continue
        out.append((sent, cited_numbers(sent)))
    return out


