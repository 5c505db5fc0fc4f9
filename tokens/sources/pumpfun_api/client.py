"""pump.fun's frontend API: the HTTP client and the recent, trending and hybrid token lists, which
yield its coins as `Launch` records (tokens/sources/base.py).

Knows nothing of Django. Timestamps from pump.fun are milliseconds since the epoch.
"""

import os
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tokens.sources.base import RECENT, TRENDING, BatchCallback, Launch
from tokens.sources.batcher import Batcher
from tokens.sources.pumpfun_api.prefetch import PageReader
from tokens.sources.reach import Reach
from tokens.sources.resilience import (
    RetriesExhausted,
    RetryPolicy,
    TransientError,
    call_with_retries,
    circuit,
    json_or_transient,
    send_or_transient,
    shared_limiter,
)
from tokens.sources.tls import SHARED_CONTEXT

DEFAULT_BASE_URL = "https://frontend-api-v3.pump.fun"
PAGE_LIMIT = 50
DEFAULT_TRENDING_LIMIT = 200
API = "api"
PAGE_OVERLAP = 3  # coins each page re-reads from the previous one, to notice pages shifting
MAX_STEP_BACKS = 5

# Some deployments refuse requests that do not look like they come from the pump.fun site.
_BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Accept": "application/json",
    "Origin": "https://pump.fun",
    "Referer": "https://pump.fun/",
}


class PumpFunError(Exception):
    """pump.fun could not give us a page of coins, even after retries."""


class PumpFunRefused(PumpFunError):
    """pump.fun refuses this server (401/403, or a Cloudflare challenge page): retrying will not help."""


