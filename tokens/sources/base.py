"""What a launch source is to the rest of the house: the record it yields, and what it can do.

A source reads launches from one upstream (the chain, pump.fun's web API, PumpPortal's websocket)
and yields `Launch` records; the pipeline (tokens/runs) drives any source through `LaunchSource`,
never by name, and tokens/store/normalise.py checks and cleans every record the same way.

Every value of a record is a stranger's, so its fields are typed as the upstream may send them
(`Any`): a source does not validate, it reads; a record it could not read at all carries the reason
in `invalid`.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

RECENT = "recent"
TRENDING = "trending"
HYBRID = "hybrid"
TAIL_PHASE = "tail"

# pump.fun's coin fields -> Launch fields (the web API's records are coins; the chain's follow them).
_COIN_FIELDS = {
    "mint": "mint", "name": "name", "symbol": "symbol", "description": "description", "image_uri": "image_uri",
    "metadata_uri": "metadata_uri", "twitter": "twitter", "telegram": "telegram", "website": "website",
    "bonding_curve": "bonding_curve", "creator": "creator", "signature": "signature",
    "created_timestamp": "created_ms", "last_trade_timestamp": "last_trade_ms", "market_cap": "market_cap_sol",
    "usd_market_cap": "usd_market_cap", "virtual_sol_reserves": "virtual_sol_lamports",
    "real_sol_reserves": "real_sol_lamports",
    "virtual_token_reserves": "virtual_token_reserves", "total_supply": "total_supply", "reply_count": "reply_count",
    "complete": "complete", "nsfw": "nsfw",
}  # fmt: skip


@dataclass(slots=True)
class Launch:
    """One launch as an upstream told it. Units follow pump.fun's coins: times in ms, market cap in
    SOL and USD, virtual SOL in lamports, token amounts with 6 decimals."""

    mint: Any = None
    upstream: str = ""  # who told us: chain, api, pumpportal
    list_name: str = RECENT  # the list it was read from: recent or trending
    position: dict[str, Any] | None = None  # where a resumed run continues after it (the source's own)
    invalid: str | None = None  # why the upstream's record could not be read at all
    name: Any = None
    symbol: Any = None
    description: Any = None
    image_uri: Any = None
    metadata_uri: Any = None
    twitter: Any = None
    telegram: Any = None
    website: Any = None
    bonding_curve: Any = None
    creator: Any = None
    signature: Any = None
    created_ms: Any = None
    last_trade_ms: Any = None
    market_cap_sol: Any = None
    usd_market_cap: Any = None
    virtual_sol_lamports: Any = None
    real_sol_lamports: Any = None  # the SOL a curve holds: its liquidity
    virtual_token_reserves: Any = None
    total_supply: Any = None
    reply_count: Any = None
    complete: Any = None
    nsfw: Any = None
    # Read from the coin's own curve (the chain): progress in percent (None: unknown), the quote
    # (SOL or USDC), the real tokens it started with. The web API gives none of these.
    progress: Any = None
    progress_known: bool = False
    quote: Any = None
    initial_real_token_reserves: Any = None
    # From the create transaction (the chain): what its developer's and its other wallets' first
    # buys took, in percent of supply.
    dev_percent_at_launch: Any = None
    bundled_percent_at_launch: Any = None
    # A backfill page read with its curves (the chain): the token fields of a curve still trading,
    # as the details stage would write them; the token then needs no curve read after it is stored.
    curve_fields: dict[str, Any] | None = None

    @classmethod
    def from_coin(cls, coin: Any, *, upstream: str, list_name: str = RECENT, position: dict | None = None) -> "Launch":
        """A pump.fun coin object (any JSON value: a non-object is a record that could not be read)."""
        if not isinstance(coin, dict):
            return cls(upstream=upstream, list_name=list_name, position=position,
                       invalid=f"record is {type(coin).__name__}, not an object")  # fmt: skip
        fields = {field: coin.get(key) for key, field in _COIN_FIELDS.items()}
        return cls(upstream=upstream, list_name=list_name, position=position, **fields)


BatchCallback = Callable[[list[Launch]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Window:
    """The launches a backfill reads: created from `cutoff_ms` to `end_ms`, from one list."""

    days: float
    end_ms: int
    list_name: str = HYBRID  # recent, trending or hybrid
    trending_limit: int = 200
    trending_first: bool = False
    include_nsfw: bool = True

    @property
    def cutoff_ms(self) -> int:
        return self.end_ms - int(self.days * 86_400_000)


class LaunchSource(Protocol):
    """What a run can ask of a source.

    A source is opened by `open(notice=..., clients=...)` (a classmethod; `clients` is
    tokens/sources/clients.py, the settings' upstream clients) and closed by `aclose()`.
    `backfill` reads a window in batches (from a checkpoint: the `position` of the last record a
    run stored) and says how far back it reached (a warning, or ""); `tail_start` is where following
    begins once the backfill is done; `follow` yields pages of new launches for ever (an empty page
    now and then, so the caller can check whether to stop). A source whose `can_backfill` is False
    only follows.
    """

    upstream: str
    can_backfill: bool

    async def backfill(
        self, window: Window, *, on_batch: BatchCallback, batch_size: Any, checkpoint: dict | None, seen: Iterable[str]
    ) -> str: ...

    async def tail_start(self, checkpoint: dict | None, *, window: Window) -> dict[str, Any]: ...

    def follow(
        self, position: dict[str, Any], *, window: Window, poll_seconds: float
    ) -> AsyncIterator[list[Launch]]: ...

    async def aclose(self) -> None: ...
