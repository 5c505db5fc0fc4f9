"""Writes of the trade stream: one transaction per flush (a fraction of a second of trades), never
one per trade.

In that transaction, after the board lock (LOCK ORDER in tokens/store/batches.py): the trades not
stored yet (a trade is its signature and its place in the transaction, so a gap fill or a second
copy stores nothing twice), their 1-minute candles, the wallets' holdings, then every touched token's
figures, written with the next board cursor by `apply_details` so that pages hear it as an update.
A trade of a coin the board does not hold yet is stored all the same: the coin's figures follow when
its launch is stored (`pending_mints`).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Max

from tokens.details.queue import DetailUpdate, apply_details
from tokens.details.stage import state_fields
from tokens.models import Candle, Holding, Token, Trade
from tokens.store.batches import lock_board
from tokens.store.filters import STATE
from tokens.trades.figures import holding_figures, window_figures
from tokens.trades.rows import STANDARD_SUPPLY, LaunchSeen, StreamRows, TradeRow

SNIPER_SLOTS = 2  # wallets that buy within this many slots after the create's


@dataclass
class Flushed:
    update: DetailUpdate | None
    stored: int  # trades new to the store
    waiting: set[str] = field(default_factory=set)  # mints traded whose token is not stored yet


def record(
    rows: StreamRows, *, launches: dict[str, LaunchSeen], sol_usd: float | None, now: datetime,
    covered_since: datetime, retry: set[str] = frozenset(),
) -> Flushed:  # fmt: skip
    """Store a flush of the stream and the figures of every token it touched (and of `retry`: coins
    traded before their token was stored)."""
    with transaction.atomic():
        lock_board()
        new = _new_trades(rows.trades)
        mints = sorted({t.mint for t in new} | {seen.mint for seen in rows.launches} | set(rows.completed) | set(retry))
        tokens = Token.objects.in_bulk(mints, field_name="mint")
        _store_trades(new, sol_usd=sol_usd)
        _store_candles(new, sol_usd=sol_usd)
        _store_holdings(new, created=rows.launches, launches=launches, tokens=tokens)
        found = _token_fields(
            new, rows, tokens=tokens, launches=launches, sol_usd=sol_usd, now=now, covered=covered_since
        )
        update = apply_details(found, judged=set(), now=now, kind=STATE) if found else None
    waiting = {mint for mint in mints if mint not in tokens}
    return Flushed(update=update, stored=len(new), waiting=waiting)


def refresh_windows(mints: list[str], *, now: datetime) -> DetailUpdate | None:
    """Windows move without trades: 5-minute figures of a coin quiet for 6 minutes are zero."""
    with transaction.atomic():
        lock_board()
        rows = Token.objects.filter(mint__in=mints).values_list("mint", "trades_since", "created_at")
        covered = {mint: since for mint, since, _ in rows}
        created = {mint: at for mint, _, at in rows}
        found = window_figures(list(covered), now=now, covered=covered, created=created)
        return apply_details(found, judged=set(), now=now, kind=STATE) if found else None


def stale_windows(*, now: datetime, limit: int = 500) -> list[str]:
    """Coins whose windows may have moved since their figures were computed, longest waiting first."""
    quiet = Token.objects.filter(
        last_trade_at__gte=now - timedelta(hours=25), figures_at__lt=now - timedelta(seconds=30)
    )
    return list(quiet.order_by("figures_at").values_list("mint", flat=True)[:limit])


def _new_trades(trades: list[TradeRow]) -> list[TradeRow]:
    signatures = {t.signature for t in trades}
    stored = set(Trade.objects.filter(signature__in=signatures).values_list("signature", "position"))
    new, seen = [], set()
    for trade in trades:
        key = (trade.signature, trade.position)
        if key not in stored and key not in seen:
            seen.add(key)
            new.append(trade)
    return new


def _store_trades(trades: list[TradeRow], *, sol_usd: float | None) -> None:
    Trade.objects.bulk_create([_trade(t, sol_usd) for t in trades], batch_size=500)


def _trade(t: TradeRow, sol_usd: float | None) -> Trade:
    return Trade(
        signature=t.signature, position=t.position, mint=t.mint, trader=t.trader, is_buy=t.is_buy,
        token_amount=t.token_amount, quote_amount=t.quote_amount, price=t.price, price_before=t.price_before,
        usd_value=t.usd(t.quote_units, sol_usd), usd_market_cap=_usd_cap(t, sol_usd), slot=t.slot,
        traded_at=t.traded_at,
    )  # fmt: skip


def _store_candles(trades: list[TradeRow], *, sol_usd: float | None) -> None:
    by_key: dict[tuple[str, datetime], list[TradeRow]] = defaultdict(list)
    for trade in trades:
        by_key[(trade.mint, trade.traded_at.replace(second=0, microsecond=0))].append(trade)
    if not by_key:
        return
    minutes = {minute for _, minute in by_key}
    existing = {
        (c.mint, c.minute): c
        for c in Candle.objects.filter(mint__in={m for m, _ in by_key}, minute__in=minutes)
    }  # fmt: skip
    created, changed = [], []
    for key, group in by_key.items():
        group.sort(key=lambda t: (t.traded_at, t.slot or 0))
        candle = existing.get(key)
        if candle is None:
            first = group[0].price_before
            candle = Candle(mint=key[0], minute=key[1], open=first, high=first, low=first, close=first)
            created.append(candle)
        else:
            changed.append(candle)
        for trade in group:
            candle.high, candle.low = max(candle.high, trade.price), min(candle.low, trade.price)
            candle.close = trade.price
            candle.volume_quote += trade.quote_units
            usd = trade.usd(trade.quote_units, sol_usd)
            if usd is not None:
                candle.volume_usd = (candle.volume_usd or 0.0) + usd
            candle.buys += trade.is_buy
            candle.sells += not trade.is_buy
    Candle.objects.bulk_create(created, batch_size=500)
    fields = ["high", "low", "close", "volume_quote", "volume_usd", "buys", "sells"]
    Candle.objects.bulk_update(changed, fields, batch_size=500)


def _store_holdings(
    trades: list[TradeRow], *, created: list[LaunchSeen], launches: dict[str, LaunchSeen], tokens: dict[str, Token]
) -> None:
    deltas: dict[tuple[str, str], int] = defaultdict(int)
    first: dict[tuple[str, str], TradeRow] = {}
    for trade in trades:
        key = (trade.mint, trade.trader)
        deltas[key] += trade.token_amount if trade.is_buy else -trade.token_amount
        first.setdefault(key, trade)
    for seen in created:  # a developer who has not bought is a developer all the same
        for wallet in seen.developers:
            deltas.setdefault((seen.mint, wallet), 0)
    if not deltas:
        return
    mints, wallets = {m for m, _ in deltas}, {w for _, w in deltas}
    existing = {(h.mint, h.wallet): h for h in Holding.objects.filter(mint__in=mints, wallet__in=wallets)}
    created = []
    for key, delta in deltas.items():
        holding = existing.get(key)
        if holding is not None:
            if delta:
                Holding.objects.filter(pk=holding.pk).update(tokens=F("tokens") + delta)
            continue
        role = _role(key[1], first.get(key), launches.get(key[0]), tokens.get(key[0]))
        created.append(Holding(mint=key[0], wallet=key[1], tokens=delta, role=role))
    Holding.objects.bulk_create(created, batch_size=500)


def _role(wallet: str, trade: TradeRow | None, seen: LaunchSeen | None, token: Token | None) -> int:
    developers = seen.developers if seen is not None else frozenset([token.creator] if token else [])
    if wallet in developers:
        return Holding.Role.DEVELOPER
    if trade is None or seen is None or seen.slot is None or trade.slot is None or not trade.is_buy:
        return Holding.Role.TRADER
    if trade.slot == seen.slot:
        return Holding.Role.BUNDLED
    if seen.slot < trade.slot <= seen.slot + SNIPER_SLOTS:
        return Holding.Role.SNIPER
    return Holding.Role.TRADER


def _token_fields(
    new: list[TradeRow], rows: StreamRows, *, tokens: dict[str, Token], launches: dict[str, LaunchSeen],
    sol_usd: float | None, now: datetime, covered: datetime,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    found: dict[str, dict[str, Any]] = defaultdict(dict)
    by_mint: dict[str, list[TradeRow]] = defaultdict(list)
    for trade in new:
        by_mint[trade.mint].append(trade)
    for mint, token in tokens.items():
        seen = launches.get(mint)
        fields = found[mint]
        if seen is not None and token.create_slot is None:
            fields["create_slot"] = seen.slot
        since = token.trades_since
        if since is None or (seen is not None and since > token.created_at):
            # A coin whose create the stream saw has its whole life covered; any other, from the
            # stream's coverage on.
            since = token.created_at if seen is not None else max(covered, token.created_at)
            fields["trades_since"] = since
        if mint in by_mint:
            fields.update(_latest(by_mint[mint], token, sol_usd=sol_usd))
        elif token.last_trade_at is None:
            fields.update(_stored_latest(mint, sol_usd=sol_usd))  # traded before its launch was stored
        fields.update(_developer_sales(by_mint.get(mint, []), token, seen))
        if mint in rows.completed:
            fields.update({"complete": True, "bonding_progress": 100.0})
    covered_by = {mint: found[mint].get("trades_since", tokens[mint].trades_since) for mint in tokens}
    created = {mint: token.created_at for mint, token in tokens.items()}
    for mint, values in window_figures(list(tokens), now=now, covered=covered_by, created=created).items():
        found[mint].update(values)
    whole_life = [m for m in tokens if launches.get(m) is not None or tokens[m].create_slot is not None]
    supply = {m: _supply(by_mint.get(m, []), launches.get(m)) for m in whole_life}
    for mint, values in holding_figures(whole_life, supply=supply).items():
        found[mint].update(values)
    return dict(found)


def _latest(trades: list[TradeRow], token: Token, *, sol_usd: float | None) -> dict[str, Any]:
    """The market cap after the coin's newest trade, unless a newer one is stored already."""
    if not trades:
        return {}
    last = max(trades, key=lambda t: (t.traded_at, t.slot or 0, t.position))
    if token.last_trade_at is not None and last.traded_at < token.last_trade_at:
        return {}
    fields = state_fields(last.curve, initial_real=token.initial_real_token_reserves, sol_usd=sol_usd)
    caps = [c for c in (_usd_cap(t, sol_usd) for t in trades) if c is not None]
    if token.complete:
        fields.pop("complete")  # a trade's curve is never "complete"; a graduated coin stays graduated
    return {
        **fields, "last_trade_at": last.traded_at,
        "ath_usd_market_cap": max([*caps, token.ath_usd_market_cap or 0.0]) if caps else token.ath_usd_market_cap,
    }  # fmt: skip


