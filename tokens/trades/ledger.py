"""Writes of the trade stream: one transaction per flush (a fraction of a second of trades), never
one per trade.

In that transaction, after the board lock (LOCK ORDER in tokens/store/batches.py): the trades not
stored yet (a trade is its signature and its place in the transaction, so a gap fill or a second
copy stores nothing twice), their 1-minute candles, the wallets' holdings, then every touched token's
figures, written with the next board cursor by `apply_details` so that pages hear it as an update.
A trade of a coin the board does not hold yet is stored all the same: the coin's figures follow when
its launch is stored (`pending_mints`).
"""

import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Sum

from tokens.details.pools import MIGRATING, PRICED, UNPRICED, price_fields, quote_mint_of
from tokens.details.queue import DetailUpdate, apply_details
from tokens.details.stage import state_fields
from tokens.models import Candle, Holding, Token, Trade
from tokens.store.batches import lock_board
from tokens.store.filters import STATE
from tokens.trades.figures import holding_figures
from tokens.trades.rows import STANDARD_SUPPLY, LaunchSeen, Migrated, StreamRows, TradeRow
from tokens.trades.windows import RollingWindows, Seen

SNIPER_SLOTS = 2  # wallets that buy within this many slots after the create's


@dataclass
class Flushed:
    update: DetailUpdate | None
    stored: int  # trades new to the store
    waiting: set[str] = field(default_factory=set)  # mints traded whose token is not stored yet


def record(
    rows: StreamRows, *, launches: dict[str, LaunchSeen], windows: RollingWindows, sol_usd: float | None,
    now: datetime, covered_since: datetime, retry: set[str] = frozenset(), refresh: Iterable[str] = (),
    day: Iterable[str] = (),
) -> Flushed:  # fmt: skip
    """Store a flush of the stream and the figures of every token it touched (and of `retry`: coins
    traded before their token was stored). The windows learn the new trades once they are stored.

    Windows also move without trades (5-minute figures of a coin quiet for 6 minutes are zero): the
    coins in `refresh` get theirs again, and those in `day` their 24-hour volume summed again from
    their candles, in the same commit, so that pages hear one message a flush."""
    with transaction.atomic():
        lock_board()
        new = _new_trades(rows.trades)
        windows.add(_seen(t, sol_usd) for t in new)
        touched = {t.mint for t in new} | {seen.mint for seen in rows.launches} | set(rows.completed) | set(retry)
        touched |= set(rows.migrated)
        mints = sorted(touched | set(refresh) | set(day))
        tokens = Token.objects.in_bulk(mints, field_name="mint")
        _store_trades(new, sol_usd=sol_usd)
        _store_candles(new, sol_usd=sol_usd)
        _store_holdings(new, created=rows.launches, launches=launches, tokens=tokens)
        traded = {mint: token for mint, token in tokens.items() if mint in touched}
        found = _token_fields(
            new, rows, tokens=traded, launches=launches, windows=windows, sol_usd=sol_usd, now=now,
            covered=covered_since,
        )  # fmt: skip
        for mint, token in tokens.items():
            if mint not in found:
                since = _covered_from(token.trades_since, token.created_at)
                found[mint] = windows.figures(mint, now=now, covered_from=since)
        for mint, volume in _day_volumes([m for m in day if m in tokens], now=now).items():
            found[mint]["volume_24h_usd"] = volume
        update = apply_details(found, judged=set(), now=now, kind=STATE, tokens=tokens) if found else None
    waiting = {mint for mint in touched if mint not in tokens}
    return Flushed(update=update, stored=len(new), waiting=waiting)


def record_migrations(
    found: dict[str, dict[str, Any]], migrated: dict[str, Migrated], *, now: datetime
) -> tuple[DetailUpdate | None, set[str]]:
    """Pools just read after their coins' migrations, written at once (not with the next flush); and
    which of the coins the board holds."""
    with transaction.atomic():
        lock_board()
        tokens = Token.objects.in_bulk(list(found), field_name="mint")
        fields = {
            mint: {**graduation_fields(token, completed=None, migrated=migrated[mint]), **found[mint]}
            for mint, token in tokens.items()
        }
        update = apply_details(fields, judged=set(), now=now, kind=STATE, tokens=tokens) if fields else None
    return update, set(tokens)


