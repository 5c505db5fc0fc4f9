"""From a decoded transaction to launch records in the shape the rest of the loader reads.

The records follow pump.fun's coin objects (`created_timestamp` in ms, `market_cap` in SOL,
`usd_market_cap` in USD, `virtual_sol_reserves` in lamports) so one validation serves both
upstreams. A payload that did not parse becomes a record that validation counts as invalid.
"""

from typing import Any

from tokens.sources.chain.addresses import USDC_MINT
from tokens.sources.chain.curve import (
    CurveState,
    bonding_progress,
    market_cap_in_quote,
)
from tokens.sources.chain.events import CreateEvent, DecodedTransaction

SOURCE_KEY = "_source"
POSITION_KEY = "_position"
PROGRESS_KEY = "_progress"  # bonding progress computed from the coin's own curve, percent
INVALID_KEY = "_invalid"  # why a record could not be read; validation counts it as invalid
QUOTE_KEY = "_quote"
INITIAL_REAL_KEY = "_initial_real_token_reserves"
# Every curve before May 2025 (events without reserves) started with these real tokens; newer
# events carry their own, which is what is used for them.
LEGACY_INITIAL_REAL_TOKEN_RESERVES = 793_100_000_000_000


def launch_records(decoded: DecodedTransaction, *, source: str) -> list[dict[str, Any]]:
    """Every launch of a transaction, then a record per payload that did not parse."""
    records: list[dict[str, Any]] = [_launch(event, decoded) for event in decoded.events]
    records += [{INVALID_KEY: reason} for reason in decoded.invalid]
    for record in records:
        record[SOURCE_KEY] = source
    return records


def record_key(record: dict[str, Any], index: int) -> str:
    """What identifies a record within its transaction, for resuming in the middle of one."""
    mint = record.get("mint")
    return mint if isinstance(mint, str) else f"#{index}"


def _launch(event: CreateEvent, decoded: DecodedTransaction) -> dict[str, Any]:
    created_s = event.timestamp if event.timestamp is not None else decoded.block_time
    initial_real = event.real_token_reserves
    if initial_real is None and event.virtual_token_reserves is None:
        initial_real = LEGACY_INITIAL_REAL_TOKEN_RESERVES
    record: dict[str, Any] = {
        "mint": event.mint,
        "name": event.name,
        "symbol": event.symbol,
        "metadata_uri": event.uri,
        "creator": event.creator or event.user,
        "bonding_curve": event.bonding_curve,
        "signature": decoded.signature,
        "created_timestamp": None if created_s is None else created_s * 1000,
        "total_supply": event.token_total_supply,
        INITIAL_REAL_KEY: initial_real,
    }
    # Market cap, progress and graduation are the curve's now, not at launch: unknown until its
    # current state is read.
    record[QUOTE_KEY] = "USDC" if event.quote_mint == USDC_MINT else "SOL"
    record[PROGRESS_KEY] = None
    return record


def apply_curve_state(record: dict[str, Any], state: CurveState | None, *, sol_usd: float | None) -> None:
    """Market cap (SOL and USD), liquidity, progress and graduation from a curve's state.

    USD needs a fresh SOL/USD price for SOL curves; without one it stays unknown. USDC curves are
    USD already, and their SOL value needs the price.
    """
    if state is None:
        return
    cap = market_cap_in_quote(
        virtual_quote_reserves=state.virtual_quote_reserves,
        virtual_token_reserves=state.virtual_token_reserves,
        token_total_supply=state.token_total_supply,
        quote_mint=state.quote_mint,
    )
    record[QUOTE_KEY] = state.quote
    record["complete"] = state.complete
    record["virtual_token_reserves"] = state.virtual_token_reserves
    record[PROGRESS_KEY] = bonding_progress(
        real_token_reserves=state.real_token_reserves,
        initial_real_token_reserves=record.get(INITIAL_REAL_KEY) or LEGACY_INITIAL_REAL_TOKEN_RESERVES,
        complete=state.complete,
    )
    if state.quote == "USDC":
        record["usd_market_cap"] = cap
        record["market_cap"] = None if cap is None or not sol_usd else cap / sol_usd
        record["virtual_sol_reserves"] = None
    else:
        record["market_cap"] = cap
        record["usd_market_cap"] = None if cap is None or sol_usd is None else cap * sol_usd
        record["virtual_sol_reserves"] = state.virtual_quote_reserves
