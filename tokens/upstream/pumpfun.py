"""pump.fun's frontend API: the HTTP client and the recent, trending and hybrid token sources.

Knows nothing of Django. Timestamps from pump.fun are milliseconds since the epoch.
"""

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tokens.upstream.batcher import BatchCallback, Batcher, TokenDict

DEFAULT_BASE_URL = "https://frontend-api-v3.pump.fun"
PAGE_LIMIT = 50
DEFAULT_TRENDING_LIMIT = 200
SOURCE_KEY = "_source"  # added to each coin dict: which list it came from
RECENT = "recent"
TRENDING = "trending"

# Some deployments refuse requests that do not look like they come from the pump.fun site.
_BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Accept": "application/json",
    "Origin": "https://pump.fun",
    "Referer": "https://pump.fun/",
}


class PumpFunError(Exception):
    """pump.fun answered with something other than a list of coins."""


class PumpFunClient:
    """One `httpx.AsyncClient` for a whole run."""

    def __init__(
        self, *, base_url: str = DEFAULT_BASE_URL, timeout: float = 15.0, page_limit: int = PAGE_LIMIT
    ) -> None:
        self.page_limit = page_limit
        self._http = httpx.AsyncClient(base_url=base_url, headers=_BROWSER_HEADERS, timeout=timeout)

    async def __aenter__(self) -> "PumpFunClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch_coins(self, *, offset: int, sort: str, include_nsfw: bool) -> list[Any]:
        params = {
            "offset": offset,
            "limit": self.page_limit,
            "sort": sort,
            "order": "DESC",
            "includeNsfw": "true" if include_nsfw else "false",
        }
        try:
            response = await self._http.get("/coins", params=params)
        except httpx.TimeoutException as exc:
            raise PumpFunError(f"pump.fun timed out at offset {offset}") from exc
        except httpx.TransportError as exc:
            raise PumpFunError(f"pump.fun unreachable at offset {offset}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise PumpFunError(f"pump.fun answered HTTP {response.status_code} at offset {offset}")
        try:
            body = response.json()
        except ValueError as exc:
            raise PumpFunError(f"pump.fun sent a body that is not JSON at offset {offset}") from exc
        if not isinstance(body, list):
            raise PumpFunError(f"pump.fun sent {type(body).__name__}, expected a list of coins, at offset {offset}")
        return body


def _ms(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def cutoff_ms_for(days: float, *, now_ms: int | None = None) -> int:
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    return now_ms - int(days * 86_400_000)


def _tagged(page: list[Any], source: str) -> list[Any]:
    for coin in page:
        if isinstance(coin, dict):
            coin[SOURCE_KEY] = source
    return page


async def recent_pages(client: PumpFunClient, *, cutoff_ms: int, include_nsfw: bool) -> AsyncIterator[list[Any]]:
    """Newest first, until a page reaches coins older than the cutoff or comes back empty.

    A short page is not the end: the server may cap `limit` below what we asked for.
    """
    offset = 0
    while True:
        page = await client.fetch_coins(offset=offset, sort="created_timestamp", include_nsfw=include_nsfw)
        if not page:
            return
        created = [_ms(coin.get("created_timestamp")) if isinstance(coin, dict) else None for coin in page]
        # Records without a usable timestamp pass on so validation can reject them with a reason.
        in_window = [coin for coin, ts in zip(page, created, strict=True) if ts is None or ts >= cutoff_ms]
        yield _tagged(in_window, RECENT)
        if any(ts is not None and ts < cutoff_ms for ts in created):
            return
        offset += len(page)


async def trending_pages(
    client: PumpFunClient, *, cutoff_ms: int, include_nsfw: bool, limit: int
) -> AsyncIterator[list[Any]]:
    """Most recently traded first, keeping coins created inside the window, up to `limit` coins."""
    offset = 0
    taken: set[str] = set()
    while len(taken) < limit:
        page = await client.fetch_coins(offset=offset, sort="last_trade_timestamp", include_nsfw=include_nsfw)
        if not page:
            return
        keep = []
        for coin in page:
            if len(taken) >= limit:
                break
            if not isinstance(coin, dict):
                continue
            created = _ms(coin.get("created_timestamp"))
            mint = coin.get("mint")
            if created is None or created < cutoff_ms or not isinstance(mint, str) or mint in taken:
                continue
            taken.add(mint)
            keep.append(coin)
        yield _tagged(keep, TRENDING)
        # A coin last traded before the cutoff was created before it, and so is every coin after it.
        last_trades = [_ms(coin.get("last_trade_timestamp")) for coin in page if isinstance(coin, dict)]
        if any(ts is not None and ts < cutoff_ms for ts in last_trades):
            return
        offset += len(page)


async def _graduated_only(pages: AsyncIterator[list[Any]]) -> AsyncIterator[list[Any]]:
    async for page in pages:
        yield [coin for coin in page if isinstance(coin, dict) and coin.get("complete") is True]


@asynccontextmanager
async def _client_scope(client: PumpFunClient | None) -> AsyncIterator[PumpFunClient]:
    """Use the caller's client, or open one for this call from PUMPFUN_API_URL."""
    if client is not None:
        yield client
        return
    async with PumpFunClient(base_url=os.environ.get("PUMPFUN_API_URL") or DEFAULT_BASE_URL) as own:
        yield own


async def get_recent_pump_tokens(
    days: float,
    *,
    batch_callback: BatchCallback | None = None,
    batch_size: int | None = None,
    include_nsfw: bool = True,
    client: PumpFunClient | None = None,
    now_ms: int | None = None,
) -> list[TokenDict] | int:
    """Coins launched in the last `days`, newest first.

    Without `batch_callback` returns the list; with one, awaits it for every batch and returns
    how many coins it delivered.
    """
    batcher = Batcher(batch_callback=batch_callback, batch_size=batch_size)
    async with _client_scope(client) as api:
        cutoff = cutoff_ms_for(days, now_ms=now_ms)
        await batcher.consume(recent_pages(api, cutoff_ms=cutoff, include_nsfw=include_nsfw))
    return await batcher.finish()


async def get_trending_pump_tokens(
    days: float,
    *,
    batch_callback: BatchCallback | None = None,
    batch_size: int | None = None,
    limit: int = DEFAULT_TRENDING_LIMIT,
    include_nsfw: bool = True,
    client: PumpFunClient | None = None,
    now_ms: int | None = None,
) -> list[TokenDict] | int:
    """Up to `limit` coins launched in the last `days`, most recently traded first."""
    batcher = Batcher(batch_callback=batch_callback, batch_size=batch_size)
    async with _client_scope(client) as api:
        cutoff = cutoff_ms_for(days, now_ms=now_ms)
        await batcher.consume(trending_pages(api, cutoff_ms=cutoff, include_nsfw=include_nsfw, limit=limit))
    return await batcher.finish()


async def get_hybrid_recent_tokens(
    days: float,
    *,
    include_pump_only: bool = True,
    batch_callback: BatchCallback | None = None,
    batch_size: int | None = None,
    trending_limit: int = DEFAULT_TRENDING_LIMIT,
    include_nsfw: bool = True,
    client: PumpFunClient | None = None,
    now_ms: int | None = None,
) -> list[TokenDict] | int:
    """Recent launches, then trending coins not already seen, de-duplicated by mint.

    `include_pump_only=False` keeps only coins that have graduated from the bonding curve.
    """
    batcher = Batcher(batch_callback=batch_callback, batch_size=batch_size)
    async with _client_scope(client) as api:
        cutoff = cutoff_ms_for(days, now_ms=now_ms)
        sources = [
            recent_pages(api, cutoff_ms=cutoff, include_nsfw=include_nsfw),
            trending_pages(api, cutoff_ms=cutoff, include_nsfw=include_nsfw, limit=trending_limit),
        ]
        for pages in sources:
            await batcher.consume(pages if include_pump_only else _graduated_only(pages))
    return await batcher.finish()
