"""From a decoded transaction to `Launch` records (tokens/sources/base.py), and a curve's state to
the figures a launch shows.

A payload that did not parse becomes a record whose `invalid` says why; validation counts it.
"""

from dataclasses import dataclass
from typing import Any

from tokens.sources.base import RECENT, Launch
from tokens.sources.chain.addresses import USDC_MINT
from tokens.sources.chain.curve import (
    SOL_DECIMALS,
    TOKEN_DECIMALS,
    USDC_DECIMALS,
    CurveState,
    bonding_progress,
    market_cap_in_quote,
)
from tokens.sources.chain.events import CreateEvent, DecodedTransaction
from tokens.sources.chain.pool_reader import PRICED, PoolReading
from tokens.sources.chain.pools import pool_figures

CHAIN = "chain"
# Every curve before May 2025 (events without reserves) started with these real tokens; newer
# events carry their own, which is what is used for them.
LEGACY_INITIAL_REAL_TOKEN_RESERVES = 793_100_000_000_000
STANDARD_SUPPLY = 10**15  # every pump coin's (6 decimals) but Mayhem's, whose events carry theirs


def launch_records(decoded: DecodedTransaction, *, source: str = RECENT) -> list[Launch]:
    """Every launch of a transaction, then a record per payload that did not parse."""
    records = [_launch(event, decoded) for event in decoded.events]
    records += [Launch(upstream=CHAIN, invalid=reason) for reason in decoded.invalid]
    for record in records:
        record.list_name = source
    return records


def record_key(record: Launch, index: int) -> str:
    """What identifies a record within its transaction, for resuming in the middle of one."""
    return record.mint if isinstance(record.mint, str) else f"#{index}"


def _launch(event: CreateEvent, decoded: DecodedTransaction) -> Launch:
    created_s = event.timestamp if event.timestamp is not None else decoded.block_time
    initial_real = event.real_token_reserves
    if initial_real is None and event.virtual_token_reserves is None:
        initial_real = LEGACY_INITIAL_REAL_TOKEN_RESERVES
    # Market cap, progress and graduation are the curve's now, not at launch: unknown until its
    # current state is read.
    return Launch(
        mint=event.mint,
        upstream=CHAIN,
        name=event.name,
        symbol=event.symbol,
        metadata_uri=event.uri,
        creator=event.creator or event.user,
        bonding_curve=event.bonding_curve,
        signature=decoded.signature,
        created_ms=None if created_s is None else created_s * 1000,
        total_supply=event.token_total_supply,
        initial_real_token_reserves=initial_real,
        quote="USDC" if event.quote_mint == USDC_MINT else "SOL",
        progress=None,
        progress_known=True,
        **_first_buys(event, decoded),
    )


def _first_buys(event: CreateEvent, decoded: DecodedTransaction) -> dict[str, float]:
    """The developer's (the deploying `user` and the `creator`) and the other wallets' buys in the
    create transaction itself, in percent of supply: what a bundled launch took at once."""
    supply = event.token_total_supply or STANDARD_SUPPLY
    developers = {event.user, event.creator}
    dev = bundled = 0
    for trade in decoded.trades:
        if trade.mint != event.mint:
            continue
        amount = trade.token_amount if trade.is_buy else -trade.token_amount
        if trade.user in developers:
            dev += amount
        else:
            bundled += amount
    return {
        "dev_percent_at_launch": round(100 * max(dev, 0) / supply, 4),
        "bundled_percent_at_launch": round(100 * max(bundled, 0) / supply, 4),
    }


@dataclass(frozen=True, slots=True)
class CurveFigures:
    """What a curve's state says of its coin now."""

    market_cap_sol: float | None
    usd_market_cap: float | None
    virtual_sol_lamports: int | None  # SOL curves only
    virtual_token_reserves: int
    liquidity_sol: float | None  # the real quote reserves: what a seller can take out
    liquidity_usd: float | None
    progress: float | None
    complete: bool
    quote: str


