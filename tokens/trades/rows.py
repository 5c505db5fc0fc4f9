"""From decoded pump transactions to the rows the ledger writes: pure, no database.

A trade's amounts are checked here (every byte is a stranger's): amounts that do not fit a BIGINT
column, reserves of zero, or a mint that is no address make the trade invalid, counted, never stored.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tokens.sources.chain.addresses import USDC_MINT
from tokens.sources.chain.amm import AmmTradeEvent
from tokens.sources.chain.curve import SOL_DECIMALS, TOKEN_DECIMALS, USDC_DECIMALS, CurveState
from tokens.sources.chain.events import CreateEvent, DecodedTransaction
from tokens.sources.chain.pdas import canonical_pool_address
from tokens.sources.chain.trades import TradeEvent

MAX_BIGINT = 2**63 - 1
STANDARD_SUPPLY = 1_000_000_000 * 10**TOKEN_DECIMALS  # every pump coin but Mayhem's
MAYHEM_SUPPLY = 2 * STANDARD_SUPPLY


@dataclass(frozen=True, slots=True)
class TradeRow:
    signature: str
    position: int
    slot: int | None
    mint: str
    trader: str
    is_buy: bool
    token_amount: int
    quote_amount: int
    quote: str  # SOL or USDC
    traded_at: datetime
    curve: CurveState  # after the trade
    mayhem: bool
    creator: str | None
    # "curve": `curve` is the bonding curve after the trade. "pool": a PumpSwap trade, and `curve`
    # holds the pool after it: its vaults as real reserves, vault plus virtual quote as virtual ones.
    venue: str = "curve"

    @property
    def quote_units(self) -> float:
        return self.quote_amount / 10 ** _decimals(self.quote)

    @property
    def price(self) -> float:
        """Quote per token after the trade."""
        return _price(self.curve.virtual_quote_reserves, self.curve.virtual_token_reserves, self.quote)

    @property
    def price_before(self) -> float:
        """Quote per token just before the trade: the reserves less what the trade moved."""
        sign = 1 if self.is_buy else -1
        quote = self.curve.virtual_quote_reserves - sign * self.quote_amount
        tokens = self.curve.virtual_token_reserves + sign * self.token_amount
        return _price(quote, tokens, self.quote) if quote > 0 and tokens > 0 else self.price

    def usd(self, quote_units: float, sol_usd: float | None) -> float | None:
        if self.quote == "USDC":
            return quote_units
        return None if sol_usd is None else quote_units * sol_usd


@dataclass(frozen=True, slots=True)
class PoolCoin:
    """A graduated coin the board holds, by its canonical pool: what its pool's trades are of."""

    mint: str
    quote: str  # SOL or USDC
    supply: int | None
    virtual_quote: int | None  # the pool's, as last read (an event from 2026-07 on carries its own)


AMM_POSITION = 1_000  # a PumpSwap trade's place among its transaction's trades, after pump's


@dataclass(frozen=True, slots=True)
class LaunchSeen:
    """A create the stream saw: who develops the coin, and from which slot its snipers count."""

    mint: str
    slot: int | None
    developers: frozenset[str]
    created_at: datetime | None
    supply: int | None


@dataclass(frozen=True, slots=True)
class Migrated:
    """A coin's liquidity moved to its canonical PumpSwap pool."""

    pool: str
    quote: str  # SOL or USDC
    at: datetime


@dataclass
class StreamRows:
    trades: list[TradeRow] = field(default_factory=list)
    launches: list[LaunchSeen] = field(default_factory=list)
    completed: dict[str, datetime] = field(default_factory=dict)  # mint -> when it graduated
    migrated: dict[str, Migrated] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)


def migrations_of(tx: DecodedTransaction, *, now: datetime) -> tuple[dict[str, Migrated], list[str]]:
    """The migrations of a transaction to each coin's canonical pool; a migration naming any other
    pool is refused (a coin's pool is where the program puts it, whatever an event says)."""
    found, refused = {}, []
    for event in tx.migrations:
        quote = "USDC" if event.quote_mint == USDC_MINT else "SOL"
        try:
            canonical = canonical_pool_address(event.mint, quote=quote)
        except ValueError:
            canonical = None
        if event.pool != canonical:
            refused.append(f"{tx.signature}: a migration of {event.mint} to {event.pool}, not its pool")
            continue
        found[event.mint] = Migrated(pool=event.pool, quote=quote, at=_moment(event.timestamp) or now)
    return found, refused


def rows_of(
    decoded: list[DecodedTransaction], *, now: datetime, pools: dict[str, PoolCoin] | None = None
) -> StreamRows:
    """The rows of a flush. PumpSwap trades count only in the pools of `pools` (the board's graduated
    coins): every other pool's are not the board's."""
    rows = StreamRows()
    for tx in decoded:
        if tx.failed:
            continue
        rows.invalid += tx.invalid_events
        block_time = _moment(tx.block_time)
        for event in tx.events:
            rows.launches.append(_launch(event, tx, block_time))
        for position, event in enumerate(tx.trades):
            reason = _refusal(event) or _transaction_refusal(tx)
            if reason:
                rows.invalid.append(f"{tx.signature}: trade {position}: {reason}")
                continue
            rows.trades.append(_row(event, tx, position, _moment(event.timestamp) or block_time or now))
        for event in tx.completes:
            rows.completed[event.mint] = _moment(event.timestamp) or block_time or now
        migrated, refused = migrations_of(tx, now=block_time or now)
        rows.migrated.update(migrated)
        rows.invalid += refused
        for position, event in enumerate(tx.amm_trades):
            coin = (pools or {}).get(event.pool)
            if coin is None:
                continue
            virtual = event.virtual_quote_reserves if event.virtual_quote_reserves is not None else coin.virtual_quote
            reason = _amm_refusal(event, virtual or 0) or _transaction_refusal(tx)
            if reason:
                rows.invalid.append(f"{tx.signature}: PumpSwap trade {position}: {reason}")
                continue
            at = _moment(event.timestamp) or block_time or now
            rows.trades.append(_amm_row(event, coin, virtual or 0, tx, AMM_POSITION + position, at))
    return rows


