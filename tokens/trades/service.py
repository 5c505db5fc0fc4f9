"""The trade stream, run by the feed: the pump program's transactions in, trades stored and figures
moved in one transaction every TRADE_FLUSH_SECONDS, one update message per flush out (so a page hears
trade figures move at most once a flush, however many trades arrive), old trades and candles pruned
in small chunks.

Supervised like every loop of the feed: a failed turn (the database away, a bug) is said once,
retried with backoff, and costs the trades of that turn only when they cannot be written at all.
"""

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from tokens.cancellation import raise_swallowed_cancellation
from tokens.details.pools import reading_fields
from tokens.live.messages import broadcast, update_message
from tokens.live.outage import Outage
from tokens.models import Candle, Holding, Token, Trade, TradeStream
from tokens.sources.chain.addresses import PUMP_AMM_PROGRAM, PUMP_PROGRAM
from tokens.sources.chain.events import DecodedTransaction
from tokens.sources.chain.pool_reader import PoolReader
from tokens.sources.chain.program_stream import Gap, NoWebsocket, ProgramStream, StreamBatch, merged_batches
from tokens.sources.chain.source import ChainSource
from tokens.sources.clients import chain_source, solana_rpc
from tokens.sources.rpc import RpcError
from tokens.trades.ledger import load_windows, record, record_migrations, stale_days
from tokens.trades.rows import LaunchSeen, Migrated, PoolCoin, migrations_of, rows_of
from tokens.trades.windows import RollingWindows

logger = logging.getLogger(__name__)
LAUNCHES_REMEMBERED = 20_000  # creates the stream saw, for developer/bundle/sniper roles
WAITING_SECONDS = 120.0  # a coin traded before its launch is stored is looked for this long
WINDOW_REFRESH_SECONDS = 15.0
PRUNE_SECONDS = 10.0
PRUNE_CHUNK = 5_000
GIVE_UP_AFTER = 3  # flushes of the same transactions that failed before they are left out
MAX_PENDING = 200_000  # decoded transactions waiting for a database that does not answer
MIGRATIONS_REMEMBERED = 10_000  # migration transactions priced already (both streams see them)
POSITION = {PUMP_PROGRAM: "last_signature", PUMP_AMM_PROGRAM: "amm_last_signature"}  # TradeStream columns