def curve_figures(state: CurveState, *, initial_real: int | None, sol_usd: float | None) -> CurveFigures:
    """Market cap (SOL and USD), liquidity, progress and graduation from a curve's state.

    USD needs a fresh SOL/USD price for SOL curves; without one it stays unknown. USDC curves are
    USD already, and their SOL value needs the price.
    """
    cap = market_cap_in_quote(
        virtual_quote_reserves=state.virtual_quote_reserves,
        virtual_token_reserves=state.virtual_token_reserves,
        token_total_supply=state.token_total_supply,
        quote_mint=state.quote_mint,
    )
    progress = bonding_progress(
        real_token_reserves=state.real_token_reserves,
        initial_real_token_reserves=initial_real or LEGACY_INITIAL_REAL_TOKEN_RESERVES,
        complete=state.complete,
    )
    if state.quote == "USDC":
        sol_cap = None if cap is None or not sol_usd else cap / sol_usd
        usd_cap, lamports = cap, None
        liquidity_usd = state.real_quote_reserves / 10**USDC_DECIMALS
        liquidity_sol = liquidity_usd / sol_usd if sol_usd else None
    else:
        sol_cap, lamports = cap, state.virtual_quote_reserves
        usd_cap = None if cap is None or sol_usd is None else cap * sol_usd
        liquidity_sol = state.real_quote_reserves / 10**SOL_DECIMALS
        liquidity_usd = None if sol_usd is None else liquidity_sol * sol_usd
    return CurveFigures(
        market_cap_sol=sol_cap, usd_market_cap=usd_cap, virtual_sol_lamports=lamports,
        virtual_token_reserves=state.virtual_token_reserves, liquidity_sol=liquidity_sol,
        liquidity_usd=liquidity_usd, progress=progress, complete=state.complete, quote=state.quote,
    )  # fmt: skip


def trading_curve_fields(state: CurveState, figures: CurveFigures) -> dict[str, Any]:
    """Token fields of a curve still trading (not complete): what the details stage writes after a
    curve read, and what a backfill page read with its curves carries."""
    return {
        "market_cap_sol": figures.market_cap_sol,
        "usd_market_cap": figures.usd_market_cap,
        "price_usd": _per_token(figures.usd_market_cap, state.token_total_supply),
        "liquidity_sol": figures.liquidity_sol,
        "liquidity_usd": figures.liquidity_usd,
        "bonding_progress": figures.progress,
        "complete": False,
        "quote": figures.quote,
    }


def _per_token(cap: float | None, supply: int) -> float | None:
    return None if cap is None or supply <= 0 else float(f"{cap / (supply / 10**TOKEN_DECIMALS):.10g}")


def apply_curve_state(record: Launch, state: CurveState | None, *, sol_usd: float | None, store: bool = False) -> None:
    """A launch with its curve's current figures (for a trending ranking, read before delivery). A
    completed curve's are not its coin's price (the pool's is): they stay unknown. With `store`, the
    figures are to be stored with the launch (`curve_fields`): read moments before it is stored, not
    at the start of a scan of the whole window."""
    if state is None:
        return
    figures = curve_figures(state, initial_real=record.initial_real_token_reserves, sol_usd=sol_usd)
    for name in ("virtual_token_reserves", "progress", "complete", "quote"):
        setattr(record, name, getattr(figures, name))
    if not figures.complete:
        for name in ("market_cap_sol", "usd_market_cap", "virtual_sol_lamports"):
            setattr(record, name, getattr(figures, name))
        record.real_sol_lamports = state.real_quote_reserves if state.quote == "SOL" else None
        if store:
            record.curve_fields = trading_curve_fields(state, figures)


def apply_pool_reading(record: Launch, reading: PoolReading, *, sol_usd: float | None) -> None:
    """A graduated launch with its pool's market cap (for a trending ranking), when the pool was read."""
    vaults = reading.vaults
    if reading.status != PRICED or vaults is None or reading.base_amount is None or reading.quote_amount is None:
        return
    figures = pool_figures(
        base_amount=reading.base_amount, quote_amount=reading.quote_amount, quote_mint=vaults.quote_mint,
        supply=vaults.supply or _whole(record.total_supply), sol_usd=sol_usd, virtual_quote=vaults.virtual_quote,
    )  # fmt: skip
    record.market_cap_sol, record.usd_market_cap = figures.market_cap_sol, figures.usd_market_cap


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
