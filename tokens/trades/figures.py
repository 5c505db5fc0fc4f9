"""The figures a trader scans, computed from the stored trades, candles and holdings of some coins.

Windows (5 min, 1 h) come from the trades themselves, 24 h from the 1-minute candles. A price change
needs the price at the window's start: the price just before the first trade in the window, when the
stream covered the whole window; a window without trades that the stream covered changed nothing.
Ledger shares (developer, snipers, bundled, top 10) need the coin's whole trading life: only coins
whose create the stream saw have them.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, Count, F, Max, Min, Q, Sum, Value, When, Window
from django.db.models.functions import RowNumber

from tokens.models import Candle, Holding, Trade
from tokens.sources.chain.addresses import MAYHEM_SOL_VAULT

WINDOWS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1)}
DAY = timedelta(hours=24)
TOP = 10


def window_figures(
    mints: list[str], *, now: datetime, covered: dict[str, datetime | None], created: dict[str, datetime]
) -> dict[str, dict]:
    """Volumes, counts and price changes of each coin now; `covered` is each coin's `trades_since`
    (the coin's creation when the stream saw its whole life)."""
    five, hour = now - WINDOWS["5m"], now - WINDOWS["1h"]
    in_five = Q(traded_at__gte=five)
    rows = (
        Trade.objects.filter(mint__in=mints, traded_at__gte=hour)
        .values("mint")
        .annotate(
            volume_1h=Sum("usd_value"),
            volume_5m=Sum("usd_value", filter=in_five),
            buys=Count("id", filter=in_five & Q(is_buy=True)),
            sells=Count("id", filter=in_five & Q(is_buy=False)),
            traders=Count("trader", filter=in_five, distinct=True),
            net=Sum(Case(When(is_buy=True, then=F("usd_value")), default=-F("usd_value")), filter=in_five),
            first_1h=Min("id"),
            first_5m=Min("id", filter=in_five),
            last=Max("id"),
        )
    )
    found = {row["mint"]: row for row in rows}
    ids = {i for row in found.values() for i in (row["first_1h"], row["first_5m"], row["last"]) if i is not None}
    prices = {row["id"]: row for row in Trade.objects.filter(id__in=ids).values("id", "price", "price_before")}
    day = dict(
        Candle.objects.filter(mint__in=mints, minute__gte=now - DAY)
        .values("mint")
        .annotate(volume=Sum("volume_usd"))
        .values_list("mint", "volume")
    )
    figures = {}
    for mint in mints:
        row = found.get(mint) or {}
        since = covered.get(mint)
        if since is not None and mint in created and since <= created[mint]:
            since = datetime.min.replace(tzinfo=now.tzinfo)  # its whole life: every window is covered
        now_price = prices[row["last"]]["price"] if row.get("last") else None
        figures[mint] = {
            "volume_5m_usd": _money(row.get("volume_5m")),
            "volume_1h_usd": _money(row.get("volume_1h")),
            "volume_24h_usd": _money(day.get(mint)),
            "net_flow_5m_usd": _money(row.get("net")),
            "buys_5m": row.get("buys", 0),
            "sells_5m": row.get("sells", 0),
            "traders_5m": row.get("traders", 0),
            "price_change_5m": _change(prices.get(row.get("first_5m")), now_price, since=since, start=five),
            "price_change_1h": _change(prices.get(row.get("first_1h")), now_price, since=since, start=hour),
            "figures_at": now,
        }
    return figures


def holding_figures(mints: list[str], *, supply: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Developer, snipers, bundled and top-10 shares (percent of supply) from the holdings ledger."""
    held = Case(When(tokens__gt=0, then=F("tokens")), default=Value(0))
    roles = {
        row["mint"]: row
        for row in Holding.objects.filter(mint__in=mints)
        .values("mint")
        .annotate(
            dev=Sum(held, filter=Q(role=Holding.Role.DEVELOPER)),
            snipers=Sum(held, filter=Q(role=Holding.Role.SNIPER)),
            bundled=Sum(held, filter=Q(role=Holding.Role.BUNDLED)),
        )
    }
    ranked = (
        Holding.objects.filter(mint__in=mints, tokens__gt=0)
        .exclude(wallet=MAYHEM_SOL_VAULT)  # Mayhem's agent is no holder
        .annotate(rank=Window(RowNumber(), partition_by=[F("mint")], order_by=F("tokens").desc()))
        .filter(rank__lte=TOP)
        .values_list("mint", "tokens")
    )
    top: dict[str, int] = {}
    for mint, tokens in ranked:
        top[mint] = top.get(mint, 0) + tokens
    figures = {}
    for mint in mints:
        whole = supply[mint]
        row = roles.get(mint, {})
        figures[mint] = {
            "dev_holding_pct": _share(row.get("dev"), whole),
            "snipers_pct": _share(row.get("snipers"), whole),
            "bundled_pct": _share(row.get("bundled"), whole),
            "top10_pct": _share(top.get(mint), whole),
        }
    return figures


def _change(first: dict | None, now_price: float | None, *, since: datetime | None, start: datetime) -> float | None:
    covered = since is not None and since <= start
    if not covered:
        return None  # trades before the stream's coverage may have moved the price
    if first is None or now_price is None:
        return 0.0  # no trade in the window: the price did not move
    if not first["price_before"]:
        return None
    return round(100 * (now_price / first["price_before"] - 1), 4)


def _money(value: float | None) -> float:
    return round(value or 0.0, 2)


def _share(tokens: int | None, supply: int) -> float:
    return round(100 * (tokens or 0) / supply, 4)