class TradeService:
    def __init__(
        self, *, chain: ChainSource, flush_seconds: float | None = None, max_gap: int | None = None,
        clock=time.time, follow_pumpswap: bool | None = None,
    ) -> None:  # fmt: skip
        self.chain = chain
        self.follow_pumpswap = settings.FOLLOW_PUMPSWAP if follow_pumpswap is None else follow_pumpswap
        self.pool_coins: dict[str, PoolCoin] = {}  # the board's graduated coins, by pool (PumpSwap's stream)
        self.pools = PoolReader(rpc=chain.rpc)
        self.pricing: set[asyncio.Task] = set()
        self.flush_seconds = settings.TRADE_FLUSH_SECONDS if flush_seconds is None else flush_seconds
        self.max_gap = settings.TRADE_GAP_MAX_TRANSACTIONS if max_gap is None else max_gap
        self.clock = clock
        self.launches: OrderedDict[str, LaunchSeen] = OrderedDict()
        self.windows = RollingWindows()
        self.day_checked: dict[str, float] = {}  # mint -> when its 24-hour volume was summed from candles
        self.waiting: dict[str, float] = {}
        self.pending: list[DecodedTransaction] = []
        self.health = Outage("the trade stream", log=logger)
        self.flushes = 0
        self.failed_flushes = 0
        self.dropped = 0
        self.broadcast_at = float("-inf")
        self.trades_stored = 0
        self.invalid = 0
        self.migrations_priced = 0
        self.migrations_seen: OrderedDict[str, None] = OrderedDict()

    async def run(self) -> None:
        """Forever (cancel to stop)."""
        while True:
            raise_swallowed_cancellation()
            try:
                await self._follow()
            except NoWebsocket as exc:
                logger.warning("trades are not followed: %s", exc)
                return
            except Exception as exc:
                await asyncio.sleep(self.health.failed(exc))

    async def _follow(self) -> None:
        state = await sync_to_async(_stream_state)(now=self._now())
        self.windows = RollingWindows()
        loaded = await sync_to_async(load_windows)(self.windows, now=self._now())
        if loaded:
            logger.info("trade stream: the last hour's %d trades back in memory", loaded)
        stream = ProgramStream(
            source=self.chain, last=state.last_signature or None, last_seen=state.last_seen_at, max_gap=self.max_gap,
            idle_seconds=min(0.25, self.flush_seconds), clock=self.clock,
        )  # fmt: skip
        streams = [stream]
        if self.follow_pumpswap:
            self.pool_coins = await sync_to_async(pool_coins)()
            streams.append(
                ProgramStream(
                    source=self.chain, last=state.amm_last_signature or None,
                    last_seen=state.last_seen_at if state.amm_last_signature else None, max_gap=self.max_gap,
                    idle_seconds=min(0.25, self.flush_seconds), clock=self.clock, program=PUMP_AMM_PROGRAM,
                )
            )  # fmt: skip
        # Where each stream stands once what it handed out is stored (not following PumpSwap forgets
        # its position: a later start covers from then on, not a gap from long ago).
        positions = {POSITION[s.program]: s.last for s in streams}
        positions.setdefault(POSITION[PUMP_AMM_PROGRAM], "")
        covered = state.covered_since
        # Writes run beside the stream: the next second's trades are decoded while this second's are
        # stored. One write at a time, every flush_seconds at most (one update message a flush).
        flushed_at = windows_at = pruned_at = time.monotonic()
        writing: asyncio.Task | None = None
        try:
            async with contextlib.aclosing(merged_batches(streams)) as batches:
                async for batch in batches:
                    covered = await self._take(batch, positions=positions, covered=covered)
                    if writing is not None and not writing.done():
                        continue
                    if writing is not None:
                        writing.result()  # a failed write ends this turn (run() retries with backoff)
                        writing = None
                    clock = time.monotonic()
                    if clock - flushed_at < self.flush_seconds:
                        continue
                    refresh, tidy = clock - windows_at >= WINDOW_REFRESH_SECONDS, clock - pruned_at >= PRUNE_SECONDS
                    flushed_at = clock
                    windows_at, pruned_at = (clock if refresh else windows_at), (clock if tidy else pruned_at)
                    turn = self._write(last=dict(positions), covered=covered, refresh=refresh, tidy=tidy)
                    writing = asyncio.create_task(turn)
        finally:
            if writing is not None:
                writing.cancel()
            for task in list(self.pricing):
                task.cancel()

    async def _take(self, batch: StreamBatch, *, positions: dict[str, str | None], covered: datetime) -> datetime:
        """A batch into the pending flush: its gap recorded, its migrations priced at once."""
        if batch.gap is not None:
            covered_now = await sync_to_async(record_gap)(batch.gap, pools_only=batch.program == PUMP_AMM_PROGRAM)
            covered = covered_now or covered
        self.pending += batch.decoded
        self._price_migrations(batch.decoded)
        if batch.last is not None:
            positions[POSITION[batch.program]] = batch.last
        if len(self.pending) > MAX_PENDING:  # the database is away: memory stays bounded
            self.dropped += len(self.pending) - MAX_PENDING
            self.pending = self.pending[-MAX_PENDING:]
        return covered

    async def _write(self, *, last: dict[str, str | None], covered: datetime, refresh: bool, tidy: bool) -> None:
        moved, day = await self._moved_windows() if refresh else ([], [])
        if refresh and self.follow_pumpswap:  # pools found by the live refresh since
            self.pool_coins = await sync_to_async(pool_coins)()
        await self.flush(last=last, covered=covered, refresh=moved, day=day)
        self.health.ok()
        if tidy:
            await sync_to_async(prune)(now=self._now())

    async def flush(self, *, last: dict[str, str | None], covered: datetime, refresh=(), day=()) -> None:
        decoded, self.pending = self.pending, []
        try:
            await self._flush(decoded, last=last, covered=covered, refresh=refresh, day=day)
        except Exception:
            self.failed_flushes += 1
            if self.failed_flushes < GIVE_UP_AFTER:
                # Kept for the next try (a trade is stored once, however often it is tried).
                self.pending = (decoded + self.pending)[-MAX_PENDING:]
            else:  # the same records failed again and again: they must not hold the stream up
                self.dropped += len(decoded)
                logger.error("trade stream: %d transactions could not be stored after %d tries; left out",
                             len(decoded), GIVE_UP_AFTER)  # fmt: skip
                self.failed_flushes = 0
            raise
        self.failed_flushes = 0

    async def _flush(self, decoded: list[DecodedTransaction], *, last: dict[str, str | None], covered: datetime,
                     refresh, day) -> None:  # fmt: skip
        now = self._now()
        rows = rows_of(decoded, now=now, pools=self.pool_coins)
        for seen in rows.launches:
            self.launches[seen.mint] = seen
            while len(self.launches) > LAUNCHES_REMEMBERED:
                self.launches.popitem(last=False)
        self.invalid += len(rows.invalid)
        for reason in rows.invalid[:1]:
            logger.info("trade stream: %s (%d refused so far)", reason, self.invalid)
        self.waiting = {m: t for m, t in self.waiting.items() if time.monotonic() - t < WAITING_SECONDS}
        if not (rows.trades or rows.launches or rows.completed or rows.migrated or self.waiting or refresh or day):
            await sync_to_async(_save_position)(last=last, now=now, stored=0)
            return
        sol_usd = await self._sol_usd()
        flushed = await sync_to_async(record)(
            rows, launches=self.launches, windows=self.windows, sol_usd=sol_usd, now=now, covered_since=covered,
            retry=set(self.waiting), refresh=refresh, day=day,
        )  # fmt: skip
        # Counted as soon as they are stored: a task cancelled while it saves its position below
        # has stored them all the same (and a reader of the board may already see them).
        self.trades_stored += flushed.stored
        for mint in flushed.waiting:
            self.waiting.setdefault(mint, time.monotonic())
        for mint in [m for m in self.waiting if m not in flushed.waiting]:
            del self.waiting[mint]
        await sync_to_async(_save_position)(last=last, now=now, stored=flushed.stored)
        self.flushes += 1
        if flushed.update is not None:
            # One message a flush_seconds at most, however long each write took.
            await asyncio.sleep(max(0.0, self.broadcast_at + self.flush_seconds - time.monotonic()))
            self.broadcast_at = time.monotonic()
            await broadcast(update_message(flushed.update, whole=False))

    def _price_migrations(self, decoded: list[DecodedTransaction]) -> None:
        """A migration's pool is read the moment its transaction is seen, beside the stream (one
        round trip: the pool, its vaults and the mint in one call), not at the next flush."""
        now = self._now()
        migrated = {}
        for tx in decoded:
            if tx.failed or not tx.migrations or tx.signature in self.migrations_seen:
                continue
            self.migrations_seen[tx.signature] = None
            while len(self.migrations_seen) > MIGRATIONS_REMEMBERED:
                self.migrations_seen.popitem(last=False)
            migrated.update(migrations_of(tx, now=now)[0])
        if migrated:
            task = asyncio.create_task(self.price_pools(migrated))
            self.pricing.add(task)
            task.add_done_callback(self.pricing.discard)

    async def price_pools(self, migrated: dict[str, Migrated]) -> None:
        try:
            readings, sol_usd = await asyncio.gather(
                self.pools.find({mint: m.quote for mint, m in migrated.items()}), self._sol_usd()
            )
            found = {mint: reading_fields(reading, sol_usd=sol_usd) for mint, reading in readings.items()}
            update, stored = await sync_to_async(record_migrations)(found, migrated, now=self._now())
        except Exception as exc:  # the next live round reads them; the stream goes on
            logger.warning("trade stream: pools of %d migrations unread (%s)", len(migrated), type(exc).__name__)
            return
        for mint, reading in readings.items():
            if self.follow_pumpswap and mint in stored and reading.vaults is not None:  # its pool's trades count now
                vaults = reading.vaults
                self.pool_coins[vaults.pool] = PoolCoin(
                    mint=mint, quote=migrated[mint].quote, supply=vaults.supply, virtual_quote=vaults.virtual_quote
                )
        if update is not None:
            self.migrations_priced += len(stored)
            await broadcast(update_message(update))

    async def _moved_windows(self) -> tuple[list[str], list[str]]:
        """The coins whose windows may have moved without trades (every coin traded within the hour,
        and those that just left it), and a few whose 24-hour volume is due to be summed again."""
        now = self._now()
        gone = self.windows.prune(now=now)
        day = await sync_to_async(stale_days)(now=now, checked=self.day_checked)
        for mint in day:
            self.day_checked[mint] = now.timestamp()
        for mint in [m for m, at in self.day_checked.items() if at < now.timestamp() - 90_000]:
            del self.day_checked[mint]
        return [*self.windows.mints(), *gone], day

    async def _sol_usd(self) -> float | None:
        try:
            _, price = await self.chain.current_states([])
        except (RpcError, Exception) as exc:  # USD figures stay unknown; the trades are stored
            logger.debug("SOL/USD price unavailable: %s", exc)
            return None
        return price

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)


