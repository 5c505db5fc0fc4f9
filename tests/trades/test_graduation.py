"""Graduation and migration as the trade stream sees them: the CompleteEvent graduates the coin when
it happens and its curve's last cap stops being shown ("migrating"); the migration names its pool,
which is read at once and prices the coin on every page; a migration to any other pool is not
believed; with PumpSwap followed, the pool's trades move the coin's price and figures."""

import asyncio
import time

import orjson
import pytest
from channels.layers import get_channel_layer

from tests.fakes.chain import signature_for
from tests.fakes.pools import FakePool, migration_event_payload, trade_in
from tests.fakes.trades import TradeTx, complete_event_payload
from tests.helpers import wait_for
from tests.trades.test_trade_stream import a_launch, launch_tail, launched, token, trade_service, tx, wallet
from tokens.live.messages import BOARD_GROUP
from tokens.models import Token, TradeStream
from tokens.models import Trade as StoredTrade

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


async def test_with_pumpswap_followed_a_graduated_coins_pool_trades_move_its_price_and_figures(solana):
    solana.follow_program = True
    now = int(time.time())
    coin, curve = a_launch(9_320, now)
    pool = FakePool(solana, coin.mint, virtual_quote=17_584_505_289)
    stranger = FakePool(solana, wallet("a-coin-the-board-does-not-hold"))
    async with launch_tail(solana), trade_service(solana, follow_pumpswap=True) as service:
        await wait_for(lambda: len(solana.subscribers) == 3)  # launches, pump's trades, PumpSwap's trades
        solana.add(coin)
        await wait_for(lambda: Token.objects.filter(mint=coin.mint, buys_5m=1).exists())
        last = curve.buy(wallet("whale"), 85 * 10**9, at=now)
        done = complete_event_payload(user=wallet("whale"), mint=coin.mint, bonding_curve=coin.bonding_curve,
                                      timestamp=now)  # fmt: skip
        pool.create(base=206_900_000_000_000, quote=67_405_853_790)
        moved = migration_event_payload(user=wallet("migrator"), mint=coin.mint, bonding_curve=coin.bonding_curve,
                                        timestamp=now + 1, pool=pool.address)  # fmt: skip
        solana.add_trades(tx("graduation", [last], completes=[done, moved]))
        await wait_for(lambda: Token.objects.filter(mint=coin.mint, pool_status="priced").exists())

        buy = trade_in(pool, base=206_900_000_000_000, quote=67_405_853_790, user=wallet("pool-buyer"), is_buy=True,
                       amount=5 * 10**9, at=now + 2)  # fmt: skip
        sell = trade_in(pool, base=206_900_000_000_000 - buy.base_amount, quote=72_405_853_790,
                        user=wallet("pool-seller"), is_buy=False, amount=10**12, at=now + 3)  # fmt: skip
        elsewhere = trade_in(stranger, base=10**14, quote=10**11, user=wallet("x"), is_buy=True, amount=10**9,
                             at=now + 3)  # fmt: skip
        solana.add_trades(TradeTx(signature=signature_for("pool-trades"), block_time=now + 3, trades=[],
                                  amm=[buy.payload(), sell.payload(), elsewhere.payload()]))  # fmt: skip
        await wait_for(lambda: Token.objects.filter(mint=coin.mint, sells_5m=1, buys_5m=3).exists())
    stored = await token(coin.mint)
    base_after = 206_900_000_000_000 - buy.base_amount + sell.base_amount
    priced_quote = 67_405_853_790 + 17_584_505_289 + buy.quote_amount - sell.quote_amount
    price = (priced_quote / 1e9) / (base_after / 1e6)
    assert stored.usd_market_cap == pytest.approx(price * 10**9 * SOL_USD, rel=1e-4)  # after the pool's last trade
    traded = sum(t.quote_amount for t in curve.trades) + buy.quote_amount + sell.quote_amount
    assert stored.volume_5m_usd == pytest.approx(traded / 1e9 * SOL_USD, abs=0.02)  # across graduation
    assert stored.pool_status == "priced" and service.trades_stored >= 4
    assert service.migrations_priced == 1  # both streams brought the migration: read once
    assert not await StoredTrade.objects.filter(mint=stranger.mint).aexists()  # not a coin of the board
    assert await StoredTrade.objects.filter(mint=coin.mint, trader=wallet("pool-buyer")).aexists()
    state = await TradeStream.objects.aget(pk=1)
    assert state.amm_last_signature == signature_for("pool-trades")


async def test_pumpswaps_stream_fills_its_own_gap_and_a_gap_too_long_moves_only_pool_coins_coverage(solana):
    solana.follow_program = True
    now = int(time.time())
    (coin, _), (curve_coin, _) = a_launch(9_330, now), a_launch(9_331, now)
    pool = FakePool(solana, coin.mint)
    async with launch_tail(solana), trade_service(solana, follow_pumpswap=True, max_gap=3):
        await wait_for(lambda: len(solana.subscribers) == 3)
        solana.add(coin, curve_coin)
        await wait_for(lambda: Token.objects.filter(buys_5m=1).count() == 2)
        pool.create(base=10**14, quote=80 * 10**9)
        moved = migration_event_payload(user=wallet("m"), mint=coin.mint, bonding_curve=coin.bonding_curve,
                                        timestamp=now, pool=pool.address)  # fmt: skip
        solana.add_trades(
            TradeTx(signature=signature_for("gap-migration"), block_time=now, trades=[], completes=[moved])
        )
        await wait_for(lambda: Token.objects.filter(mint=coin.mint, pool_status="priced").exists())
        solana.drop_websockets()  # both streams reconnect and fill what they missed
        base, quote = 10**14, 80 * 10**9
        missed = []
        for i in range(2):
            trade = trade_in(pool, base=base, quote=quote, user=wallet(f"gap-{i}"), is_buy=True, amount=10**9,
                             at=now + 1)  # fmt: skip
            base, quote = base - trade.base_amount, quote + trade.quote_amount
            missed.append(TradeTx(signature=signature_for(f"pool-gap-{i}"), block_time=now + 1, trades=[],
                                  amm=[trade.payload()]))  # fmt: skip
        solana.add_trades(*missed)
        await wait_for(lambda: StoredTrade.objects.filter(mint=coin.mint, trader__in=[wallet("gap-0"), wallet("gap-1")])
                       .count() == 2)  # fmt: skip
        assert (await TradeStream.objects.aget(pk=1)).gaps == 0

    # Stopped; meanwhile PumpSwap runs past the budget (3 transactions): a gap of the pools only.
    later = [TradeTx(signature=signature_for(f"pool-later-{i}"), block_time=now + 2, trades=[], amm=[
        trade_in(pool, base=base, quote=quote, user=wallet(f"l{i}"), is_buy=True, amount=10**8, at=now + 2).payload()])
        for i in range(5)]  # fmt: skip
    solana.add_trades(*later, notify=False)
    curve_before = (await token(curve_coin.mint)).trades_since
    async with trade_service(solana, follow_pumpswap=True, max_gap=3):
        await wait_for(lambda: TradeStream.objects.filter(gaps=1).exists())
        await wait_for(lambda: StoredTrade.objects.filter(mint=coin.mint, slot__isnull=False).count() >= 1 + 2 + 3)
    state = await TradeStream.objects.aget(pk=1)
    assert state.last_gap.startswith("PumpSwap: ")
    assert (await token(coin.mint)).trades_since.timestamp() == now + 2  # its pool's trades count from there
    assert (await token(curve_coin.mint)).trades_since == curve_before  # a curve coin's whole life stays whole
