"""Every transaction of a program as it lands: pump's trades, graduations and creates (and, when
followed, PumpSwap's trades of graduated coins).

One `logsSubscribe` mentioning the program on the RPC's websocket (beside the launch tail's own
subscription to the mint authority). A notification whose logs were cut, or whose event does not
parse from them, is read again whole with `getTransaction`. After a dropped connection (or a restart)
the signatures since the last one seen are read with `getSignaturesForAddress` on the program and
their transactions fetched, up to `max_gap` transactions, the newest ones: a longer gap is filled
from its newest end and what is left is reported as a `Gap`, never hidden.
"""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import websockets

from tokens.sources.chain.addresses import PUMP_PROGRAM
from tokens.sources.chain.events import DecodedTransaction, decode_logs
from tokens.sources.chain.source import (
    SIGNATURE_PAGE,
    ChainError,
    ChainSource,
    _describe,
    _notification_value,
    _subscription_id,
)
from tokens.sources.rpc import RpcError

logger = logging.getLogger(__name__)
REMEMBERED = 50_000  # signatures kept to take each transaction once


@dataclass(frozen=True)
class Gap:
    """Transactions the stream could not read: trades between `since` and `until` may be missing."""

    since: datetime | None  # the last transaction seen before the gap (None: unknown)
    until: datetime  # every trade from here on was read
    reason: str


@dataclass
class StreamBatch:
    decoded: list[DecodedTransaction] = field(default_factory=list)
    gap: Gap | None = None
    # Stamped as the stream hands the batch out: its program, and the newest signature handled once
    # this batch is (what a consumer saves as the stream's position after storing the batch).
    program: str = ""
    last: str | None = None


class NoWebsocket(ChainError):
    """Trades arrive only over the RPC's websocket."""