def _stream_state(*, now: datetime) -> TradeStream:
    state, _ = TradeStream.objects.get_or_create(pk=1, defaults={"covered_since": now})
    if state.covered_since is None or not state.last_signature:
        state.covered_since = now  # nothing to fill a gap from: the stream covers what happens from now
        state.save(update_fields=["covered_since"])
    return state


def _save_position(*, last: dict[str, str | None], now: datetime, stored: int) -> None:
    """Where each stream stands (its `TradeStream` column -> its last signature; None: unchanged)."""
    changes = {"last_seen_at": now, "trades": F("trades") + stored}
    changes.update({column: signature for column, signature in last.items() if signature is not None})
    TradeStream.objects.filter(pk=1).update(**changes)


def pool_coins() -> dict[str, PoolCoin]:
    """The board's coins whose pools are known, by pool."""
    rows = Token.objects.exclude(pool="").values_list("pool", "mint", "quote", "token_supply", "pool_virtual_quote")
    return {
        pool: PoolCoin(mint=mint, quote=quote or "SOL", supply=supply, virtual_quote=virtual)
        for pool, mint, quote, supply, virtual in rows
    }


def record_gap(gap: Gap, *, pools_only: bool = False) -> datetime | None:
    """A gap too long to fill: every coin's trade figures now cover the trades from its end on. A gap
    in PumpSwap's stream (`pools_only`) touches only the coins trading in a pool, and not the pump
    stream's coverage (returns None then)."""
    with transaction.atomic():
        state = TradeStream.objects.select_for_update().get(pk=1)
        if not pools_only:
            state.covered_since = gap.until
        state.gaps += 1
        since = "an unknown time" if gap.since is None else f"{gap.since:%Y-%m-%d %H:%M:%S}"
        stream = "PumpSwap: " if pools_only else ""
        state.last_gap = f"{stream}{since} to {gap.until:%Y-%m-%d %H:%M:%S} UTC: {gap.reason}"[:300]
        state.save(update_fields=["covered_since", "gaps", "last_gap"])
        touched = Token.objects.filter(trades_since__lt=gap.until)
        (touched.exclude(pool="") if pools_only else touched).update(trades_since=gap.until)
    logger.warning("trade stream: a gap (%s%s); trade figures now cover trades since %s", stream, gap.reason, gap.until)
    return None if pools_only else gap.until


