"""Beyond the seed: adaptive batch sizes and trending-first batches."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tests.fakes.coins import make_coin, now_ms
from tests.fakes.pumpfun import FakePumpFun
from tests.helpers import run_load, update_settings
from tokens.sources.batcher import AdaptiveBatchSize
from tokens.sources.pumpfun_api.client import PumpFunClient, get_hybrid_recent_tokens, get_recent_pump_tokens


@pytest.fixture
def server():
    now = now_ms()
    coins = [
        make_coin(i, created_ms=now - 5_000 - i * 1_000, last_trade_timestamp=now - 10_000_000) for i in range(300)
    ]
    fake = FakePumpFun(coins).start()
    yield fake
    fake.stop()


async def sizes(server, batch_size, *, slow_batches: int = 0) -> list[int]:
    seen: list[int] = []

    async def collect(batch):
        seen.append(len(batch))
        if len(seen) <= slow_batches:
            await asyncio.sleep(0.03)

    async with PumpFunClient(base_url=server.url) as client:
        await get_recent_pump_tokens(1, batch_callback=collect, batch_size=batch_size, client=client)
    return seen


async def test_batches_start_small_and_double_up_to_the_target(server):
    sizer = AdaptiveBatchSize(target=50, budget_seconds=10, first=5)
    assert await sizes(server, sizer) == [5, 10, 20, 40, 50, 50, 50, 50, 25]


async def test_batches_that_overrun_the_budget_shrink(server):
    sizer = AdaptiveBatchSize(target=50, budget_seconds=0.02, first=8)
    got = await sizes(server, sizer, slow_batches=3)
    assert got[:6] == [8, 4, 2, 1, 2, 4] and sum(got) == 300  # then fast again: growing back


async def test_trending_first_puts_traded_coins_in_the_first_batches(server):
    now = now_ms()
    hot = [coin["mint"] for coin in server.coins[200:210]]
    for index, coin in enumerate(server.coins[200:210]):
        coin["last_trade_timestamp"] = now - index  # traded just now
    delivered: list[dict] = []

    async def collect(batch):
        delivered.extend(batch)

    async with PumpFunClient(base_url=server.url) as client:
        await get_hybrid_recent_tokens(
            1, batch_callback=collect, batch_size=10, client=client, trending_first=True, trending_limit=10
        )
    assert [coin.mint for coin in delivered[:10]] == hot
    assert {coin.list_name for coin in delivered[:10]} == {"trending"}
    assert len(delivered) == len({coin.mint for coin in delivered}) == 300


@pytest.mark.django_db(transaction=True)
async def test_the_admin_switches_reach_a_run(pumpfun):
    pumpfun.coins = [make_coin(i, created_ms=now_ms() - 5_000 - i * 1_000) for i in range(100)]
    await sync_to_async(update_settings)(adaptive_batch_size=True, batch_time_budget_ms=10_000, trending_first=True)
    run = await run_load(days=1, batch_size=40, source="hybrid")
    assert run.status == "succeeded" and run.accepted == 100
    assert run.batches == 4  # 10, 20, 40, 30 instead of 40, 40, 20
