"""The seed's batch cases: exact callback counts and sizes, every token once, list without a callback."""

import asyncio

import pytest

from tests.fakes.coins import make_history, now_ms
from tests.fakes.pumpfun import FakePumpFun
from tokens.sources.base import Launch
from tokens.sources.batcher import Batcher
from tokens.sources.pumpfun_api.client import PumpFunClient, get_hybrid_recent_tokens, get_recent_pump_tokens


@pytest.fixture
def server():
    fake = FakePumpFun([]).start()
    yield fake
    fake.stop()


def expected_sizes(count: int, batch_size: int) -> list[int]:
    sizes = [batch_size] * (count // batch_size)
    if count % batch_size:
        sizes.append(count % batch_size)
    return sizes


@pytest.mark.parametrize("batch_size", [1, 7, 10, 50])
@pytest.mark.parametrize("count", [0, 1, 6, 7, 8, 100])
async def test_callback_batches_have_exact_sizes_and_cover_every_token_once(server, batch_size, count):
    server.coins = make_history(count)
    batches: list[list[dict]] = []

    async def collect(batch):
        batches.append(list(batch))

    async with PumpFunClient(base_url=server.url) as client:
        delivered = await get_recent_pump_tokens(1, batch_callback=collect, batch_size=batch_size, client=client)

    assert [len(batch) for batch in batches] == expected_sizes(count, batch_size)
    mints = [coin.mint for batch in batches for coin in batch]
    assert sorted(mints) == sorted(coin["mint"] for coin in server.coins)
    assert len(set(mints)) == len(mints)
    assert delivered == count


async def test_without_a_callback_the_whole_list_is_returned_newest_first(server):
    server.coins = make_history(120)
    async with PumpFunClient(base_url=server.url) as client:
        tokens = await get_recent_pump_tokens(1, client=client)
    assert isinstance(tokens, list)
    assert [coin.mint for coin in tokens] == [coin["mint"] for coin in server.coins]


async def test_hybrid_callback_sees_a_token_once_even_when_both_sources_list_it(server):
    server.coins = make_history(30)
    seen: list[str] = []

    async def collect(batch):
        seen.extend(coin.mint for coin in batch)

    async with PumpFunClient(base_url=server.url) as client:
        await get_hybrid_recent_tokens(1, batch_callback=collect, batch_size=7, client=client)

    assert server.pages_served("last_trade_timestamp") >= 1  # trending was asked too
    assert sorted(seen) == sorted(coin["mint"] for coin in server.coins)


async def test_a_slow_callback_holds_back_the_next_page(server):
    """The callback is awaited: no page is fetched while a batch is being handled."""
    server.coins = make_history(150, newest_ms=now_ms() - 1000)
    pages_during_callbacks: list[tuple[int, int]] = []

    async def slow(batch):
        before = server.pages_served()
        await asyncio.sleep(0.05)
        pages_during_callbacks.append((before, server.pages_served()))

    async with PumpFunClient(base_url=server.url) as client:
        await get_recent_pump_tokens(1, batch_callback=slow, batch_size=50, client=client)

    assert len(pages_during_callbacks) == 3
    assert all(before == after for before, after in pages_during_callbacks)


async def test_the_first_pages_can_each_end_a_batch_the_rest_make_exact_batches():
    """The chain reads its first pages alone for the first rows: a short one goes as it is."""
    pages = [["a", "b", "c"], ["d"], ["e", "f", "g", "h"], [], ["i", "j"]]
    batches: list[list[str]] = []

    async def collect(batch):
        batches.append([launch.mint for launch in batch])

    async def page_source():
        for page in pages:
            yield [Launch(mint=mint) for mint in page]

    batcher = Batcher(batch_callback=collect, batch_size=3)
    await batcher.consume(page_source(), whole_pages=2)
    assert await batcher.finish() == 10
    assert batches == [["a", "b", "c"], ["d"], ["e", "f", "g"], ["h", "i", "j"]]