class PumpFunClient:
    """One `httpx.AsyncClient` for a whole run; every request is rate-limited and retried."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 15.0,
        page_limit: int = PAGE_LIMIT,
        retry: RetryPolicy | None = None,
        requests_per_second: float | None = None,
        prefetch_pages: int = 1,
    ) -> None:
        self.base_url = base_url
        self.page_limit = page_limit
        self.prefetch_pages = prefetch_pages
        self._retry = retry or RetryPolicy()
        self._rate = requests_per_second
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=_BROWSER_HEADERS, timeout=timeout, verify=SHARED_CONTEXT
        )

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
        limiter = None if self._rate is None else shared_limiter("pump.fun", per_second=self._rate)
        try:
            return await call_with_retries(
                lambda: self._get_page(params),
                policy=self._retry,
                limiter=limiter,
                what=f"pump.fun at offset {offset}",
                breaker=circuit("pump.fun"),
            )
        except RetriesExhausted as exc:
            raise PumpFunError(f"{exc}; PUMPFUN_API_URL is {self.base_url}") from exc

    async def _get_page(self, params: dict[str, Any]) -> list[Any]:
        response = await send_or_transient(self._get_unless_refused("/coins", params), deadline=self._retry.deadline)
        if response.status_code != 200:
            raise PumpFunError(f"pump.fun at offset {params['offset']}: answered HTTP {response.status_code}")
        body = json_or_transient(response)
        if not isinstance(body, list):
            raise TransientError(f"sent a JSON {type(body).__name__}, not a list of coins")
        return body

    async def _get_unless_refused(self, path: str, params: dict[str, Any]) -> httpx.Response:
        response = await self._http.get(path, params=params)
        if _is_refusal(response):
            raise PumpFunRefused(
                f"pump.fun ({self.base_url}) refuses this server: HTTP {response.status_code}"
                f"{' with a challenge page' if _is_html(response) else ''}. Set SOLANA_RPC_URL to read launches"
                " from the chain instead (upstream auto or chain), or run from a machine pump.fun serves"
            )
        return response


def _is_html(response: httpx.Response) -> bool:
    return "text/html" in response.headers.get("content-type", "")


def _is_refusal(response: httpx.Response) -> bool:
    if response.status_code in (401, 403):
        return True
    # Cloudflare's browser challenge: an HTML page where JSON should be, on 403 or 503.
    return response.status_code == 503 and _is_html(response) and b"challenge" in response.content.lower()


def _ms(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def cutoff_ms_for(days: float, *, now_ms: int | None = None) -> int:
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    return now_ms - int(days * 86_400_000)


def _tag(coin: Any, source: str, position: dict[str, Any]) -> Launch:
    """A coin of a listing page as a launch record (every value still a stranger's)."""
    return Launch.from_coin(coin, upstream=API, list_name=source, position=position)


@asynccontextmanager
async def _reader(client: PumpFunClient, *, sort: str, include_nsfw: bool) -> AsyncIterator[PageReader]:
    reader = PageReader(
        client, sort=sort, include_nsfw=include_nsfw, step=client.page_limit - PAGE_OVERLAP, depth=client.prefetch_pages
    )
    try:
        yield reader
    finally:
        await reader.close()


def _advance(page_length: int) -> int:
    """Next offset step: re-read the last few coins, unless the page is that short."""
    return page_length - PAGE_OVERLAP if page_length > PAGE_OVERLAP else page_length


async def recent_pages(
    client: PumpFunClient,
    *,
    cutoff_ms: int,
    window_end_ms: int,
    include_nsfw: bool,
    start: dict[str, Any] | None = None,
    reach: Reach | None = None,
) -> AsyncIterator[list[Any]]:
    """Coins created in [cutoff, window end], newest first, each once, from `start` if given.

    Offset pages shift while we read them: launches at the head push coins to later pages, and
    coins hidden upstream pull them to earlier ones. So pages overlap by a few coins, and an
    anchor (the oldest creation time delivered, plus the mints delivered at exactly that time)
    tells which coins are new. A page that begins older than the anchor means coins were skipped:
    we step back. A short page is not the end; the end is an empty page or one that reaches coins
    older than the cutoff.
    """
    offset = start["offset"] if start else 0
    anchor = start["anchor_ms"] if start else window_end_ms
    boundary = set(start["boundary"]) if start else set()
    reach = reach if reach is not None else Reach()
    step_backs = 0
    async with _reader(client, sort="created_timestamp", include_nsfw=include_nsfw) as reader:
        while True:
            page = await reader.page(offset)
            if not page:
                return
            stamps = [_ms(coin.get("created_timestamp")) if isinstance(coin, dict) else None for coin in page]
            known = [ts for ts in stamps if ts is not None]
            if offset > 0 and known and max(known) < anchor:
                step_backs += 1
                if step_backs > MAX_STEP_BACKS:
                    raise PumpFunError(f"pump.fun pages keep shifting under the backfill near offset {offset}")
                offset = max(0, offset - client.page_limit)
                continue
            step_backs = 0
            fresh = []
            for coin, ts in zip(page, stamps, strict=True):
                if ts is not None:
                    mint = coin.get("mint")
                    # Newer than the anchor: delivered already, or launched after the run's window.
                    if ts > anchor or (ts == anchor and mint in boundary) or ts < cutoff_ms:
                        continue
                    if ts < anchor:
                        anchor, boundary = ts, set()
                    boundary.add(mint)
                    reach.saw(ts)
                # Records without a usable timestamp pass on so validation can reject them with a reason.
                position = {
                    "phase": RECENT,
                    "offset": offset,
                    "anchor_ms": anchor,
                    "boundary": sorted(map(str, boundary)),
                }
                fresh.append(_tag(coin, RECENT, position))
            yield fresh
            if any(ts < cutoff_ms for ts in known):
                reach.reached_start = True
                return
            offset += _advance(len(page))


async def trending_pages(
    client: PumpFunClient, *, cutoff_ms: int, window_end_ms: int, include_nsfw: bool, limit: int
) -> AsyncIterator[list[Any]]:
    """Most recently traded first, keeping coins created inside the window, up to `limit` coins."""
    offset = 0
    taken: set[str] = set()
    async with _reader(client, sort="last_trade_timestamp", include_nsfw=include_nsfw) as reader:
        while len(taken) < limit:
            page = await reader.page(offset)
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
                if created is None or not cutoff_ms <= created <= window_end_ms or not isinstance(mint, str):
                    continue
                if mint not in taken:
                    taken.add(mint)
                    keep.append(_tag(coin, TRENDING, {"phase": TRENDING}))
            yield keep
            # A coin last traded before the cutoff was created before it, and so is every coin after it.
            last_trades = [_ms(coin.get("last_trade_timestamp")) for coin in page if isinstance(coin, dict)]
            if any(ts is not None and ts < cutoff_ms for ts in last_trades):
                return
            offset += _advance(len(page))


async def _graduated_only(pages: AsyncIterator[list[Launch]]) -> AsyncIterator[list[Launch]]:
    async for page in pages:
        yield [launch for launch in page if launch.complete is True]


@asynccontextmanager
async def _client_scope(client: PumpFunClient | None) -> AsyncIterator[PumpFunClient]:
    """Use the caller's client, or open one for this call from PUMPFUN_API_URL."""
    if client is not None:
        yield client
        return
    async with PumpFunClient(base_url=os.environ.get("PUMPFUN_API_URL") or DEFAULT_BASE_URL) as own:
        yield own


def _window(days: float, now_ms: int | None) -> tuple[int, int]:
    end = int(time.time() * 1000) if now_ms is None else now_ms
    return cutoff_ms_for(days, now_ms=end), end


async def get_recent_pump_tokens(
    days: float,
    *,
    batch_callback: BatchCallback | None = None,
    batch_size: int | None = None,
    include_nsfw: bool = True,
    client: PumpFunClient | None = None,
    now_ms: int | None = None,
    resume_from: dict[str, Any] | None = None,
    seen: Iterable[str] = (),
    reach: Reach | None = None,
) -> list[Launch] | int:
    """Coins launched in the last `days` before `now_ms`, newest first.

    Without `batch_callback` returns the list; with one, awaits it for every batch and returns
    how many coins it delivered. `resume_from` is a record's `position` from an earlier, interrupted
    call; `seen` are mints already delivered, which are not delivered again.
    """
    batcher = Batcher(batch_callback=batch_callback, batch_size=batch_size, seen=seen)
    cutoff, end = _window(days, now_ms)
    async with _client_scope(client) as api:
        start = resume_from if resume_from and resume_from.get("phase") == RECENT else None
        await batcher.consume(
            recent_pages(api, cutoff_ms=cutoff, window_end_ms=end, include_nsfw=include_nsfw, start=start, reach=reach)
        )
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
    resume_from: dict[str, Any] | None = None,
    seen: Iterable[str] = (),
) -> list[Launch] | int:
    """Up to `limit` coins launched in the last `days`, most recently traded first.

    Trending order changes by the second, so a resumed call lists it again and skips `seen` mints.
    """
    batcher = Batcher(batch_callback=batch_callback, batch_size=batch_size, seen=seen)
    cutoff, end = _window(days, now_ms)
    async with _client_scope(client) as api:
        await batcher.consume(
            trending_pages(api, cutoff_ms=cutoff, window_end_ms=end, include_nsfw=include_nsfw, limit=limit)
        )
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
    resume_from: dict[str, Any] | None = None,
    seen: Iterable[str] = (),
    trending_first: bool = False,
    reach: Reach | None = None,
) -> list[Launch] | int:
    """Recent launches and trending coins, de-duplicated by mint: recent first, or trending first
    (the coins people trade now reach the page before the rest of the history).

    `include_pump_only=False` keeps only coins that have graduated from the bonding curve.
    """
    batcher = Batcher(batch_callback=batch_callback, batch_size=batch_size, seen=seen)
    cutoff, end = _window(days, now_ms)
    order = [TRENDING, RECENT] if trending_first else [RECENT, TRENDING]
    resumed_phase = resume_from.get("phase") if resume_from else order[0]
    async with _client_scope(client) as api:
        # A resumed run skips the phases it finished; the one it was in goes on from its checkpoint.
        for phase in order[order.index(resumed_phase) :]:
            if phase == RECENT:
                start = resume_from if resume_from and resume_from.get("phase") == RECENT else None
                pages = recent_pages(
                    api, cutoff_ms=cutoff, window_end_ms=end, include_nsfw=include_nsfw, start=start, reach=reach
                )
            else:
                pages = trending_pages(
                    api, cutoff_ms=cutoff, window_end_ms=end, include_nsfw=include_nsfw, limit=trending_limit
                )
            await batcher.consume(pages if include_pump_only else _graduated_only(pages))
    return await batcher.finish()


async def get_launches_since(
    since_ms: int,
    *,
    client: PumpFunClient,
    now_ms: int,
    include_nsfw: bool = True,
    seen: Iterable[str] = (),
) -> list[Launch]:
    """Coins created from `since_ms` to `now_ms`, newest first, except `seen` mints: one poll of a
    live tail. It pages down from the head until it reaches `since_ms`, however many launches
    arrived since the last poll."""
    batcher = Batcher(batch_callback=None, batch_size=None, seen=seen)
    await batcher.consume(recent_pages(client, cutoff_ms=since_ms, window_end_ms=now_ms, include_nsfw=include_nsfw))
    return await batcher.finish()
