"""The pump.fun client against a fake server on a real socket: paging, window, de-duplication, errors."""

import pytest

from tests.fakes.coins import make_coin, make_history, now_ms
from tests.fakes.pumpfun import FakePumpFun
from tokens.sources.pumpfun_api.client import (
    PumpFunClient,
    get_hybrid_recent_tokens,
    get_recent_pump_tokens,
    get_trending_pump_tokens,
)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@pytest.fixture
def server():
    fake = FakePumpFun([]).start()
    yield fake
    fake.stop()


async def fetch_recent(server, days, **kwargs):
    async with PumpFunClient(base_url=server.url) as client:
        return await get_recent_pump_tokens(days, client=client, **kwargs)


async def test_pages_of_fifty_sorted_by_creation_with_browser_headers(server):
    server.coins = make_history(120)
    tokens = await fetch_recent(server, 1, include_nsfw=False)
    assert len(tokens) == 120
    first = server.requests[0]
    assert first == {"offset": "0", "limit": "50", "sort": "created_timestamp", "order": "DESC", "includeNsfw": "false"}
    # Each page re-reads the previous page's last 3 coins, to notice pages shifting.
    assert [r["offset"] for r in server.requests] == ["0", "47", "94", "117", "120"]
    headers = {k.lower(): v for k, v in server.request_headers[0].items()}
    assert headers["origin"] == "https://pump.fun"
    assert "mozilla" in headers["user-agent"].lower()


async def test_stops_at_the_first_page_that_crosses_the_window_in_milliseconds(server):
    now = now_ms()
    inside = [make_coin(i, created_ms=now - i * HOUR_MS) for i in range(24)]  # 0h..23h old
    outside = [make_coin(100 + i, created_ms=now - DAY_MS - (i + 1) * HOUR_MS) for i in range(200)]
    server.coins = inside + outside
    tokens = await fetch_recent(server, 1)
    assert {t.mint for t in tokens} == {c["mint"] for c in inside}
    assert len(server.requests) == 1  # the first page already reached older coins


async def test_a_short_page_is_not_the_end(server):
    server.max_limit = 48  # the server caps the limit below what we ask
    server.coins = make_history(130)
    tokens = await fetch_recent(server, 1)
    assert len(tokens) == 130
    assert [r["offset"] for r in server.requests] == ["0", "45", "90", "127", "130"]


async def test_an_empty_first_page_gives_an_empty_list(server):
    assert await fetch_recent(server, 7) == []


async def test_launches_arriving_mid_backfill_do_not_duplicate_tokens(server):
    now = now_ms()
    in_window = [make_coin(i, created_ms=now - 60_000 - i * 1_000) for i in range(200)]
    older = [make_coin(500 + i, created_ms=now - 2 * DAY_MS - i * 1_000) for i in range(100)]
    server.coins = in_window + older
    arrivals = iter(range(10_000, 10_100))

    def launch_three(fake, params):
        if params["offset"] != "0":
            fake.add_launches([make_coin(next(arrivals), created_ms=now_ms()) for _ in range(3)])

    server.before_page = launch_three
    tokens = await fetch_recent(server, 1)
    mints = [t.mint for t in tokens]
    assert len(mints) == len(set(mints))
    assert set(mints) == {c["mint"] for c in in_window}  # shifted pages repeat coins, never lose them


async def test_nsfw_switch_is_sent_upstream(server):
    server.coins = [make_coin(1, created_ms=now_ms() - 1000), make_coin(2, created_ms=now_ms() - 2000, nsfw=True)]
    assert len(await fetch_recent(server, 1, include_nsfw=True)) == 2
    assert len(await fetch_recent(server, 1, include_nsfw=False)) == 1


async def test_trending_keeps_the_window_and_the_cap(server):
    now = now_ms()
    fresh = [make_coin(i, created_ms=now - i * 60_000, last_trade_timestamp=now - i) for i in range(30)]
    old_but_hot = [
        make_coin(100 + i, created_ms=now - 10 * DAY_MS, last_trade_timestamp=now - 5 - i) for i in range(10)
    ]
    server.coins = fresh + old_but_hot
    async with PumpFunClient(base_url=server.url) as client:
        capped = await get_trending_pump_tokens(1, limit=12, client=client)
        everything = await get_trending_pump_tokens(1, limit=500, client=client)
    assert len(capped) == 12
    assert {t.mint for t in everything} == {c["mint"] for c in fresh}
    assert all(r["sort"] == "last_trade_timestamp" for r in server.requests)


async def test_trending_stops_when_trades_are_older_than_the_window(server):
    now = now_ms()
    server.coins = [
        make_coin(i, created_ms=now - 3 * DAY_MS, last_trade_timestamp=now - 2 * DAY_MS - i) for i in range(500)
    ]
    async with PumpFunClient(base_url=server.url) as client:
        tokens = await get_trending_pump_tokens(1, limit=1000, client=client)
    assert tokens == []
    assert len(server.requests) == 1


async def test_hybrid_deduplicates_across_sources_and_tags_where_each_came_from(server):
    now = now_ms()
    recent = [make_coin(i, created_ms=now - i * 60_000, last_trade_timestamp=now - 10_000_000) for i in range(20)]
    # Created inside the window, but deeper than the recent pages reach when the server shifts.
    server.coins = recent
    async with PumpFunClient(base_url=server.url) as client:
        tokens = await get_hybrid_recent_tokens(1, client=client)
    assert sorted(t.mint for t in tokens) == sorted(c["mint"] for c in recent)
    assert {t.list_name for t in tokens} == {"recent"}


async def test_hybrid_graduated_only_when_pump_only_tokens_are_excluded(server):
    now = now_ms()
    server.coins = [make_coin(1, created_ms=now - 1000), make_coin(2, created_ms=now - 2000, complete=True)]
    async with PumpFunClient(base_url=server.url) as client:
        tokens = await get_hybrid_recent_tokens(1, include_pump_only=False, client=client)
    assert [t.mint for t in tokens] == [server.coins[1]["mint"]]
