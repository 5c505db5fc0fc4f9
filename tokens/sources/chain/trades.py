"""pump.fun's `TradeEvent`, `CompleteEvent` and `CompletePumpAmmMigrationEvent`, decoded from their
borsh payloads (after the 8-byte discriminator). Pure functions over bytes; layouts from
../shared/UPSTREAM.md ("Trades, graduation and PumpSwap").

A trade's reserves are those after it, so each trade prices its coin. SOL-quoted coins carry the
amounts in the `sol_*` fields (and, since 2026-05, the same figures in the `quote_*` fields with an
all-zero `quote_mint`); USDC-quoted coins have zeros there and the amounts in the `quote_*` fields.
"""

from dataclasses import dataclass

import msgspec

from tokens.sources.chain.borsh import EventLayout, Group, InvalidEvent

TRADE_EVENT_DISCRIMINATOR = bytes.fromhex("bddb7fd34ee661ee")
COMPLETE_EVENT_DISCRIMINATOR = bytes.fromhex("5f72619cd42e9808")
MIGRATION_EVENT_DISCRIMINATOR = bytes.fromhex("bde95db95c94ea94")
SOL_DECIMALS = 9


class TradeEvent(msgspec.Struct, frozen=True, gc=False):
    # A msgspec Struct, not a frozen dataclass: a stream of trades makes thousands a second, and
    # a frozen dataclass's __init__ sets its 32 fields one object.__setattr__ at a time (6 µs, 1 here).
    mint: str
    sol_amount: int
    token_amount: int
    is_buy: bool
    user: str
    timestamp: int  # seconds
    virtual_sol_reserves: int
    virtual_token_reserves: int
    real_sol_reserves: int
    real_token_reserves: int
    fee_recipient: str | None = None  # 2025-05
    fee_basis_points: int | None = None
    fee: int | None = None
    creator: str | None = None
    creator_fee_basis_points: int | None = None
    creator_fee: int | None = None
    track_volume: bool | None = None  # 2025-08
    total_unclaimed_tokens: int | None = None
    total_claimed_tokens: int | None = None
    current_sol_volume: int | None = None
    last_update_timestamp: int | None = None
    ix_name: str | None = None  # 2025-10
    mayhem_mode: bool | None = None  # 2026-01
    cashback_fee_basis_points: int | None = None  # 2026-02
    cashback: int | None = None
    buyback_fee_basis_points: int | None = None  # 2026-05
    buyback_fee: int | None = None
    shareholders: tuple[tuple[str, int], ...] | None = None
    quote_mint: str | None = None  # None: SOL (absent, or all zeros)
    quote_amount: int | None = None
    virtual_quote_reserves: int | None = None
    real_quote_reserves: int | None = None

    @property
    def quoted_in_sol(self) -> bool:
        return self.quote_mint is None

    @property
    def amount_in_quote(self) -> int:
        """What changed hands on the quote side, in the quote's base units (lamports for SOL)."""
        return self.sol_amount if self.quoted_in_sol else (self.quote_amount or 0)

    @property
    def virtual_quote(self) -> int:
        """The curve's virtual quote reserves after the trade, in the quote's base units."""
        return self.virtual_sol_reserves if self.quoted_in_sol else (self.virtual_quote_reserves or 0)

    @property
    def real_quote(self) -> int:
        return self.real_sol_reserves if self.quoted_in_sol else (self.real_quote_reserves or 0)


@dataclass(frozen=True, slots=True)
class CompleteEvent:
    """The buy that emptied the curve: the coin graduates at `timestamp`."""

    user: str
    mint: str
    bonding_curve: str
    timestamp: int
    quote_mint: str | None = None


@dataclass(frozen=True, slots=True)
class MigrationEvent:
    """`CompletePumpAmmMigrationEvent`: the coin's liquidity moved to its PumpSwap `pool`."""

    user: str
    mint: str
    mint_amount: int
    sol_amount: int  # in the quote's units
    pool_migration_fee: int
    bonding_curve: str
    timestamp: int
    pool: str
    quote_mint: str | None = None


_TRADE_BASE: Group = (
    ("mint", "key"), ("sol_amount", "u64"), ("token_amount", "u64"), ("is_buy", "flag"), ("user", "key"),
    ("timestamp", "i64"), ("virtual_sol_reserves", "u64"), ("virtual_token_reserves", "u64"),
    ("real_sol_reserves", "u64"), ("real_token_reserves", "u64"),
)  # fmt: skip
_TRADE_GROUPS: tuple[Group, ...] = (
    (
        ("fee_recipient", "key"), ("fee_basis_points", "u64"), ("fee", "u64"), ("creator", "key"),
        ("creator_fee_basis_points", "u64"), ("creator_fee", "u64"),
    ),  # 2025-05
    (
        ("track_volume", "flag"), ("total_unclaimed_tokens", "u64"), ("total_claimed_tokens", "u64"),
        ("current_sol_volume", "u64"), ("last_update_timestamp", "i64"),
    ),  # 2025-08
    (("ix_name", "string"),),  # 2025-10
    (("mayhem_mode", "flag"),),  # 2026-01
    (("cashback_fee_basis_points", "u64"), ("cashback", "u64")),  # 2026-02
    (
        ("buyback_fee_basis_points", "u64"), ("buyback_fee", "u64"), ("shareholders", "shares"),
        ("quote_mint", "key"), ("quote_amount", "u64"), ("virtual_quote_reserves", "u64"),
        ("real_quote_reserves", "u64"),
    ),  # 2026-05
)  # fmt: skip
_COMPLETE_BASE: Group = (("user", "key"), ("mint", "key"), ("bonding_curve", "key"), ("timestamp", "i64"))
_MIGRATION_BASE: Group = (
    ("user", "key"), ("mint", "key"), ("mint_amount", "u64"), ("sol_amount", "u64"),
    ("pool_migration_fee", "u64"), ("bonding_curve", "key"), ("timestamp", "i64"), ("pool", "key"),
)  # fmt: skip
_QUOTE_MINT: tuple[Group, ...] = ((("quote_mint", "key"),),)  # 2026-05


# Each event type's fields are its layout's, in order: a payload's values make it by position.
_TRADE = EventLayout(TradeEvent, _TRADE_BASE, _TRADE_GROUPS, none_if_zero="quote_mint")
_COMPLETE = EventLayout(CompleteEvent, _COMPLETE_BASE, _QUOTE_MINT, none_if_zero="quote_mint")
_MIGRATION = EventLayout(MigrationEvent, _MIGRATION_BASE, _QUOTE_MINT, none_if_zero="quote_mint")


def parse_trade_event(payload: bytes) -> TradeEvent:
    return _TRADE.read(payload)


def parse_complete_event(payload: bytes) -> CompleteEvent:
    return _COMPLETE.read(payload)


def parse_migration_event(payload: bytes) -> MigrationEvent:
    return _MIGRATION.read(payload)


__all__ = [
    "COMPLETE_EVENT_DISCRIMINATOR", "MIGRATION_EVENT_DISCRIMINATOR", "TRADE_EVENT_DISCRIMINATOR", "CompleteEvent",
    "InvalidEvent", "MigrationEvent", "TradeEvent", "parse_complete_event", "parse_migration_event",
    "parse_trade_event",
]  # fmt: skip
