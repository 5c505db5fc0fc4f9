"""Turns a stream of pages into de-duplicated batches for a callback, or into one list."""

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import aclosing
from typing import Any

TokenDict = dict[str, Any]
BatchCallback = Callable[[list[TokenDict]], Awaitable[Any]]

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


def mint_of(token: Any) -> str | None:
    """The de-duplication key; records without a usable mint pass through for validation to reject."""
    if isinstance(token, dict):
        mint = token.get("mint")
        if isinstance(mint, str) and mint:
            return mint
    return None


class Batcher:
    """Feeds every token to the callback once per run, in batches of exactly `batch_size`.

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
        self._pending: list[TokenDict] = []
        self._collected: list[TokenDict] = []
        self.delivered = 0

    async def add(self, token: TokenDict) -> None:
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

    async def consume(self, pages: AsyncIterator[list[TokenDict]]) -> None:
        # aclosing: when a callback raises, the page source stops its prefetches at once.
        async with aclosing(pages):
            async for page in pages:
                for token in page:
                    await self.add(token)

    async def finish(self) -> list[TokenDict] | int:
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
