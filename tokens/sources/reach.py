"""How far back an upstream reached, so that a run that could not load its whole window says so."""

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class Reach:
    oldest_ms: int | None = None  # the oldest launch time the upstream handed over
    reached_start: bool = False  # it got to the window's start

    def saw(self, created_ms: int) -> None:
        self.oldest_ms = created_ms if self.oldest_ms is None else min(self.oldest_ms, created_ms)

    def shortfall(self, *, upstream: str, advice: str) -> str:
        """A one-line warning when the window's start was not reached, else empty."""
        if self.reached_start:
            return ""
        if self.oldest_ms is None:
            return f"{upstream} returned no launches in the window; {advice}"
        when = datetime.fromtimestamp(self.oldest_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"{upstream} reached back only to {when}; {advice}"
