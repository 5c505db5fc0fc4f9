"""pump.fun's web API as a `LaunchSource` (tokens/sources/base.py): the recent, trending and hybrid
lists for a backfill (they reach back about an hour), and a live tail that polls the newest page
from where the window ended, so nothing falls between the two and nothing comes twice."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from types import ModuleType
from typing import Any

from tokens.sources.base import HYBRID, RECENT, TAIL_PHASE, TRENDING, BatchCallback, Launch, Window
from tokens.sources.pumpfun_api.client import (
    API,
    PumpFunClient,
    get_hybrid_recent_tokens,
    get_launches_since,
    get_recent_pump_tokens,
    get_trending_pump_tokens,
)
from tokens.sources.reach import Reach

IDLE_SECONDS = 1.0  # an empty page this often while the tail waits, so the caller can check whether to stop


class ApiLaunchSource:
    upstream = API
    can_backfill = True

    def __init__(self, *, client: PumpFunClient, own_client: bool = False) -> None:
        self.client = client
        self._own_client = own_client

    @classmethod
    async def open(cls, *, notice: Callable[[str], None], clients: ModuleType) -> "ApiLaunchSource":
        """With the settings' web API (`clients` is tokens/sources/clients.py)."""
        return cls(client=clients.pumpfun_client(), own_client=True)

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    async def backfill(
        self, window: Window, *, on_batch: BatchCallback, batch_size: Any, checkpoint: dict | None, seen: Iterable[str]
    ) -> str:
        reach = Reach()
        common: dict[str, Any] = {
            "batch_callback": on_batch, "batch_size": batch_size, "include_nsfw": window.include_nsfw,
            "client": self.client, "now_ms": window.end_ms, "resume_from": checkpoint, "seen": seen,
        }  # fmt: skip
        if window.list_name == RECENT:
            await get_recent_pump_tokens(window.days, reach=reach, **common)
        elif window.list_name == TRENDING:
            await get_trending_pump_tokens(window.days, limit=window.trending_limit, **common)
            return ""  # a trending list is not a history: it has no start to reach
        else:
            assert window.list_name == HYBRID
            # Graduation is judged by the filters, so that pump-only tokens are counted as rejected.
            await get_hybrid_recent_tokens(
                window.days, trending_limit=window.trending_limit, trending_first=window.trending_first, reach=reach,
                **common,
            )  # fmt: skip
        return reach.shortfall(upstream="pump.fun's web API", advice="set SOLANA_RPC_URL to load older launches")

    async def tail_start(self, checkpoint: dict | None, *, window: Window) -> dict[str, Any]:
        return _position(window.end_ms, [])

    async def follow(
        self, position: dict[str, Any], *, window: Window, poll_seconds: float
    ) -> AsyncIterator[list[Launch]]:
        """Every `poll_seconds`, the launches since the newest one delivered (paging down as far as
        it must), oldest last; an empty page every second while it waits."""
        include_nsfw = window.include_nsfw
        while True:
            deadline = time.monotonic() + poll_seconds
            while (left := deadline - time.monotonic()) > 0:
                await asyncio.sleep(min(IDLE_SECONDS, left))
                yield []
            top, boundary = position["top_ms"], position["boundary"]
            launches = await get_launches_since(
                top, client=self.client, now_ms=int(time.time() * 1000), include_nsfw=include_nsfw, seen=boundary
            )
            if not launches:
                continue
            newest = max(_created_ms(launch) for launch in launches)
            at_top = [launch.mint for launch in launches if _created_ms(launch) == newest]
            position = _position(newest, at_top if newest > top else [*boundary, *at_top])
            for launch in launches:
                launch.position = position
            yield launches


def _position(top_ms: int, boundary: list[Any]) -> dict[str, Any]:
    return {"phase": TAIL_PHASE, "top_ms": top_ms, "boundary": sorted({str(mint) for mint in boundary})}


def _created_ms(launch: Launch) -> int:
    value = launch.created_ms
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
