"""Reading pages ahead: fetching overlaps processing, and batches, order and de-duplication stay
exactly what one-page-at-a-time reading gives."""

import asyncio

import pytest

from tests.fakes.coins import make_coin, now_ms
from tests.fakes.http import Reply
from tests.fakes.pumpfun import FakePumpFun
from tokens.sources.pumpfun_api.client import PumpFunClient, get_hybrid_recent_tokens, get_recent_pump_tokens
from tokens.sources.resilience import RetryPolicy

FAST = RetryPolicy(attempts=4, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0)


@pytest.fixture
def server():
    now = now_ms()
    coins = [make_coin(i, created_ms=now - 5_000 - i * 1_000) for i in range(400)]
    coins += [make_coin(5_000 + i, created_ms=now - 2 * 86_400_000 - i) for i in range(100)]
    fake = FakePumpFun(coins).start()
    yield fake
    fake.stop()


async def batches_of(server, *, prefetch: int, batch_size: int, hybrid: bool = False) -> list[list[str]]:
    batches: list[list[str]] = []

    async def collect(batch):
        batches.append([coin.mint for coin in batch])

    source = get_hybrid_recent_tokens if hybrid else get_recent_pump_tokens
    async with PumpFunClient(base_url=server.url, prefetch_pages=prefetch, retry=FAST) as client:
        await source(1, batch_callback=collect, batch_size=batch_size, client=client, now_ms=now_ms())
    return batches


@pytest.mark.parametrize("batch_size", [1, 7, 50])
@pytest.mark.parametrize("hybrid", [False, True])
async def test_read_ahead_gives_the_same_batches_in_the_same_order(server, batch_size, hybrid):
    one_at_a_time = await batches_of(server, prefetch=1, batch_size=batch_size, hybrid=hybrid)
    read_ahead = await batches_of(server, prefetch=4, batch_size=batch_size, hybrid=hybrid)
    assert read_ahead == one_at_a_time
    assert sum(len(b) for b in read_ahead) == 400


async def test_read_ahead_under_faults_and_head_launches_stores_the_exact_window(server):
    expected = {c["mint"] for c in server.coins[:400]}
    arrivals = iter(range(50_000, 60_000))
    server.before_page = lambda fake, params: fake.add_launches([make_coin(next(arrivals), created_ms=now_ms())])
    server.fault_plan = lambda n: Reply(503, {"message": "busy"}) if n % 3 == 0 else None
    batches = await batches_of(server, prefetch=4, batch_size=10)
    mints = [mint for batch in batches for mint in batch]
    assert len(mints) == len(set(mints)) and set(mints) == expected
    assert server.faults_served > 3


async def test_pages_are_fetched_while_a_batch_is_processed(server):
    during: list[tuple[int, int]] = []

    async def slow(batch):
        before = server.pages_served()
        await asyncio.sleep(0.1)
        during.append((before, server.pages_served()))

    async with PumpFunClient(base_url=server.url, prefetch_pages=4) as client:
        await get_recent_pump_tokens(1, batch_callback=slow, batch_size=47, client=client)
    assert any(after > before for before, after in during)


async def test_the_read_ahead_stops_when_the_window_ends(server):
    async with PumpFunClient(base_url=server.url, prefetch_pages=4) as client:
        await get_recent_pump_tokens(1, client=client)
    # 400 coins in the window: 9 pages reach the cutoff; at most 3 predictions beyond it are wasted.
    assert 9 <= server.pages_served() <= 12
