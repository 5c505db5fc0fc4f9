"""Each coin's trading over the last hour, in memory, in 10-second buckets: the 5-minute and 1-hour
figures of a flush without reading an hour of trades back from the database.

Hand-written: a time-bucketed counter with distinct wallets per window is a few lines over a deque;
no library fits without bringing its own storage. The feed is the one process that follows trades,
so it is the one place that keeps this; after a restart it is rebuilt from the stored trades.
"""

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

BUCKET = 10  # seconds
HOUR = 3600
FIVE_MINUTES = 300


@dataclass(slots=True)
class Bucket:
    start: int  # seconds since the epoch, a multiple of BUCKET
    volume_usd: float = 0.0
    net_usd: float = 0.0
    buys: int = 0
    sells: int = 0
    wallets: set[str] | None = field(default_factory=set)  # dropped once older than five minutes
    first_price_before: float | None = None  # the price just before the bucket's first trade
    last_price: float | None = None
    first_at: float = math.inf  # when its first and last trades were (a gap's trades come late)
    last_at: float = -math.inf


@dataclass(frozen=True, slots=True)
class Seen:
    """One trade as the windows need it."""

    mint: str
    at: float  # seconds since the epoch
    usd: float | None
    is_buy: bool
    wallet: str
    price_before: float
    price: float


class RollingWindows:
    def __init__(self) -> None:
        self.by_mint: dict[str, deque[Bucket]] = {}

    def add(self, trades: Iterable[Seen]) -> None:
        for trade in trades:
            self._bucket(trade.mint, int(trade.at) // BUCKET * BUCKET, trade)

    def _bucket(self, mint: str, start: int, trade: Seen) -> None:
        buckets = self.by_mint.setdefault(mint, deque())
        # Trades arrive in time order but for a gap's, which are older: look from the newest end.
        position = len(buckets)
        while position > 0 and buckets[position - 1].start > start:
            position -= 1
        if position > 0 and buckets[position - 1].start == start:
            bucket = buckets[position - 1]
        else:
            bucket = Bucket(start=start)
            buckets.insert(position, bucket)
        if trade.at < bucket.first_at:
            bucket.first_price_before, bucket.first_at = trade.price_before, trade.at
        if trade.at >= bucket.last_at:
            bucket.last_price, bucket.last_at = trade.price, trade.at
        usd = trade.usd or 0.0
        bucket.volume_usd += usd
        bucket.net_usd += usd if trade.is_buy else -usd
        bucket.buys += trade.is_buy
        bucket.sells += not trade.is_buy
        if bucket.wallets is not None:
            bucket.wallets.add(trade.wallet)

    def figures(self, mint: str, *, now: datetime, covered_from: datetime | None) -> dict:
        """The coin's 5-minute and 1-hour figures; `covered_from`: every trade since then was seen
        (datetime.min for a coin whose whole life the stream saw; None: unknown)."""
        buckets = self.by_mint.get(mint, ())
        clock = now.timestamp()
        five = [b for b in buckets if b.start >= _window_start(clock, FIVE_MINUTES)]
        hour = [b for b in buckets if b.start >= _window_start(clock, HOUR)]
        wallets: set[str] = set()
        for bucket in five:
            wallets |= bucket.wallets or set()
        price_now = buckets[-1].last_price if buckets else None
        return {
            "volume_5m_usd": round(sum(b.volume_usd for b in five), 2),
            "volume_1h_usd": round(sum(b.volume_usd for b in hour), 2),
            "net_flow_5m_usd": round(sum(b.net_usd for b in five), 2),
            "buys_5m": sum(b.buys for b in five),
            "sells_5m": sum(b.sells for b in five),
            "traders_5m": len(wallets),
            "price_change_5m": _change(five, price_now, covered_from, _window_start(clock, FIVE_MINUTES)),
            "price_change_1h": _change(hour, price_now, covered_from, _window_start(clock, HOUR)),
        }

    def prune(self, *, now: datetime) -> set[str]:
        """Forget what is older than an hour (and wallets older than five minutes); the coins that
        left the windows entirely, whose figures are zero now."""
        clock = now.timestamp()
        gone = set()
        for mint in list(self.by_mint):
            buckets = self.by_mint[mint]
            while buckets and buckets[0].start < _window_start(clock, HOUR):
                buckets.popleft()
            for bucket in buckets:
                if bucket.start >= _window_start(clock, FIVE_MINUTES):
                    break
                bucket.wallets = None
            if not buckets:
                del self.by_mint[mint]
                gone.add(mint)
        return gone

    def mints(self) -> list[str]:
        return list(self.by_mint)


def _window_start(clock: float, span: int) -> int:
    return math.floor((clock - span) / BUCKET) * BUCKET + BUCKET


def _change(window: list[Bucket], price_now: float | None, covered_from: datetime | None, start: int) -> float | None:
    if covered_from is None or covered_from.timestamp() > start:
        return None  # trades before the stream's coverage may have moved the price
    if not window or price_now is None:
        return 0.0  # no trade in the window: the price did not move
    baseline = window[0].first_price_before
    if not baseline:
        return None
    return round(100 * (price_now / baseline - 1), 4)
