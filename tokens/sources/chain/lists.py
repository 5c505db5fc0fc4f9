"""The recent, trending and hybrid lists on the chain, with the same calling convention as the web
API's: a `batch_callback` and a `batch_size`, or the whole list when called without a callback.

- recent: every launch in the window, newest first (the chain holds them all).
- trending: the window's top `limit` launches by current market cap (from each bonding curve's
  state, or a graduated coin's PumpSwap pool), biggest first. The ranking is known only once the whole
  window has been read, so the batches come at the end of the scan; a resumed trending run scans again.
- hybrid: recent. On the chain the recent list is complete, so every trending coin of the window
  is already in it; trending adds nothing to de-duplicate.
"""

import heapq
import math
import time
from collections.abc import Iterable
from typing import Any

from tokens.sources.base import TRENDING, BatchCallback, Launch
from tokens.sources.batcher import AdaptiveBatchSize, Batcher
from tokens.sources.chain.source import CHAIN_PHASE, ChainSource


def window_seconds(days: float, now_ms: int | None) -> tuple[int, int]:
    """The window as (first second, end in ms): a transaction whose block time is before the first
    second is before the window."""
    end_ms = int(time.time() * 1000) if now_ms is None else now_ms
    cutoff_ms = end_ms - int(days * 86_400_000)
    return math.ceil(cutoff_ms / 1000), end_ms


async def get_chain_recent_tokens(
    days: float,
    *,
    source: ChainSource,
    batch_callback: BatchCallback | None = None,
    batch_size: int | AdaptiveBatchSize | None = None,
    now_ms: int | None = None,
    resume_from: dict[str, Any] | None = None,
    seen: Iterable[str] = (),
) -> list[Launch] | int:
    """Every launch of the last `days`, newest first."""
    batcher = Batcher(batch_callback=batch_callback, batch_size=batch_size, seen=seen)
    cutoff_s, _ = window_seconds(days, now_ms)
    start = resume_from if resume_from and resume_from.get("phase") == CHAIN_PHASE else None
    pages = source.backfill(cutoff_s=cutoff_s, start=start, first=batcher.first_size, state_after_first=True)
    # The opening page and the next (signatures: the first chunk after it; whole transactions: the
    # first range, sized to one page) are the first batches, whatever they hold.
    await batcher.consume(pages, whole_pages=2)
    return await batcher.finish()


async def get_chain_trending_tokens(
    days: float,
    *,
    source: ChainSource,
    limit: int,
    batch_callback: BatchCallback | None = None,
    batch_size: int | AdaptiveBatchSize | None = None,
    now_ms: int | None = None,
    seen: Iterable[str] = (),
) -> list[Launch] | int:
    """The window's `limit` biggest launches by current market cap (in SOL), biggest first."""
    cutoff_s, _ = window_seconds(days, now_ms)
    top: list[tuple[float, int, Launch]] = []
    order = 0
    async for page in source.backfill(cutoff_s=cutoff_s, start=None, with_state=True):
        for record in page:
            cap = record.market_cap_sol  # a graduated coin's from its pool; unknown (not ranked) without it
            if not isinstance(cap, (int, float)) or not isinstance(record.mint, str):
                continue
            order += 1
            item = (float(cap), -order, record)
            if len(top) < limit:
                heapq.heappush(top, item)
            elif item > top[0]:
                heapq.heapreplace(top, item)
    batcher = Batcher(batch_callback=batch_callback, batch_size=batch_size, seen=seen)
    for _, _, record in sorted(top, key=lambda item: (item[0], item[1]), reverse=True):
        record.list_name = TRENDING
        record.position = {"phase": TRENDING}
        await batcher.add(record)
    return await batcher.finish()