class ProgramStream:
    def __init__(
        self, *, source: ChainSource, last: str | None, last_seen: datetime | None = None, max_gap: int = 2_000,
        idle_seconds: float = 0.25, clock=time.time, program: str = PUMP_PROGRAM,
    ) -> None:  # fmt: skip
        self.source = source
        self.program = program
        self.last = last  # the newest signature handed out
        self.last_seen = last_seen
        self.max_gap = max_gap
        self.idle = idle_seconds
        self.clock = clock
        self.recent: OrderedDict[str, None] = OrderedDict()
        self.backoff = 0.5
        self.malformed = 0
        self.connected = False

    async def batches(self) -> AsyncIterator[StreamBatch]:
        """Forever: a batch per notification (or gap-fill chunk), an empty one every `idle_seconds`
        without news so that the consumer can flush on time."""
        if not self.source.ws_url:
            raise NoWebsocket("trades arrive over the RPC's websocket: set SOLANA_WS_URL or an http(s) RPC URL")
        while True:
            try:
                async for batch in self._connected():
                    yield self._stamped(batch)
            except (TimeoutError, OSError, ValueError, TypeError, websockets.WebSocketException, ChainError,
                    RpcError) as exc:  # fmt: skip
                if self.connected:
                    logger.warning("trade stream: websocket lost (%s); filling the gap on reconnect", _describe(exc))
                self.connected = False
                await asyncio.sleep(self.backoff)
                self.backoff = min(self.backoff * 2, 30.0)
                yield self._stamped(StreamBatch())

    def _stamped(self, batch: StreamBatch) -> StreamBatch:
        batch.program, batch.last = self.program, self.last
        return batch

    async def _connected(self) -> AsyncIterator[StreamBatch]:
        async with websockets.connect(self.source.ws_url, open_timeout=10, max_size=8 * 2**20) as ws:
            await ws.send(orjson.dumps(_subscribe_request(self.program)).decode())
            await _subscription_id(ws)
            if not self.connected:
                logger.info("trade stream: following every transaction of %s", self.program)
            self.connected, self.backoff = True, 0.5
            # Subscribed first, then the gap: a transaction in between arrives both ways, taken once.
            async for batch in self.fill_gap():
                yield batch
            while True:
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=self.idle)
                except TimeoutError:
                    yield StreamBatch()
                    continue
                decoded = await self._notification(raw)
                yield StreamBatch(decoded=[decoded] if decoded is not None else [])

    async def _notification(self, raw: Any) -> DecodedTransaction | None:
        value, slot = _notification_value(raw)
        if value is None:
            self.malformed += 1
            if self.malformed == 1:
                logger.warning("trade stream: skipped a frame that is not a logs notification: %r", raw[:120])
            return None
        signature = value.get("signature") if value else None
        if not isinstance(signature, str) or signature in self.recent:
            return None
        if value.get("err") is not None:
            self._remember(signature)
            return None
        decoded = decode_logs(signature, value.get("logs") or [], slot=slot)
        if decoded.logs_truncated or decoded.invalid_events:
            # The whole transaction holds every event. If it cannot be read, the connection is
            # dropped before this signature counts as handled: the gap fill reads it again.
            decoded = await self.source._one(signature)
            decoded.slot = decoded.slot if decoded.slot is not None else slot
        self._remember(signature)
        return decoded

    def _remember(self, signature: str) -> None:
        self.recent[signature] = None
        self.last = signature
        self.last_seen = datetime.fromtimestamp(self.clock(), tz=UTC)
        while len(self.recent) > REMEMBERED:
            self.recent.popitem(last=False)

    async def fill_gap(self) -> AsyncIterator[StreamBatch]:
        """The transactions since the last one seen, oldest first, within the budget."""
        if self.last is None:
            return  # a first start: the stream covers what happens from now on
        try:
            entries, complete = await self._signatures_since(self.last)
        except (RpcError, ChainError) as exc:
            now = datetime.fromtimestamp(self.clock(), tz=UTC)
            yield StreamBatch(gap=Gap(since=self.last_seen, until=now, reason=f"the gap could not be read: {exc}"))
            return
        wanted = [e for e in entries if e.get("err") is None and e["signature"] not in self.recent]
        if not complete:
            oldest = entries[-1].get("blockTime") if entries else None
            until = datetime.fromtimestamp(oldest if isinstance(oldest, int) else self.clock(), tz=UTC)
            yield StreamBatch(gap=Gap(since=self.last_seen, until=until,
                                      reason=f"more than {self.max_gap} transactions were missed"))  # fmt: skip
        chunk_size = self.source.rpc.batch_size
        oldest_first = [e["signature"] for e in reversed(wanted)]
        for start in range(0, len(oldest_first), chunk_size):
            chunk = oldest_first[start : start + chunk_size]
            decoded = await self.source._transactions(chunk)
            for signature in chunk:
                self._remember(signature)
            yield StreamBatch(decoded=[d for d in decoded if not d.failed])

    async def _signatures_since(self, last: str) -> tuple[list[dict[str, Any]], bool]:
        """Newest first, up to `max_gap`; and whether they reach back to `last`."""
        found: list[dict[str, Any]] = []
        before = None
        while len(found) < self.max_gap:
            options: dict[str, Any] = {"limit": min(SIGNATURE_PAGE, self.max_gap - len(found)), "until": last,
                                       "commitment": "confirmed"}  # fmt: skip
            if before is not None:
                options["before"] = before
            entries = await self.source.rpc.call("getSignaturesForAddress", [self.program, options])
            if not isinstance(entries, list) or not all(_is_entry(e) for e in entries):
                raise ChainError("getSignaturesForAddress did not answer with a list of signatures")
            found += entries
            if len(entries) < options["limit"]:
                return found, True
            before = entries[-1]["signature"]
        return found, False


async def merged_batches(streams: list[ProgramStream]) -> AsyncIterator[StreamBatch]:
    """The batches of several streams as they come (each stream read by a task of its own); a
    stream's failure ends the merge with its exception, as a single stream's would. A stream's
    position is the `last` of its batches consumed, never its own `last` (which runs ahead of the
    batches still queued here). Close it (`contextlib.aclosing`) to stop the readers."""
    if len(streams) == 1:
        async for batch in streams[0].batches():
            yield batch
        return
    queue: asyncio.Queue[StreamBatch | Exception] = asyncio.Queue(maxsize=256)

    async def read(stream: ProgramStream) -> None:
        try:
            async for batch in stream.batches():
                await queue.put(batch)
        except Exception as exc:
            await queue.put(exc)

    tasks = [asyncio.create_task(read(stream)) for stream in streams]
    try:
        while True:
            item = await queue.get()
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _is_entry(entry: Any) -> bool:
    """A signature entry as the RPC writes it: a signature, and a block time within years 1970-9999."""
    if not isinstance(entry, dict) or not isinstance(entry.get("signature"), str) or len(entry["signature"]) > 88:
        return False
    block_time = entry.get("blockTime")
    return block_time is None or (isinstance(block_time, int) and 0 <= block_time < 253_402_300_800)


def _subscribe_request(program: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "logsSubscribe",
        "params": [{"mentions": [program]}, {"commitment": "confirmed"}],
    }