def prune(*, now: datetime, budget_seconds: float = 1.0) -> int:
    """Trades and candles past their retention, a chunk a transaction (no long lock), until none is
    left or the time budget is spent; holdings of coins nobody traded within the trade retention."""
    trade_cutoff = now - timedelta(hours=settings.TRADE_RETENTION_HOURS)
    candle_cutoff = now - timedelta(days=settings.CANDLE_RETENTION_DAYS)
    quiet = Token.objects.filter(last_trade_at__lt=trade_cutoff).values("mint")
    # Their ledger goes: what it said stays on the rows, but it no longer covers their whole life.
    Token.objects.filter(last_trade_at__lt=trade_cutoff, trades_since__lte=F("created_at")).update(trades_since=now)
    started, removed = time.monotonic(), 0
    for model, old in (
        (Trade, Q(traded_at__lt=trade_cutoff)),
        (Candle, Q(minute__lt=candle_cutoff)),
        (Holding, Q(mint__in=quiet)),
    ):
        while time.monotonic() - started < budget_seconds:
            ids = list(model.objects.filter(old).values_list("id", flat=True)[:PRUNE_CHUNK])
            if ids:
                removed += model.objects.filter(id__in=ids).delete()[0]
            if len(ids) < PRUNE_CHUNK:
                break
    return removed


async def follow_trades() -> None:
    """The feed's trade stream, with its own RPC client (its own budget, apart from the launches')."""
    if not settings.FOLLOW_TRADES or not settings.SOLANA_RPC_URL:
        logger.info("trades are not followed (%s)", "FOLLOW_TRADES is off" if settings.SOLANA_RPC_URL else "no RPC")
        return
    async with AsyncExitStack() as stack:
        rpc = await stack.enter_async_context(solana_rpc())
        await TradeService(chain=chain_source(rpc)).run()