def _amm_row(
    event: AmmTradeEvent, coin: PoolCoin, virtual: int, tx: DecodedTransaction, position: int, at: datetime
) -> TradeRow:
    """A pool trade as a row: the pool after it, by constant product on the quote it prices with (its
    vault plus its virtual quote) from the reserves the event gives before it. The LP fee that stays
    in the pool (0.02 %) is left out of that product."""
    base_before, vault_before = event.pool_base_token_reserves, event.pool_quote_token_reserves
    base_after = base_before - event.base_amount if event.is_buy else base_before + event.base_amount
    priced_after = (vault_before + virtual) * base_before // base_after
    pool = CurveState(
        virtual_token_reserves=base_after, virtual_quote_reserves=priced_after, real_token_reserves=base_after,
        real_quote_reserves=max(priced_after - virtual, 0), token_total_supply=coin.supply or STANDARD_SUPPLY,
        complete=True, quote_mint=USDC_MINT if coin.quote == "USDC" else None,
    )  # fmt: skip
    return TradeRow(
        signature=tx.signature, position=position, slot=tx.slot, mint=coin.mint, trader=event.user,
        is_buy=event.is_buy, token_amount=event.base_amount, quote_amount=event.quote_amount, quote=coin.quote,
        traded_at=at, curve=pool, mayhem=False, creator=event.coin_creator, venue="pool",
    )  # fmt: skip


def _amm_refusal(event: AmmTradeEvent, virtual: int) -> str:
    amounts = (event.base_amount, event.quote_amount, event.pool_base_token_reserves, event.pool_quote_token_reserves)
    if any(amount > MAX_BIGINT for amount in amounts) or abs(virtual) > MAX_BIGINT:
        return "an amount larger than any supply"
    if event.pool_base_token_reserves <= 0 or event.pool_quote_token_reserves + virtual <= 0:
        return "reserves of zero price nothing"
    if event.base_amount <= 0 or (event.is_buy and event.base_amount >= event.pool_base_token_reserves):
        return "more tokens out than the pool holds"
    return ""


def _row(event: TradeEvent, tx: DecodedTransaction, position: int, at: datetime) -> TradeRow:
    quote = "USDC" if event.quote_mint == USDC_MINT else "SOL"
    curve = CurveState(
        virtual_token_reserves=event.virtual_token_reserves, virtual_quote_reserves=event.virtual_quote,
        real_token_reserves=event.real_token_reserves, real_quote_reserves=event.real_quote,
        token_total_supply=MAYHEM_SUPPLY if event.mayhem_mode else STANDARD_SUPPLY, complete=False,
        quote_mint=event.quote_mint,
    )  # fmt: skip
    return TradeRow(
        signature=tx.signature, position=position, slot=tx.slot, mint=event.mint, trader=event.user,
        is_buy=event.is_buy, token_amount=event.token_amount, quote_amount=event.amount_in_quote, quote=quote,
        traded_at=at, curve=curve, mayhem=bool(event.mayhem_mode), creator=event.creator,
    )  # fmt: skip


def _refusal(event: TradeEvent) -> str:
    if event.quote_mint not in (None, USDC_MINT):
        return f"quoted in {event.quote_mint}, which the board does not price"
    amounts = (event.token_amount, event.amount_in_quote, event.virtual_quote, event.virtual_token_reserves,
               event.real_token_reserves)  # fmt: skip
    if any(amount > MAX_BIGINT for amount in amounts):
        return "an amount larger than any supply"
    if event.virtual_quote <= 0 or event.virtual_token_reserves <= 0:
        return "reserves of zero price nothing"
    return ""


def _transaction_refusal(tx: DecodedTransaction) -> str:
    """What the database could not store of the transaction (a signature is 64 bytes: at most 88
    characters of base58; a slot fits a BIGINT)."""
    if not isinstance(tx.signature, str) or not 0 < len(tx.signature) <= 88:
        return "a signature that is not one"
    if tx.slot is not None and not 0 <= tx.slot <= MAX_BIGINT:
        return "a slot no ledger has"
    return ""


def _launch(event: CreateEvent, tx: DecodedTransaction, block_time: datetime | None) -> LaunchSeen:
    developers = frozenset(wallet for wallet in (event.user, event.creator) if wallet)
    return LaunchSeen(
        mint=event.mint, slot=tx.slot, developers=developers,
        created_at=_moment(event.timestamp) or block_time, supply=event.token_total_supply,
    )  # fmt: skip


def _price(quote: int, tokens: int, quote_name: str) -> float:
    return (quote / 10 ** _decimals(quote_name)) / (tokens / 10**TOKEN_DECIMALS)


def _decimals(quote: str) -> int:
    return USDC_DECIMALS if quote == "USDC" else SOL_DECIMALS


def _moment(seconds: int | None) -> datetime | None:
    if seconds is None or not 0 < seconds < 253_402_300_799:  # within years 1970-9999
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)
