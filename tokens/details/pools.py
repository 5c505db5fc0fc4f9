"""Graduated coins priced from their PumpSwap pools: which coins to read, and what a reading writes.

After graduation the curve says nothing of the price: a graduated coin's market cap, price and
liquidity come from its pool only (`reading_fields`), and until the pool is read they are unknown,
never the curve's last. The coins read each round are the newest graduations on the board (as on
pump.fun's "Graduated" column), `live_pool_count` of them: found ones by their vaults, 50 a call;
the rest looked for, 20 a call; coins never looked for (stored before their pools were read) come
first, so a stored history catches up a round at a time.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, F, IntegerField, Value, When

from tokens.models import Token
from tokens.sources.chain.addresses import USDC_MINT, WSOL_MINT
from tokens.sources.chain.pool_reader import MIGRATING, PRICED, PoolReader, PoolReading, PoolVaults
from tokens.sources.chain.pools import pool_figures

# What a pool prices; unknown (None) for a graduated coin whose pool is not read.
PRICE_FIELDS = ("price_usd", "market_cap_sol", "usd_market_cap", "liquidity_sol", "liquidity_usd")
UNPRICED = dict.fromkeys(PRICE_FIELDS)


@dataclass(frozen=True, slots=True)
class Graduated:
    mint: str
    quote: str
    vaults: PoolVaults | None  # None: to be looked for (not found yet, or its supply not read)
    supply: int | None
    priced: bool  # its stored price is its pool's


def reading_fields(reading: PoolReading, *, sol_usd: float | None, supply: int | None = None) -> dict[str, Any]:
    """Token fields from a pool reading. A pool that is not there yet or cannot be read says so, and
    the coin's price stays unknown."""
    fields: dict[str, Any] = {"pool_status": reading.status}
    vaults = reading.vaults
    if vaults is not None:
        fields.update(pool=vaults.pool, pool_base_vault=vaults.base_vault, pool_quote_vault=vaults.quote_vault)
        if vaults.virtual_quote is not None:  # read with the pool account (not by a vaults-only round)
            fields["pool_virtual_quote"] = vaults.virtual_quote
        if vaults.supply is not None:
            fields["token_supply"] = supply = vaults.supply
    if reading.status != PRICED or reading.base_amount is None or reading.quote_amount is None or vaults is None:
        return {**fields, **UNPRICED}
    prices = price_fields(
        base=reading.base_amount, vault_quote=reading.quote_amount, virtual_quote=vaults.virtual_quote,
        quote_mint=vaults.quote_mint, supply=supply, sol_usd=sol_usd,
    )  # fmt: skip
    return {**fields, **prices}


def price_fields(
    *, base: int, vault_quote: int, virtual_quote: int | None, quote_mint: str, supply: int | None,
    sol_usd: float | None,
) -> dict[str, Any]:  # fmt: skip
    """A pool's price, cap and liquidity as token fields, from its reserves (read, or after a trade)."""
    figures = pool_figures(
        base_amount=base, quote_amount=vault_quote, quote_mint=quote_mint, supply=supply, sol_usd=sol_usd,
        virtual_quote=virtual_quote,
    )  # fmt: skip
    return {name: _round(getattr(figures, name)) for name in PRICE_FIELDS}


async def read_pools(
    reader: PoolReader, graduated: list[Graduated], *, sol_usd: float | None
) -> dict[str, dict[str, Any]]:
    """Token fields of each graduated coin: found pools priced by their vaults, the rest looked for."""
    known = {g.mint: g for g in graduated}
    to_price = {g.mint: g.vaults for g in graduated if g.vaults is not None}
    to_find = {g.mint: g.quote or "SOL" for g in graduated if g.vaults is None}
    readings = {**(await reader.price(to_price) if to_price else {}), **(await reader.find(to_find) if to_find else {})}
    return {
        mint: reading_fields(reading, sol_usd=sol_usd, supply=known[mint].supply) for mint, reading in readings.items()
    }


def graduated(
    mints: list[str] | None = None, *, count: int | None = None, skip: set[str] = frozenset()
) -> list[Graduated]:
    """The coins `mints` (graduated, their curves say), or the `count` newest graduations on the board."""
    if mints is not None:  # their curves just said so: the rows may not say it yet
        rows = Token.objects.filter(mint__in=mints)
    else:  # those never looked for first (stored before their pools were read), then the newest graduations
        never_read = Case(When(pool_status="", then=Value(0)), default=Value(1), output_field=IntegerField())
        rows = Token.objects.filter(complete=True, passed_filters=True).order_by(
            never_read, F("graduated_at").desc(nulls_last=True), "-created_at"
        )
        if skip:
            rows = rows.exclude(mint__in=skip)
    columns = (
        "mint", "quote", "pool", "pool_base_vault", "pool_quote_vault", "pool_virtual_quote", "token_supply",
        "pool_status",
    )  # fmt: skip
    values = rows.values_list(*columns)
    return [_graduated(*row) for row in (values[:count] if count is not None else values)]


def _graduated(
    mint: str, quote: str, pool: str, base: str, quote_vault: str, virtual: int | None, supply: int | None,
    status: str,
) -> Graduated:  # fmt: skip
    vaults = None
    if pool and base and quote_vault and supply is not None:  # else looked for again: the mint is read then
        vaults = PoolVaults(
            pool=pool, base_vault=base, quote_vault=quote_vault, quote_mint=quote_mint_of(quote), supply=None,
            virtual_quote=virtual,
        )  # fmt: skip
    return Graduated(mint=mint, quote=quote or "SOL", vaults=vaults, supply=supply, priced=status == PRICED)


def quote_mint_of(quote: str) -> str:
    return USDC_MINT if quote == "USDC" else WSOL_MINT


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.10g}")


__all__ = ["MIGRATING", "PRICED", "PRICE_FIELDS", "UNPRICED", "Graduated", "graduated", "read_pools", "reading_fields"]