def stale_days(*, now: datetime, checked: dict[str, float], limit: int = 200) -> list[str]:
    """Coins traded within a day whose 24-hour volume was summed from candles longest ago (`checked`:
    when each was), none of them within the last minute."""
    traded = Token.objects.filter(last_trade_at__gte=now - timedelta(hours=25)).values_list("mint", flat=True)
    cutoff = now.timestamp() - 60
    due = [mint for mint in traded if checked.get(mint, 0) < cutoff]
    return sorted(due, key=lambda mint: checked.get(mint, 0))[:limit]


def load_windows(windows: RollingWindows, *, now: datetime) -> int:
    """The last hour of stored trades back into memory (after a restart); how many."""
    count = 0
    rows = Trade.objects.filter(traded_at__gte=now - timedelta(hours=1)).order_by("id")
    fields = ("mint", "traded_at", "usd_value", "is_buy", "trader", "price_before", "price")
    for mint, at, usd, is_buy, trader, before, price in rows.values_list(*fields).iterator(chunk_size=10_000):
        windows.add([Seen(mint, at.timestamp(), usd, is_buy, trader, before, price)])
        count += 1
    return count


def _day_volumes(mints: list[str], *, now: datetime) -> dict[str, float]:
    sums = dict(
        Candle.objects.filter(mint__in=mints, minute__gte=now - timedelta(hours=24))
        .values("mint")
        .annotate(volume=Sum("volume_usd"))
        .values_list("mint", "volume")
    )
    return {mint: round(sums.get(mint) or 0.0, 2) for mint in mints}


WHOLE_LIFE = datetime.min.replace(tzinfo=UTC)


def _covered_from(since: datetime | None, created: datetime) -> datetime | None:
    """Since when every trade of the coin was seen: its whole life when the stream saw its create."""
    if since is not None and since <= created:
        return WHOLE_LIFE
    return since


def _seen(trade: TradeRow, sol_usd: float | None) -> Seen:
    return Seen(
        mint=trade.mint, at=trade.traded_at.timestamp(), usd=trade.usd(trade.quote_units, sol_usd),
        is_buy=trade.is_buy, wallet=sys.intern(trade.trader), price_before=trade.price_before, price=trade.price,
    )  # fmt: skip


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
    """One executemany for the flush (the ORM's bulk_create built a model per row, which cost more
    than the insert)."""
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        [t.signature, t.position, t.mint, t.trader, t.is_buy, t.token_amount, t.quote_amount, t.price,
         t.price_before, t.usd(t.quote_units, sol_usd), _usd_cap(t, sol_usd), t.slot, adapt(t.traded_at)]
        for t in trades
    ]  # fmt: skip
    _insert(Trade, _TRADE_COLUMNS, rows)


_TRADE_COLUMNS = (
    "signature", "position", "mint", "trader", "is_buy", "token_amount", "quote_amount", "price", "price_before",
    "usd_value", "usd_market_cap", "slot", "traded_at",
)  # fmt: skip
_CANDLE_COLUMNS = ("mint", "minute", "open", "high", "low", "close", "volume_usd", "volume_quote", "buys", "sells")
# A minute already stored takes the flush's trades in (SQLite and PostgreSQL both read this).
_CANDLE_MERGE = (
    "high = CASE WHEN excluded.high > {t}.high THEN excluded.high ELSE {t}.high END, "
    "low = CASE WHEN excluded.low < {t}.low THEN excluded.low ELSE {t}.low END, "
    "close = excluded.close, "
    "volume_usd = CASE WHEN {t}.volume_usd IS NULL AND excluded.volume_usd IS NULL THEN NULL "
    "ELSE COALESCE({t}.volume_usd, 0) + COALESCE(excluded.volume_usd, 0) END, "
    "volume_quote = {t}.volume_quote + excluded.volume_quote, "
    "buys = {t}.buys + excluded.buys, sells = {t}.sells + excluded.sells"
)


