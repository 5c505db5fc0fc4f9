"""Shares of supply from the holdings ledger: developer, snipers, bundled, top 10.

They need the coin's whole trading life: only coins whose create the stream saw have them. (Volumes,
counts and price changes come from tokens/trades/windows.py.)
"""

from typing import Any

from django.db.models import Case, F, Q, Sum, Value, When, Window
from django.db.models.functions import RowNumber

from tokens.models import Holding
from tokens.sources.chain.addresses import MAYHEM_SOL_VAULT

TOP = 10


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


def _share(tokens: int | None, supply: int) -> float:
    return round(100 * (tokens or 0) / supply, 4)