def _stored_latest(mint: str, *, sol_usd: float | None) -> dict[str, Any]:
    """A coin's market cap from its newest stored trade (the trades came before the coin did)."""
    last = Trade.objects.filter(mint=mint).order_by("-traded_at", "-id").first()
    if last is None:
        return {}
    highest = Trade.objects.filter(mint=mint).aggregate(cap=Max("usd_market_cap"))["cap"]
    fields: dict[str, Any] = {"last_trade_at": last.traded_at, "ath_usd_market_cap": highest}
    if last.usd_market_cap is not None:
        fields["usd_market_cap"] = last.usd_market_cap
    return fields


def _developer_sales(trades: list[TradeRow], token: Token, seen: LaunchSeen | None) -> dict[str, Any]:
    developers = seen.developers if seen is not None else frozenset([token.creator])
    sales = [t for t in trades if not t.is_buy and t.trader in developers]
    if not sales:
        return {}
    supply = sales[0].curve.token_total_supply
    sold = sum(t.token_amount for t in sales)
    first = min(t.traded_at for t in sales)
    return {
        "dev_sold_at": min(first, token.dev_sold_at or first),
        "dev_sold_pct": round((token.dev_sold_pct or 0.0) + 100 * sold / supply, 4),
    }


def _supply(trades: list[TradeRow], seen: LaunchSeen | None) -> int:
    if seen is not None and seen.supply:
        return seen.supply
    return trades[0].curve.token_total_supply if trades else STANDARD_SUPPLY


def _usd_cap(trade: TradeRow, sol_usd: float | None) -> float | None:
    cap = trade.price * trade.curve.token_total_supply / 10**6
    return trade.usd(cap, sol_usd)
