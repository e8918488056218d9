"""A clock a test moves by hand, for code that takes `clock=` (e.g. the Retriever's freshness check)."""

from __future__ import annotations


class FakeClock:
    """Seconds that pass only when the test says so: `clock()` reads it, `clock.advance(s)` moves it on."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let seconds pass."""
        self.now += seconds