def _store_candles(trades: list[TradeRow], *, sol_usd: float | None) -> None:
    """The flush's trades as 1-minute candles, merged into the stored minutes by one upsert."""
    by_key: dict[tuple[str, datetime], list[TradeRow]] = defaultdict(list)
    for trade in trades:
        by_key[(trade.mint, trade.traded_at.replace(second=0, microsecond=0))].append(trade)
    adapt = connection.ops.adapt_datetimefield_value
    rows = []
    for (mint, minute), group in by_key.items():
        group.sort(key=lambda t: (t.traded_at, t.slot or 0, t.position))
        prices = [t.price for t in group]
        usd = [value for t in group if (value := t.usd(t.quote_units, sol_usd)) is not None]
        rows.append([
            mint, adapt(minute), group[0].price_before, max([*prices, group[0].price_before]),
            min([*prices, group[0].price_before]), prices[-1], sum(usd) if usd else None,
            sum(t.quote_units for t in group), sum(t.is_buy for t in group), sum(not t.is_buy for t in group),
        ])  # fmt: skip
    table = connection.ops.quote_name(Candle._meta.db_table)
    _insert(Candle, _CANDLE_COLUMNS, rows, conflict=("mint", "minute"), merge=_CANDLE_MERGE.format(t=table))


def _insert(model, columns, rows, *, conflict: tuple[str, ...] = (), merge: str = "") -> None:
    """Rows in one go: PostgreSQL's COPY into the table (or, for an upsert with `conflict`, into a
    temporary table merged with one INSERT ... SELECT), SQLite's executemany. psycopg's executemany
    sends a statement a row, which cost more than the rows. Keys are unique within a call."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table, names = quote(model._meta.db_table), ", ".join(quote(c) for c in columns)
    upsert = f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO UPDATE SET {merge}" if conflict else ""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}){upsert}", rows)
            return
        target = table
        if conflict:
            target = quote(f"incoming_{model._meta.db_table}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} ON COMMIT DELETE ROWS AS "
                f"SELECT {names} FROM {table} WITH NO DATA"
            )
        with cursor.cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if conflict:
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {target}{upsert}")


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
    rows = []
    for (mint, wallet), delta in deltas.items():
        role = _role(wallet, first.get((mint, wallet)), launches.get(mint), tokens.get(mint))
        rows.append([mint, wallet, delta, int(role)])
    # One upsert for the flush: a new wallet gets its role (from its first trade the stream saw), a
    # known one keeps the role it has and adds the flush's net tokens.
    table = connection.ops.quote_name(Holding._meta.db_table)
    merge = f"tokens = {table}.tokens + excluded.tokens"
    _insert(Holding, ("mint", "wallet", "tokens", "role"), rows, conflict=("mint", "wallet"), merge=merge)


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
    windows: RollingWindows, sol_usd: float | None, now: datetime, covered: datetime,
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
        if since is None:
            # A coin whose create the stream saw has its whole life covered; any other, from the
            # stream's coverage on. A gap moves it on later (record_gap), never back.
            since = token.created_at if seen is not None else max(covered, token.created_at)
            fields["trades_since"] = since
        graduated = token.complete or mint in rows.completed or mint in rows.migrated
        # Graduation first: a pool trade in the same flush then prices the coin after it.
        fields.update(graduation_fields(token, completed=rows.completed.get(mint), migrated=rows.migrated.get(mint)))
        if mint in by_mint:
            fields.update(_latest(by_mint[mint], token, sol_usd=sol_usd, graduated=graduated))
        elif token.last_trade_at is None:
            fields.update(_stored_latest(mint, sol_usd=sol_usd, graduated=graduated))  # before its launch
        fields.update(_developer_sales(by_mint.get(mint, []), token, seen))
        since = fields.get("trades_since", token.trades_since)
        fields.update(windows.figures(mint, now=now, covered_from=_covered_from(since, token.created_at)))
        fields["figures_at"] = now
        added = sum(usd for t in by_mint.get(mint, []) if (usd := t.usd(t.quote_units, sol_usd)) is not None)
        if added:  # summed again from the candles now and then (refresh_windows)
            fields["volume_24h_usd"] = round((token.volume_24h_usd or 0.0) + added, 2)
    whole_life = [m for m in tokens if _covered_from(found[m].get("trades_since", tokens[m].trades_since),
                                                     tokens[m].created_at) == WHOLE_LIFE]  # fmt: skip
    supply = {m: _supply(by_mint.get(m, []), launches.get(m)) for m in whole_life}
    for mint, values in holding_figures(whole_life, supply=supply).items():
        found[mint].update(values)
    return dict(found)


def _latest(trades: list[TradeRow], token: Token, *, sol_usd: float | None, graduated: bool) -> dict[str, Any]:
    """The market cap after the coin's newest trade, unless a newer one is stored already or the coin
    has graduated (its curve trades no more: a late copy of its last trades is no price now)."""
    if not trades:
        return {}
    last = max(trades, key=lambda t: (t.traded_at, t.slot or 0, t.position))
    if token.last_trade_at is not None and last.traded_at < token.last_trade_at:
        return {}
    caps = [c for c in (_usd_cap(t, sol_usd) for t in trades) if c is not None]
    if last.venue == "pool":  # a trade in the coin's pool prices it as a read of the pool would
        fields = {**_pool_prices(last, sol_usd=sol_usd), "pool_status": PRICED}
    elif graduated:
        fields = {}
    else:
        fields = state_fields(last.curve, initial_real=token.initial_real_token_reserves, sol_usd=sol_usd)
    return {
        **fields, "last_trade_at": last.traded_at,
        "ath_usd_market_cap": max([*caps, token.ath_usd_market_cap or 0.0]) if caps else token.ath_usd_market_cap,
    }  # fmt: skip


def _pool_prices(trade: TradeRow, *, sol_usd: float | None) -> dict[str, Any]:
    pool = trade.curve
    return price_fields(
        base=pool.real_token_reserves, vault_quote=pool.real_quote_reserves,
        virtual_quote=pool.virtual_quote_reserves - pool.real_quote_reserves, quote_mint=quote_mint_of(trade.quote),
        supply=pool.token_total_supply, sol_usd=sol_usd,
    )  # fmt: skip


def _stored_latest(mint: str, *, sol_usd: float | None, graduated: bool) -> dict[str, Any]:
    """A coin's market cap from its newest stored trade (the trades came before the coin did)."""
    last = Trade.objects.filter(mint=mint).order_by("-traded_at", "-id").first()
    if last is None:
        return {}
    highest = Trade.objects.filter(mint=mint).aggregate(cap=Max("usd_market_cap"))["cap"]
    fields: dict[str, Any] = {"last_trade_at": last.traded_at, "ath_usd_market_cap": highest}
    if last.usd_market_cap is not None and not graduated:
        fields["usd_market_cap"] = last.usd_market_cap
    return fields


def graduation_fields(token: Token, *, completed: datetime | None, migrated: Migrated | None) -> dict[str, Any]:
    """A CompleteEvent graduates the coin (its price unknown until its pool is read: "migrating");
    a migration names its pool, priced at once by the stream (TradeService) and by every live round."""
    fields: dict[str, Any] = {}
    if completed is not None or migrated is not None:
        fields.update(complete=True, bonding_progress=100.0)
        if token.graduated_at is None:
            fields["graduated_at"] = completed or migrated.at
        if token.pool_status != PRICED:
            fields.update(pool_status=MIGRATING, **UNPRICED)
    if migrated is not None:
        fields.update(pool=migrated.pool, migrated_at=token.migrated_at or migrated.at)
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
