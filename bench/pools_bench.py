"""Graduated coins priced from their PumpSwap pools: RPC calls per graduated coin per live refresh,
and the time from a migration's notification to the pool's first price on a page.

In one process: a fake Solana RPC and websocket (tests/fakes, real sockets, `--latency` seconds per
HTTP request: the round trip), the shipped `LiveRefresh` and `TradeService`, SQLite and the in-memory
channel layer (a page is a channel of the board's group). Writes bench/results/pools.md.

    python bench/pools_bench.py [--coins 1000 5000] [--migrations 30] [--latency 0.02]
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from run_bench import save_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coins", type=int, nargs="+", default=[1_000, 5_000])
    parser.add_argument("--migrations", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per RPC HTTP request")
    args = parser.parse_args()
    from tests.fakes.chain import FakeSolana

    fake = FakeSolana(latency=args.latency).start()
    fake.follow_program = True
    workdir = Path(tempfile.mkdtemp(prefix="pools-bench-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="project.settings", DEBUG="true", DATABASE_URL=f"sqlite:///{workdir / 'pools.sqlite3'}",
        SOLANA_RPC_URL=fake.url + "/?api-key=bench", SOLANA_WS_URL=fake.ws_url,
        SOLANA_RPC_REQUESTS_PER_SECOND="1000", FOLLOW_LAUNCHES="off",
    )  # fmt: skip
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    try:
        refreshes = [asyncio.run(refresh_round(fake, coins)) for coins in args.coins]
        migration = asyncio.run(migrations(fake, args.migrations, latency=args.latency))
    finally:
        fake.stop()
    report(args, refreshes, migration)


def _token(mint: str, index: int, **fields):
    from tokens.models import Token

    now = datetime.now(tz=UTC)
    return Token(
        mint=mint, name=f"Graduated {index}", symbol=f"G{index}", created_at=now, first_seen_at=now,
        last_seen_at=now, quote="SOL", complete=True, bonding_progress=100.0, **fields,
    )  # fmt: skip


async def refresh_round(fake, coins: int) -> dict:
    """`coins` graduated coins whose pools are found: one live round prices them all."""
    from asgiref.sync import sync_to_async

    from tests.fakes.chain import key_for
    from tests.fakes.pools import FakePool
    from tokens.details.stage import DetailStage, LiveRefresh
    from tokens.models import Token
    from tokens.sources.clients import chain_source, solana_rpc

    pools = [FakePool(fake, key_for(f"bench-graduated-{coins}-{i}")) for i in range(coins)]
    for i, pool in enumerate(pools):
        pool.create(base=200 * 10**12, quote=(80 + i % 50) * 10**9)

    def store() -> None:
        Token.objects.all().delete()
        Token.objects.bulk_create(
            [_token(p.mint, i, pool=p.address, pool_base_vault=p.base_vault, pool_quote_vault=p.quote_vault,
                    token_supply=10**15, pool_status="priced") for i, p in enumerate(pools)],
            batch_size=1000,
        )  # fmt: skip

    await sync_to_async(store)()
    async with solana_rpc() as rpc:
        stage = DetailStage(chain=chain_source(rpc), holders=None, metadata=None)
        await stage.chain.current_states([])  # the SOL/USD price in hand, as in a running feed
        refresh = LiveRefresh(stage, count=0, pool_count=coins, seconds=10)
        calls = fake.method_calls.get("getMultipleAccounts", 0)
        started = time.perf_counter()
        await refresh.refresh_once()
        took = time.perf_counter() - started
        used = fake.method_calls["getMultipleAccounts"] - calls
    priced = await sync_to_async(Token.objects.filter(pool_status="priced", usd_market_cap__isnull=False).count)()
    return {"coins": coins, "calls": used, "per_coin": used / coins, "seconds": took, "priced": priced}


async def migrations(fake, count: int, *, latency: float) -> dict:
    """`count` coins migrate one after another; each migration's notification is sent while the
    stream listens, and a page waits for the row update that prices the coin from its pool."""
    import orjson
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from tests.fakes.chain import key_for, signature_for
    from tests.fakes.pools import FakePool, migration_event_payload
    from tests.fakes.trades import TradeTx
    from tokens.live.messages import BOARD_GROUP
    from tokens.models import Token
    from tokens.sources.clients import chain_source, solana_rpc
    from tokens.trades.service import TradeService

    pools = [FakePool(fake, key_for(f"bench-migration-{i}")) for i in range(count)]

    def store() -> None:
        Token.objects.all().delete()
        Token.objects.bulk_create([_token(p.mint, i, pool_status="migrating") for i, p in enumerate(pools)])

    await sync_to_async(store)()
    layer = get_channel_layer()
    page = await layer.new_channel()
    await layer.group_add(BOARD_GROUP, page)
    delays = []
    async with solana_rpc() as rpc:
        service = TradeService(chain=chain_source(rpc), flush_seconds=1.0)
        task = asyncio.create_task(service.run())
        while not fake.subscribers:
            await asyncio.sleep(0.05)
        await service._sol_usd()  # the SOL/USD price in hand, as in a running feed
        for i, pool in enumerate(pools):
            pool.create(base=206_900_000_000_000, quote=67 * 10**9)
            payload = migration_event_payload(user=key_for("migrator"), mint=pool.mint, bonding_curve=key_for("c"),
                                              timestamp=int(time.time()), pool=pool.address)  # fmt: skip
            tx = TradeTx(signature=signature_for(f"bench-migration-{i}"), block_time=int(time.time()), trades=[],
                         completes=[payload])  # fmt: skip
            sent = time.perf_counter()
            await asyncio.to_thread(fake.add_trades, tx)
            while True:
                message = orjson.loads((await asyncio.wait_for(layer.receive(page), timeout=10))["text"])
                rows = message.get("tokens", []) if message["type"] == "update" else []
                if any(r["mint"] == pool.mint and r.get("pool_status") == "priced" for r in rows):
                    delays.append(time.perf_counter() - sent)
                    break
            await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    delays.sort()
    return {
        "count": count, "latency": latency, "p50": statistics.median(delays),
        "p99": delays[min(len(delays) - 1, int(len(delays) * 0.99))], "max": delays[-1],
        "calls": service.pools.calls,
    }  # fmt: skip


def report(args, refreshes: list[dict], migration: dict) -> None:
    goal = 2 * migration["latency"] + 0.1
    lines = [
        "# PumpSwap pools: calls per graduated coin, migration to first price",
        "",
        f"`python bench/pools_bench.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): a fake RPC at "
        f"{args.latency * 1000:.0f} ms a request, SQLite, the in-memory channel layer, one process.",
        "",
        "## RPC calls per graduated coin per live refresh (goal ≤ 0.02)",
        "",
        "| graduated coins | getMultipleAccounts | calls per coin | round took | coins priced |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {r['coins']:,} | {r['calls']} | {r['per_coin']:.3f} | {r['seconds']:.2f} s | {r['priced']:,} |"
            for r in refreshes
        ),
        "",
        "Both vaults of 50 pools a call; the SOL/USD price is read at most every 10 s beside the curves "
        "(not counted: it serves every figure of the round).",
        "",
        f"## Migration to the pool's first price on a page (goal ≤ 2 round trips + 100 ms = {goal * 1000:.0f} ms)",
        "",
        "| migrations | p50 | p99 | max | pool-reading calls |",
        "|---:|---:|---:|---:|---:|",
        f"| {migration['count']} | {migration['p50'] * 1000:.0f} ms | {migration['p99'] * 1000:.0f} ms | "
        f"{migration['max'] * 1000:.0f} ms | {migration['calls']} |",
        "",
        "From the fake sending the migration's `logsNotification` to the page's channel receiving the row "
        "update with `pool_status` priced: one `getMultipleAccounts` (pool, both vault candidates, the mint), "
        "one write, one broadcast.",
    ]
    save_report("pools.md", lines)


if __name__ == "__main__":
    main()
