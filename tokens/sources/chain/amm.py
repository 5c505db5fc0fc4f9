"""PumpSwap's `BuyEvent` and `SellEvent`: a graduated coin's trades in its pool, from their borsh bytes.

Layouts from pump.fun's public IDLs (../shared/UPSTREAM.md, "Trades, graduation and PumpSwap"), fields
appended over time like pump's own events. Events from 2026-07 on carry 25 bytes past the newest IDL;
their first 8 are the pool's signed virtual quote reserves (the same figure the pool account holds
past its IDL, see pools.py), read here as `virtual_quote_reserves`. The pool reserves an event
carries are those before the trade.
"""

from dataclasses import dataclass

from tokens.sources.chain.borsh import Group, InvalidEvent, read_layout

AMM_BUY_EVENT_DISCRIMINATOR = bytes.fromhex("67f4521f2cf57777")
AMM_SELL_EVENT_DISCRIMINATOR = bytes.fromhex("3e2f370aa503dc2a")


@dataclass(frozen=True, slots=True)
class AmmTradeEvent:
    is_buy: bool
    timestamp: int
    base_amount: int  # tokens out of the pool (a buy) or into it (a sell)
    quote_amount: int  # quote into the pool (a buy) or out of it (a sell), before the protocol's fees
    pool_base_token_reserves: int  # before the trade
    pool_quote_token_reserves: int
    pool: str
    user: str
    coin_creator: str | None = None
    ix_name: str | None = None
    virtual_quote_reserves: int | None = None


_KEYS: Group = (
    ("pool", "key"), ("user", "key"), ("user_base_token_account", "key"), ("user_quote_token_account", "key"),
    ("protocol_fee_recipient", "key"), ("protocol_fee_recipient_token_account", "key"),
)  # fmt: skip
_BUY_BASE: Group = (
    ("timestamp", "i64"), ("base_amount_out", "u64"), ("max_quote_amount_in", "u64"),
    ("user_base_token_reserves", "u64"), ("user_quote_token_reserves", "u64"), ("pool_base_token_reserves", "u64"),
    ("pool_quote_token_reserves", "u64"), ("quote_amount_in", "u64"), ("lp_fee_basis_points", "u64"),
    ("lp_fee", "u64"), ("protocol_fee_basis_points", "u64"), ("protocol_fee", "u64"),
    ("quote_amount_in_with_lp_fee", "u64"), ("user_quote_amount_in", "u64"), *_KEYS,
)  # fmt: skip
_SELL_BASE: Group = (
    ("timestamp", "i64"), ("base_amount_in", "u64"), ("min_quote_amount_out", "u64"),
    ("user_base_token_reserves", "u64"), ("user_quote_token_reserves", "u64"), ("pool_base_token_reserves", "u64"),
    ("pool_quote_token_reserves", "u64"), ("quote_amount_out", "u64"), ("lp_fee_basis_points", "u64"),
    ("lp_fee", "u64"), ("protocol_fee_basis_points", "u64"), ("protocol_fee", "u64"),
    ("quote_amount_out_without_lp_fee", "u64"), ("user_quote_amount_out", "u64"), *_KEYS,
)  # fmt: skip
_CREATOR: Group = (("coin_creator", "key"), ("coin_creator_fee_basis_points", "u64"), ("coin_creator_fee", "u64"))
_CASHBACK: Group = (("cashback_fee_basis_points", "u64"), ("cashback", "u64"))
_BUYBACK: Group = (("buyback_fee_basis_points", "u64"), ("buyback_fee", "u64"))
_PAST_IDL: Group = (("virtual_quote_reserves", "i64"),)  # 2026-07 on (25 bytes; the rest is not read)
_BUY_GROUPS: tuple[Group, ...] = (
    _CREATOR,  # 2025-05
    (
        ("track_volume", "flag"), ("total_unclaimed_tokens", "u64"), ("total_claimed_tokens", "u64"),
        ("current_sol_volume", "u64"), ("last_update_timestamp", "i64"),
    ),  # 2025-08
    (("min_base_amount_out", "u64"), ("ix_name", "string")),  # 2025-11
    _CASHBACK,  # 2026-02
    _BUYBACK,  # 2026-05
    _PAST_IDL,
)  # fmt: skip
_SELL_GROUPS: tuple[Group, ...] = (_CREATOR, _CASHBACK, _BUYBACK, _PAST_IDL)


def parse_amm_buy_event(payload: bytes) -> AmmTradeEvent:
    values = read_layout(payload, _BUY_BASE, _BUY_GROUPS)
    return _event(values, is_buy=True, base="base_amount_out", quote="quote_amount_in")


def parse_amm_sell_event(payload: bytes) -> AmmTradeEvent:
    values = read_layout(payload, _SELL_BASE, _SELL_GROUPS)
    return _event(values, is_buy=False, base="base_amount_in", quote="quote_amount_out")


def _event(values: dict, *, is_buy: bool, base: str, quote: str) -> AmmTradeEvent:
    return AmmTradeEvent(
        is_buy=is_buy, timestamp=values["timestamp"], base_amount=values[base], quote_amount=values[quote],
        pool_base_token_reserves=values["pool_base_token_reserves"],
        pool_quote_token_reserves=values["pool_quote_token_reserves"], pool=values["pool"], user=values["user"],
        coin_creator=values.get("coin_creator"), ix_name=values.get("ix_name"),
        virtual_quote_reserves=values.get("virtual_quote_reserves"),
    )  # fmt: skip


__all__ = [
    "AMM_BUY_EVENT_DISCRIMINATOR", "AMM_SELL_EVENT_DISCRIMINATOR", "AmmTradeEvent", "InvalidEvent",
    "parse_amm_buy_event", "parse_amm_sell_event",
]  # fmt: skip
