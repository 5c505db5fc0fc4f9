"""The trade stream end to end: a fake pump program on real sockets (websocket notifications, the
RPC's signatures and transactions), the feed's trade service, the database. Every figure is checked
against a ledger this test keeps of the trades it sent."""

import asyncio
import time
from collections import defaultdict
from contextlib import asynccontextmanager

import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from tests.fakes.chain import Launch, key_for, signature_for
from tests.fakes.trades import TRADE_LAYOUTS, Curve, Trade, TradeTx
from tests.helpers import queue_run, run_load, update_settings, wait_for
from tokens.live.messages import BOARD_GROUP
from tokens.models import Holding, LoadRun, Token, TradeStream
from tokens.models import Trade as StoredTrade
from tokens.runs.loader import execute_run
from tokens.runs.requests import request_cancel
from tokens.sources.chain.addresses import MAYHEM_SOL_VAULT, USDC_MINT
from tokens.sources.clients import chain_source, solana_rpc
from tokens.trades.service import TradeService

pytestmark = pytest.mark.django_db(transaction=True)
SOL_USD = 150.0
SUPPLY = 10**15


class Ledger:
    """What the sent trades imply, computed here from the trades themselves."""

    def __init__(self) -> None:
        self.trades: list[Trade] = []

    def add(self, *trades: Trade) -> None:
        self.trades += trades

    def of(self, mint: str) -> list[Trade]:
        return [t for t in self.trades if t.mint == mint]

    def held(self, mint: str) -> dict[str, int]:
        held: dict[str, int] = defaultdict(int)
        for t in self.of(mint):
            held[t.user] += t.token_amount if t.is_buy else -t.token_amount
        return held

    def volume_usd(self, mint: str, *, usdc: bool = False) -> float:
        total = sum(t.quote_amount for t in self.of(mint))
        return round(total / 10**6 if usdc else total / 10**9 * SOL_USD, 2)

    def net_usd(self, mint: str) -> float:
        signed = sum(t.quote_amount if t.is_buy else -t.quote_amount for t in self.of(mint))
        return round(signed / 10**9 * SOL_USD, 2)


def pct(tokens: int) -> float:
    return round(100 * tokens / SUPPLY, 4)


def price(trade: Trade, *, decimals: int = 9) -> float:
    return (trade.virtual_quote / 10**decimals) / (trade.virtual_tokens / 10**6)


@asynccontextmanager
async def trade_service(solana, *, max_gap: int = 2_000, flush_seconds: float = 0.2, **options):
    async with solana_rpc() as rpc:
        service = TradeService(chain=chain_source(rpc), flush_seconds=flush_seconds, max_gap=max_gap, **options)
        task = asyncio.create_task(service.run())
        try:
            yield service
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def launch_tail(solana):
    await sync_to_async(update_settings)(tail_interval_seconds=1)
    run = await sync_to_async(queue_run)(days=1, batch_size=10, follow=True, upstream="chain")
    task = asyncio.create_task(execute_run(run_id=run.pk))
    await wait_for(lambda: (LoadRun.objects.get(pk=run.pk).checkpoint or {}).get("phase") == "tail")
    try:
        yield
    finally:
        await sync_to_async(request_cancel)(run_id=run.pk)
        await asyncio.wait_for(task, timeout=15)


def wallet(name: str) -> str:
    return key_for(f"wallet-{name}")


def tx(label: str, trades: list[Trade], **options) -> TradeTx:
    return TradeTx(signature=signature_for(f"trade-{label}"), block_time=trades[0].timestamp, trades=trades, **options)


async def token(mint: str) -> Token:
    return await Token.objects.aget(mint=mint)


