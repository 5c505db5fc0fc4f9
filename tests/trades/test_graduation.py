"""Graduation and migration as the trade stream sees them: the CompleteEvent graduates the coin and
its curve's last cap stops being shown ("migrating"); the migration names its pool, which is read at
once and prices the coin on every page; a migration to any other pool is not believed."""

import asyncio
import time

import orjson
import pytest
from channels.layers import get_channel_layer

from tests.fakes.chain import signature_for
from tests.fakes.pools import FakePool, migration_event_payload
from tests.fakes.trades import TradeTx, complete_event_payload
from tests.helpers import wait_for
from tests.trades.test_trade_stream import a_launch, launch_tail, launched, token, trade_service, tx, wallet
from tokens.live.messages import BOARD_GROUP
from tokens.models import Token

pytestmark = pytest.mark.django_db(transaction=True)
SOL_USD = 150.0


async def test_a_coin_graduates_migrates_and_is_priced_from_its_pool_the_moment_it_moves(solana):
    solana.follow_program = True
    now = int(time.time())
    coin, curve = a_launch(9_300, now)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(BOARD_GROUP, channel)
    async with launch_tail(solana), trade_service(solana) as service:
        await launched(solana, coin)
        last = curve.buy(wallet("whale"), 85 * 10**9, at=now)
        done = complete_event_payload(user=wallet("whale"), mint=coin.mint, bonding_curve=coin.bonding_curve,
                                      timestamp=now)  # fmt: skip
        solana.add_trades(tx("graduation", [last], completes=[done]))
        await wait_for(lambda: Token.objects.filter(mint=coin.mint, complete=True).exists())
        graduated = await token(coin.mint)
        assert graduated.pool_status == "migrating" and graduated.graduated_at.timestamp() == now
        assert graduated.usd_market_cap is None and graduated.market_cap_sol is None  # not the curve's last cap
        assert graduated.ath_usd_market_cap is not None  # what it reached on the curve stays its high

        pool = FakePool(solana, coin.mint).create(base=206 * 10**12, quote=84 * 10**9)
        moved = migration_event_payload(user=wallet("migrator"), mint=coin.mint, bonding_curve=coin.bonding_curve,
                                        timestamp=now + 5, pool=pool.address)  # fmt: skip
        sent = time.monotonic()
        solana.add_trades(
            TradeTx(signature=signature_for("migration"), block_time=now + 5, trades=[], completes=[moved])
        )
        row = await _priced_row(layer, channel, coin.mint)
        took = time.monotonic() - sent
        # A late copy of a curve trade does not bring the curve's price back.
        solana.add_trades(tx("late", [curve.sell(wallet("late"), 10**9, at=now + 1)]))
        await wait_for(lambda: Token.objects.filter(mint=coin.mint, sells_5m=1).exists())
    await layer.group_discard(BOARD_GROUP, channel)

    price = pool.price(base=206 * 10**12, quote=84 * 10**9)
    assert row["pool_status"] == "priced" and row["pool"] == pool.address
    assert row["usd_market_cap"] == pytest.approx(price * 10**9 * SOL_USD, rel=1e-6)
    assert row["liquidity_usd"] == pytest.approx(2 * 84 * SOL_USD)
    assert row["migrated_at"].startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + 5)))
    assert service.migrations_priced == 1 and took < 5  # read on sight, not at a later round
    stored = await token(coin.mint)
    assert stored.usd_market_cap == pytest.approx(price * 10**9 * SOL_USD, rel=1e-6)
    assert stored.pool_status == "priced" and stored.pool_base_vault == pool.base_vault


async def test_a_migration_to_any_other_pool_is_not_believed(solana):
    solana.follow_program = True
    now = int(time.time())
    coin, curve = a_launch(9_310, now)
    async with launch_tail(solana), trade_service(solana) as service:
        await launched(solana, coin)
        elsewhere = FakePool(solana, wallet("not-the-coin")).create(base=10**12, quote=10**9)  # a real pool, not its
        moved = migration_event_payload(user=wallet("liar"), mint=coin.mint, bonding_curve=coin.bonding_curve,
                                        timestamp=now, pool=elsewhere.address)  # fmt: skip
        solana.add_trades(tx("lie", [curve.buy(wallet("x"), 10**8, at=now)], completes=[moved]))
        await wait_for(lambda: Token.objects.filter(mint=coin.mint, buys_5m=2).exists())
    stored = await token(coin.mint)
    assert not stored.complete and stored.pool == "" and stored.pool_status == "" and stored.migrated_at is None
    assert service.invalid >= 1 and service.migrations_priced == 0


async def _priced_row(layer, channel: str, mint: str) -> dict:
    async def first() -> dict:
        while True:
            message = orjson.loads((await layer.receive(channel))["text"])
            for row in message.get("tokens", []) if message["type"] == "update" else []:
                if row["mint"] == mint and row.get("pool_status") == "priced":
                    return row

    return await asyncio.wait_for(first(), timeout=10)
