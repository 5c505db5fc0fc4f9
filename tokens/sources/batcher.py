"""Turns a stream of pages into de-duplicated batches for a callback, or into one list."""

import time
from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing

from tokens.sources.base import BatchCallback, Launch

DEFAULT_BATCH_SIZE = 10


class AdaptiveBatchSize:
    """A small first batch for a fast first paint, then batches that double while one takes less than
    half the time budget, up to `target`, and halve when one overruns it."""

    def __init__(self, *, target: int, budget_seconds: float, first: int = 10) -> None:
        self.target = target
        self.budget = budget_seconds
        self.size = max(1, min(first, target))

    def current(self) -> int:
        return self.size

    def record(self, seconds: float) -> None:
        if seconds < self.budget / 2:
            self.size = min(self.target, self.size * 2)
        elif seconds > self.budget:
            self.size = max(1, self.size // 2)


def mint_of(token: Launch) -> str | None:
    """The de-duplication key; records without a usable mint pass through for validation to reject."""
    mint = token.mint
    return mint if isinstance(mint, str) and mint else None


class Batcher:
    """Feeds every token to the callback once per run, in batches of exactly `batch_size` (but the
    last, and the first pages delivered whole: `consume`).

    Without a callback it collects every token and `finish()` returns the list, which is what
    callers written before batching expect.
    """

    def __init__(
        self,
        *,
        batch_callback: BatchCallback | None,
        batch_size: int | AdaptiveBatchSize | None,
        seen: Iterable[str] = (),
    ) -> None:
        size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
        if not isinstance(size, AdaptiveBatchSize) and (
            isinstance(size, bool) or not isinstance(size, int) or size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self._callback = batch_callback
        self._sizer = size if isinstance(size, AdaptiveBatchSize) else None
        self._batch_size = size if isinstance(size, int) else size.current()
        self._seen: set[str] = set(seen)
        self._pending: list[Launch] = []
        self._collected: list[Launch] = []
        self.delivered = 0

    @property
    def first_size(self) -> int | None:
        """How many tokens the first callback waits for (None without a callback: nothing waits)."""
        return None if self._callback is None else self._batch_size

    async def add(self, token: Launch) -> None:
        mint = mint_of(token)
        if mint is not None:
            if mint in self._seen:
                return
            self._seen.add(mint)
        self.delivered += 1
        if self._callback is None:
            self._collected.append(token)
            return
        self._pending.append(token)
        if len(self._pending) >= self._batch_size:
            await self._emit()

    async def consume(self, pages: AsyncIterator[list[Launch]], *, whole_pages: int = 0) -> None:
        """Every token of every page; the first `whole_pages` pages each end a batch, short or not
        (a failed create, a transaction without a launch, a page of 98): the source read them alone
        for the first rows, which then do not wait for the next page (on the chain, a range of eight
        pages that took a second to come)."""
        # aclosing: when a callback raises, the page source stops its prefetches at once.
        async with aclosing(pages):
            whole = whole_pages
            async for page in pages:
                for token in page:
                    await self.add(token)
                if whole and page:  # (a resumed run's rest of a transaction may be empty)
                    if self._pending and self._callback is not None:
                        await self._emit()
                    whole -= 1

    async def finish(self) -> list[Launch] | int:
        """Flush the final partial batch; return the full list, or the count when streaming."""
        if self._callback is None:
            return self._collected
        if self._pending:
            await self._emit()
        return self.delivered

    async def _emit(self) -> None:
        batch, self._pending = self._pending, []
        started = time.monotonic()
        await self._callback(batch)
        if self._sizer is not None:
            self._sizer.record(time.monotonic() - started)
            self._batch_size = self._sizer.current()