async def test_every_figure_follows_the_trades_as_a_ledger_of_them_says(solana):
    solana.follow_program = True
    async with launch_tail(solana), trade_service(solana) as service:
        await wait_for(lambda: len(solana.subscribers) == 2)  # the launch tail and the trade stream
        now = int(time.time())
        coin, usdc = Launch(index=9_001, block_time=now), Launch(index=9_002, block_time=now, quote="USDC")
        start = 300_000_000 + len(solana.entries)  # the slot the create lands in
        ledger = Ledger()
        # The create transactions' own first buys (the developer's), replayed on the test's curves.
        curve = Curve(mint=coin.mint, creator=coin.creator)
        quoted = Curve(mint=usdc.mint, creator=usdc.creator, virtual_quote=usdc.virtual_quote, quote_mint=USDC_MINT)
        ledger.add(curve.buy(coin.creator, 10**9, at=now), quoted.buy(usdc.creator, 10**6, at=now))
        bundled = curve.buy(wallet("bundler"), 2 * 10**9, at=now)
        sniped = curve.buy(wallet("sniper"), 3 * 10**9, at=now)
        routed = [curve.buy(wallet("a"), 5 * 10**8, at=now), curve.buy(wallet("b"), 7 * 10**8, at=now)]
        routed.append(curve.sell(wallet("a"), routed[0].token_amount // 2, at=now))
        routed[1].layout = "2024"  # a 129-byte event beside 2026's in one transaction
        routed[2].layout = "sep2026"  # with trailing bytes past the newest layout
        cut = curve.buy(wallet("c"), 4 * 10**8, at=now)
        dev_sale = curve.sell(coin.creator, (10**15 - curve.real_tokens) // 50, at=now)
        layouts = [curve.buy(wallet(f"layout-{name}"), 10**8, at=now) for name in TRADE_LAYOUTS]
        for trade, name in zip(layouts, TRADE_LAYOUTS, strict=True):
            trade.layout = name  # one transaction, every layout the program ever wrote
        usdc_buy = quoted.buy(wallet("d"), 25 * 10**6, at=now)
        ghost = Curve(mint=key_for("ghost-mint"), creator=wallet("ghost")).buy(wallet("e"), 10**8, at=now)
        mayhem = Launch(index=9_003, block_time=now, supply=2 * SUPPLY)
        agent = Curve(mint=mayhem.mint, creator=mayhem.creator, mayhem=True, supply=2 * SUPPLY)
        ledger.add(agent.buy(mayhem.creator, 10**9, at=now))  # its create's own first buy
        agent_buy = agent.buy(MAYHEM_SOL_VAULT, 10**9, at=now)  # Mayhem's agent: no holder, no developer
        ledger.add(bundled, sniped, *routed, *layouts, cut, dev_sale, usdc_buy, ghost, agent_buy)
        # The chain's curve accounts say what the trades did (the details stage reads them too).
        solana.set_curve(coin.bonding_curve, curve.account())
        solana.set_curve(usdc.bonding_curve, quoted.account())

        solana.set_curve(mayhem.bonding_curve, agent.account())
        solana.add(coin, usdc)
        assert solana.slot_of(coin.signature) == start
        solana.add_trades(tx("bundle", [bundled]), slot=start)  # in the create's slot
        solana.add_trades(tx("snipe", [sniped]), slot=start + 2)
        solana.add_trades(tx("routed", routed, router=True), slot=start + 10)
        solana.add_trades(tx("cut", [cut], emit="inner"), slot=start + 11)  # logs truncated
        solana.add_trades(tx("dev-sale", [dev_sale]), slot=start + 12)
        solana.add_trades(tx("usdc", [usdc_buy]), slot=start + 13)
        solana.add_trades(tx("ghost", [ghost]), slot=start + 14)  # a coin the board does not hold
        solana.add_trades(tx("layouts", layouts, router=True), slot=start + 15)
        solana.add(mayhem)
        solana.add_trades(tx("mayhem", [agent_buy]), slot=start + 30)

        expected_rows = len(ledger.trades)
        await wait_for(lambda: StoredTrade.objects.count() == expected_rows)
        await wait_for(lambda: Token.objects.filter(mint=coin.mint, sells_5m=2, dev_sold_at__isnull=False).exists())
        await wait_for(lambda: Token.objects.filter(mint=usdc.mint, buys_5m=2).exists())
        await wait_for(lambda: Token.objects.filter(mint=mayhem.mint, buys_5m=2).exists())

    stored = await token(coin.mint)
    held = ledger.held(coin.mint)
    assert (stored.buys_5m, stored.sells_5m, stored.traders_5m) == (6 + 8, 2, 6 + 8)
    assert stored.volume_5m_usd == ledger.volume_usd(coin.mint) == stored.volume_1h_usd == stored.volume_24h_usd
    assert stored.net_flow_5m_usd == pytest.approx(ledger.net_usd(coin.mint), abs=0.02)
    assert stored.dev_holding_pct == pct(held[coin.creator])
    assert stored.dev_sold_pct == pct(dev_sale.token_amount) and stored.dev_sold_at.timestamp() == now
    assert stored.snipers_pct == pct(held[wallet("sniper")])
    assert stored.bundled_pct == pct(held[wallet("bundler")])
    assert stored.top10_pct == pct(sum(sorted((v for v in held.values() if v > 0), reverse=True)[:10]))
    first_price = (30 * 10**9 / 10**9) / (1_073_000_000_000_000 / 10**6)
    last = layouts[-1]  # the coin's newest trade on the chain
    assert stored.price_change_5m == pytest.approx(100 * (price(last) / first_price - 1), rel=1e-6)
    assert stored.usd_market_cap == pytest.approx(price(last) * 10**9 * SOL_USD, rel=1e-9)
    caps = [price(t) * 10**9 * SOL_USD for t in ledger.of(coin.mint)]
    assert stored.ath_usd_market_cap == pytest.approx(max(caps), rel=1e-9)
    assert stored.trades_since == stored.created_at and stored.create_slot == start
    assert stored.last_trade_at.timestamp() == now

    quoted_token = await token(usdc.mint)
    assert quoted_token.volume_5m_usd == ledger.volume_usd(usdc.mint, usdc=True)
    assert quoted_token.usd_market_cap == pytest.approx(price(usdc_buy, decimals=6) * 10**9, rel=1e-9)
    assert quoted_token.dev_holding_pct == pct(ledger.held(usdc.mint)[usdc.creator])

    # A Mayhem coin: two billion tokens, priced on them; its agent's vault is no holder.
    mayhem_token = await token(mayhem.mint)
    assert mayhem_token.usd_market_cap == pytest.approx(price(agent_buy) * 2 * 10**9 * SOL_USD, rel=1e-9)
    assert mayhem_token.top10_pct == round(100 * ledger.held(mayhem.mint)[mayhem.creator] / (2 * SUPPLY), 4)

    # Each trade once, though most came both as logs and inner instructions; the cut one was
    # fetched whole; the unknown coin's trade is kept for when its launch arrives.
    assert await StoredTrade.objects.filter(mint=ghost.mint).acount() == 1
    assert solana.asked.get(signature_for("trade-cut")) == 1
    assert not await Token.objects.filter(mint=ghost.mint).aexists()
    assert await Holding.objects.filter(mint=coin.mint, role=Holding.Role.SNIPER).acount() == 1
    assert service.invalid == 0


def a_launch(index: int, now: int) -> tuple[Launch, Curve]:
    """A launch and its curve, with the developer's first buy its create transaction holds."""
    coin = Launch(index=index, block_time=now)
    curve = Curve(mint=coin.mint, creator=coin.creator)
    curve.buy(coin.creator, 10**9, at=now)
    return coin, curve


async def launched(solana, coin: Launch) -> None:
    """Once the tail and the stream listen, the launch lands and the stream has seen its first buy."""
    await wait_for(lambda: len(solana.subscribers) == 2)
    solana.add(coin)
    await wait_for(lambda: Token.objects.filter(mint=coin.mint, buys_5m=1).exists())


async def test_a_dropped_websocket_is_filled_and_a_gap_too_long_is_recorded(solana):
    solana.follow_program = True
    now = int(time.time())
    coin, curve = a_launch(9_100, now)
    async with launch_tail(solana), trade_service(solana, max_gap=5):
        await launched(solana, coin)
        solana.drop_websockets()
        missed = [tx(f"missed-{i}", [curve.buy(wallet(f"m{i}"), 10**8, at=now)]) for i in range(3)]
        solana.add_trades(*missed)  # while disconnected: only the gap fill brings them
        await wait_for(lambda: Token.objects.filter(mint=coin.mint, buys_5m=4).exists())
        assert (await TradeStream.objects.aget(pk=1)).gaps == 0

    # Stopped; meanwhile more than the gap budget (5 transactions) happens.
    later = [tx(f"later-{i}", [curve.buy(wallet(f"l{i}"), 10**8, at=now + 1)]) for i in range(8)]
    solana.add_trades(*later, notify=False)
    async with trade_service(solana, max_gap=5):
        await wait_for(lambda: TradeStream.objects.filter(gaps=1).exists())
        await wait_for(lambda: StoredTrade.objects.filter(mint=coin.mint).count() == 1 + 3 + 5)
    state = await TradeStream.objects.aget(pk=1)
    assert "more than 5 transactions" in state.last_gap
    stored = await token(coin.mint)
    assert stored.trades_since == state.covered_since  # its figures now say what they cover
    assert stored.trades_since.timestamp() == now + 1


async def test_a_trade_before_its_launch_counts_once_the_launch_is_stored(solana):
    solana.follow_program = True
    now = int(time.time())
    early = Launch(index=9_300, block_time=now - 5)
    curve = Curve(mint=early.mint, creator=early.creator)
    curve.buy(early.creator, 10**9, at=now - 5)
    async with trade_service(solana):
        await wait_for(lambda: len(solana.subscribers) == 1)
        first = curve.buy(wallet("early-bird"), 2 * 10**9, at=now)
        solana.add_trades(tx("early", [first]))  # the stream sees the trade; no launch of it is stored
        await wait_for(lambda: StoredTrade.objects.filter(mint=early.mint).exists())
        solana.add(early, notify=False)
        solana.set_curve(early.bonding_curve, curve.account())  # the chain's account agrees with the trade
        await run_load(days=1, batch_size=10, upstream="chain")  # now it is
        await wait_for(lambda: Token.objects.filter(mint=early.mint, buys_5m=1, last_trade_at__isnull=False).exists())
    stored = await token(early.mint)
    assert stored.usd_market_cap == pytest.approx(price(first) * 10**9 * SOL_USD, rel=1e-9)
    assert stored.volume_5m_usd == round(2 * SOL_USD, 2)


async def test_a_burst_of_2000_trades_in_a_second_is_stored_once_and_pages_hear_it_once_a_second(solana):
    solana.follow_program = True
    now = int(time.time())
    coins = [Launch(index=9_400 + i, block_time=now - 60) for i in range(20)]
    solana.add(*coins, notify=False)
    await run_load(days=1, batch_size=20, upstream="chain")
    layer = get_channel_layer()
    page = await layer.new_channel()
    await layer.group_add(BOARD_GROUP, page)
    curves = [Curve(mint=coin.mint, creator=coin.creator) for coin in coins]
    for coin, curve in zip(coins, curves, strict=True):
        curve.buy(coin.creator, 10**9, at=coin.block_time)
    async with trade_service(solana, flush_seconds=1.0) as service:
        await wait_for(lambda: len(solana.subscribers) == 1)
        started = time.monotonic()
        burst = [tx(f"burst-{n}", [curves[n % 20].buy(wallet(f"burst-{n}"), 10**7, at=now)]) for n in range(2_000)]
        solana.add_trades(*burst)
        sent = time.monotonic() - started
        await wait_for(lambda: StoredTrade.objects.count() == 2_000, timeout=60)
        await wait_for(lambda: Token.objects.filter(buys_5m=100).count() == 20, timeout=30)
        elapsed = time.monotonic() - started
        updates = 0
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(page), timeout=0.05)
            except TimeoutError:
                break
            updates += orjson.loads(message["text"])["type"] == "update"
    assert sent < 5  # the fake sent the burst quickly: the stream, not the sender, sets the pace
    # One message per flush, and flushes at least a second apart: at most one a second per page.
    assert 1 <= updates <= service.flushes <= elapsed / 1.0 + 1
    assert service.trades_stored == 2_000 and service.invalid == 0
