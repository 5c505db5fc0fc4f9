"""An estimate of how many tokens a run will see, for the progress bar.

pump.fun does not say how many coins a window holds. Recent pages arrive newest first, so the share
of the window they have reached so far, against how many coins that took, extrapolates the total.
Launch rates swing through the day, so a few minutes say little about a day: there is no estimate
until the pages have covered a tenth of the window or an hour of it, whichever is less.
"""

from typing import Any

from tokens.sources.base import RECENT, Launch

HOUR_MS = 3_600_000


class TotalEstimator:
    def __init__(self, *, start_ms: int, cutoff_ms: int) -> None:
        self._start_ms = start_ms
        self._window_ms = max(1, start_ms - cutoff_ms)
        self._recent = 0
        self._other = 0
        self._oldest_ms: int | None = None

    def resume(self, *, count: int, checkpoint: dict[str, Any] | None) -> None:
        """Carry over what an interrupted run had already covered."""
        if checkpoint is None:
            return
        if checkpoint.get("phase") == RECENT and isinstance(checkpoint.get("anchor_ms"), int):
            self._recent, self._oldest_ms = count, checkpoint["anchor_ms"]
        else:
            self._other = count

    def observe(self, batch: list[Launch]) -> None:
        for launch in batch:
            created = launch.created_ms
            if launch.list_name == RECENT and isinstance(created, int) and not isinstance(created, bool):
                self._recent += 1
                self._oldest_ms = created if self._oldest_ms is None else min(self._oldest_ms, created)
            else:
                self._other += 1

    def estimate(self, *, processed: int) -> int | None:
        if self._oldest_ms is None:
            return None
        covered_ms = self._start_ms - self._oldest_ms
        if covered_ms <= 0 or covered_ms < min(self._window_ms / 10, HOUR_MS):
            return None
        recent_total = round(self._recent * self._window_ms / covered_ms)
        return max(processed, recent_total + self._other)
