"""pump.fun launches from the chain: backfill by signatures, current curve state, live tail.

Backfill: `getSignaturesForAddress(<mint authority>)` pages newest first with `before`, which new
launches at the head do not shift; the transactions come as JSON-RPC batches (or, where the
provider offers it, `getTransactionsForAddress` hands over whole transactions), read ahead of the
consumer within the call rate and yielded strictly in signature order, so a checkpoint (the
transaction a record came from, and what of it was delivered) resumes exactly.

Tail: `logsSubscribe` over the websocket; after every (re)connect, and when there is no websocket,
`getSignaturesForAddress(until=<last signature seen>)` fills the gap, so nothing is missed and
nothing comes twice.
"""

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import orjson
import websockets

from tokens.sources.base import Launch
from tokens.sources.chain.addresses import MINT_AUTHORITY, PYTH_SOL_USD_ACCOUNT
from tokens.sources.chain.curve import (
    CurveState,
    InvalidAccount,
    Price,
    decode_curve,
    decode_pyth_price,
    fresh_usd_price,
)
from tokens.sources.chain.events import DecodedTransaction, decode_logs, decode_transaction, decode_view
from tokens.sources.chain.launches import (
    apply_curve_state,
    apply_pool_reading,
    launch_records,
    record_key,
)
from tokens.sources.chain.pool_reader import PoolReader
from tokens.sources.chain.transactions import TypedTransaction, typed_view
from tokens.sources.reach import Reach
from tokens.sources.rpc import MethodNotFound, RpcCallError, RpcError, SolanaRpc, TypedAnswer

logger = logging.getLogger(__name__)

SIGNATURE_PAGE = 1000
ACCOUNTS_PER_CALL = 100
TRANSACTIONS_PER_CALL = 100  # getTransactionsForAddress, full transactions
SLICE_PAGES = 8  # a range of the window read by getTransactionsForAddress is sized for this many pages
READ_AHEAD_CHUNKS = 8
PRICE_REFRESH_SECONDS = 10.0
CHAIN_PHASE = "chain"
TAIL_PHASE = "tail"
RECENT = "recent"
_CLOCK_SLACK_SECONDS = 60  # block times may run ahead of this machine's clock
_EMPTY_PAGES_IN_A_ROW = 32  # a provider scanning a quiet stretch; more is a provider that never ends
_TX_OPTIONS = {"encoding": "json", "maxSupportedTransactionVersion": 0, "commitment": "confirmed"}


class ChainError(Exception):
    """The chain could not give us what a run needs."""


class ChainSource:
    def __init__(
        self,
        *,
        rpc: SolanaRpc,
        ws_url: str | None = None,
        pyth_account: str = PYTH_SOL_USD_ACCOUNT,
        null_retries: int = 8,
        null_wait: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rpc = rpc
        self.ws_url = ws_url
        self.pyth_account = pyth_account
        self.null_retries = null_retries
        self.null_wait = null_wait
        self.clock = clock
        self.reach = Reach()
        self.uses_transactions_for_address: bool | None = None  # detected once per run
        self.head: str | None = None  # the newest signature when the backfill began
        self.with_state = False
        self.state_after_first = False
        self._pages_planned = 0
        self._first: int | None = None  # the size of the backfill's first page, until it is asked
        self._price: Price | None = None
        self._price_read_at = float("-inf")
        self._price_read: asyncio.Future | None = None  # one price read at a time, shared by its askers

    # -- backfill -------------------------------------------------------------------------------

    async def backfill(
        self,
        *,
        cutoff_s: int,
        start: dict[str, Any] | None,
        with_state: bool = False,
        state_after_first: bool = False,
        first: int | None = None,
    ) -> AsyncIterator[list[Launch]]:
        """Pages of launch records in the window, newest first, each with its resume position; with
        each curve's current state when asked (otherwise it is a detail fetched after storing).

        `with_state`: every page, and graduated coins priced from their pools (a trending ranking).
        `state_after_first`: every page but the first reads its curves (one `getMultipleAccounts`
        per 100, while earlier pages are stored) so its rows are stored with their market caps, and
        need no detail round of their own (a third of the loader's CPU went to those); the first page
        goes out without, so the first rows wait for nothing. A graduated coin is left to the details
        stage (its pool).

        `first`: the size of the caller's first batch. The first page then holds that many
        transactions, read alone: at a public RPC's 10 calls a second, a first request of 100 calls
        would hold the first rows back for ten seconds of call budget."""
        self.with_state = with_state
        self.state_after_first = state_after_first
        self._pages_planned = 0
        self._first = max(1, first) if first else None
        if start is not None:
            self.head = start["head"]
            yield await self._rest_of(start["at"], done=start.get("done") or [])
            jobs = self._transaction_jobs(cutoff_s=cutoff_s, before=start["at"])
        else:
            # Ask for the first signature page and, where the provider has the faster way, the first
            # page of whole transactions: one round trip for both, and the first is dropped if the
            # second comes.
            first_page = asyncio.ensure_future(self._signature_page(before=None, limit=self._first))
            try:
                opening = await self._opening_full_page(cutoff_s=cutoff_s)
            except BaseException:
                first_page.cancel()
                raise
            if opening is not None:
                first_page.cancel()
                jobs = self._full_transaction_jobs(cutoff_s=cutoff_s, opening=opening)
            else:
                jobs = self._transaction_jobs(cutoff_s=cutoff_s, before=None, first_page=first_page)
        async for page in _in_order(jobs):
            yield page

    async def _opening_full_page(self, *, cutoff_s: int) -> Any:
        """The first answer of `getTransactionsForAddress`, or None where the provider does not offer
        it (then signatures and `getTransaction` read the window). Asking for the page is the test:
        a separate probe cost the first rows a round trip."""
        if self.uses_transactions_for_address is False:
            return None
        first = self._first  # the signatures' first chunk takes it if this is refused
        try:
            result = await self._full_page(gte=cutoff_s)
        except MethodNotFound:
            self.uses_transactions_for_address, self._first = False, first
            return None
        except RpcCallError as exc:
            logger.info("getTransactionsForAddress is not usable here (%s); reading signatures instead", exc)
            self.uses_transactions_for_address, self._first = False, first
            return None
        self.uses_transactions_for_address = True
        return result

    async def _full_page(self, *, gte: int, lt: int | None = None, token: str | None = None) -> Any:
        window: dict[str, int] = {"gte": gte} if lt is None else {"gte": gte, "lt": lt}
        options: dict[str, Any] = {
            "transactionDetails": "full",
            "sortOrder": "desc",
            "limit": min(self._take_first() or TRANSACTIONS_PER_CALL, TRANSACTIONS_PER_CALL),
            "filters": {"blockTime": window, "status": "succeeded"},
            **_TX_OPTIONS,
        }
        if token:
            options["paginationToken"] = token
        return await self.rpc.call("getTransactionsForAddress", [MINT_AUTHORITY, options], typed=_FULL_PAGE)

    async def _signature_page(self, *, before: str | None, limit: int | None) -> list[dict[str, Any]]:
        # The backfill's first page as small as its first batch: a thousand signatures take a while
        # to serve and read, and the first rows need only that many.
        options: dict[str, Any] = {
            "limit": min(limit or SIGNATURE_PAGE, SIGNATURE_PAGE),
            "commitment": "confirmed",
        }
        if before is not None:
            options["before"] = before
        entries = await self.rpc.call("getSignaturesForAddress", [MINT_AUTHORITY, options])
        if not isinstance(entries, list):
            raise ChainError("getSignaturesForAddress did not answer with a list")
        return entries

    async def _transaction_jobs(
        self, *, cutoff_s: int, before: str | None, first_page: Awaitable[list] | None = None
    ) -> AsyncIterator[Awaitable[list]]:
        """Signatures of successful transactions in the window, newest first, `getSignaturesForAddress`
        a thousand at a time; a failed create (`err` set) is skipped without being fetched. Each chunk
        of the RPC's batch size becomes a job: fetch, decode, read the curves."""
        while True:
            if first_page is not None:
                entries, first_page = await first_page, None
            else:
                entries = await self._signature_page(before=before, limit=self._first)
            if not entries:
                return  # the start of the chain's history (or of what this node keeps)
            if self.head is None:
                self.head = entries[0]["signature"]  # where a live tail takes over
            inside, done = [], False
            for entry in entries:
                block_time = entry.get("blockTime")
                if isinstance(block_time, int):
                    if block_time < cutoff_s:
                        self.reach.reached_start = done = True
                        break
                    self.reach.saw(block_time * 1000)
                if entry.get("err") is None:
                    inside.append(entry["signature"])
            for chunk in self._chunks(inside):
                yield self._records_of(chunk, state=self._next_page_state())
            self._first = None  # the next pages are whole, even if this one held no success
            if done:
                return
            before = entries[-1]["signature"]

    def _chunks(self, signatures: list[str]) -> list[list[str]]:
        """The RPC's batches; the first one of the backfill no bigger than the caller's first batch."""
        chunks, index = [], 0
        while index < len(signatures):
            size = min(self._take_first() or self.rpc.batch_size, self.rpc.batch_size)
            chunks.append(signatures[index : index + size])
            index += size
        return chunks

    def _take_first(self) -> int | None:
        first, self._first = self._first, None
        return first

    async def _records_of(self, signatures: list[str], *, state: str) -> list[Launch]:
        return await self._maybe_state(self._records(await self._transactions(signatures)), state=state)

    def _next_page_state(self) -> str:
        """What the next page (in the order pages are made) reads of its curves: "" nothing,
        "curves", or "pools" too."""
        first = self._pages_planned == 0
        self._pages_planned += 1
        if self.with_state:
            return "pools"
        return "curves" if self.state_after_first and not first else ""

    async def _maybe_state(self, records: list[Launch], *, state: str) -> list[Launch]:
        if state == "curves":
            try:
                return await self._with_state(records, pools=False)
            except (RpcError, ChainError) as exc:
                # The rows go without: their curves are read after storing, as details.
                logger.warning("bonding curves of a backfill page unavailable (%s); read after storing", exc)
                return records
        return await self._with_state(records, pools=True) if state else records

    async def _full_transaction_jobs(self, *, cutoff_s: int, opening: Any) -> AsyncIterator[Awaitable[list]]:
        """The opening page alone, then the rest of the window cut by `blockTime` into ranges read side
        by side (up to READ_AHEAD_CHUNKS at once) and handed over in order. One chain of pages cannot
        go faster than a round trip and the provider's serving of a page (each needs the last one's
        `paginationToken`); ranges make the call rate the limit instead.

        Each range is a fresh `gte`/`lt` query, sized from the launch rate seen so far: the first for
        one page (the second batch waits for no more, and is handed over whole), the next for two
        and four (the next batches wait for no range of eight), then SLICE_PAGES. The first ends with
        the opening page's oldest second, whose transactions the opening page may hold in part: those
        are asked again and skipped."""
        decoded, token = self._page_contents(opening)
        # A provider that ignored the window's start: what lies before it is not the window's.
        inside = [d for d in decoded if d.block_time is None or d.block_time >= cutoff_s]
        if inside:
            self.head = self.head or inside[0].signature
            yield self._maybe_state(self._records(inside), state=self._next_page_state())
        if len(inside) < len(decoded):
            self.reach.reached_start = True  # a transaction from before the window: its start is reached
            return
        if not token:
            self.reach.reached_start = await self._history_before(cutoff_s)
            return
        times = [d.block_time for d in inside if d.block_time is not None]
        if times:
            high = min(times) + 1
        else:
            # A first page of nothing that goes on (or without block times, which the filter should not
            # allow): the window is read from a little after now, and the live tail takes over after
            # the newest signature there is now, so nothing made meanwhile is missed.
            self.head = self.head or await self.newest_signature()
            high = int(self.clock()) + _CLOCK_SLACK_SECONDS
        pace, skip, pages = _LaunchPace(inside), {d.signature for d in inside}, 1
        while high > cutoff_s:
            low = max(cutoff_s, high - pace.seconds_for(pages * TRANSACTIONS_PER_CALL))
            yield self._slice(gte=low, lt=high, skip=skip, pace=pace, state=self._next_page_state(),
                              last=low <= cutoff_s)  # fmt: skip
            # Read side by side, a range of eight pages took a second to come: the third batch
            # waited for it.
            high, skip, pages = low, set(), min(pages * 2, SLICE_PAGES)

    async def _slice(self, *, gte: int, lt: int, skip: set[str], pace: "_LaunchPace", state: str, last: bool):
        """Every transaction of [gte, lt) but those in `skip`, page after page. A provider whose pages
        do not move on (nothing new in a page of transactions, or page after page of nothing) fails
        the run rather than bill it without end."""
        found: list[DecodedTransaction] = []
        seen = set(skip)
        token: str | None = None
        pages = empty = timeless = 0
        while True:
            decoded, token = self._page_contents(await self._full_page(gte=gte, lt=lt, token=token))
            pages += 1
            _check_range(decoded, lt=lt)
            new = [d for d in decoded if d.signature not in seen and _within(d.block_time, gte, lt)]
            seen.update(d.signature for d in new)
            found += new
            timeless += sum(d.block_time is None for d in decoded)
            if not token or any(d.block_time is not None and d.block_time < gte for d in decoded):
                break
            # (The first page may hold only what the opening page had: its oldest second.)
            if decoded and not new and pages > 1:
                raise ChainError("getTransactionsForAddress answered a page of what it had already given")
            empty = 0 if decoded else empty + 1
            if empty > _EMPTY_PAGES_IN_A_ROW:
                raise ChainError(f"getTransactionsForAddress answered {empty} pages of nothing in a row")
        if timeless:
            logger.warning("getTransactionsForAddress handed over %d transactions without a block time: left out",
                           timeless)  # fmt: skip
        pace.saw(len(found), lt - gte)
        if last:
            self.reach.reached_start = await self._history_before(gte)
        return await self._maybe_state(self._records(found), state=state)

    async def _history_before(self, cutoff_s: int) -> bool:
        """Whether the provider keeps anything from before the window's start (one call, a signature
        at most). With the start applied as a filter, running out of pages cannot tell a window read to
        its start from a history that ends inside it; the signatures path sees the difference itself."""
        options = {"transactionDetails": "signatures", "sortOrder": "desc", "limit": 1,
                   "filters": {"blockTime": {"lt": cutoff_s}}}  # fmt: skip
        try:
            result = await self.rpc.call("getTransactionsForAddress", [MINT_AUTHORITY, options])
        except RpcError as exc:
            # The window was read; whether history goes further back stays unknown, and is not
            # reported as a shortfall it may not be.
            logger.warning("could not ask for history before the window's start (%s)", exc)
            return True
        data = result.get("data") if isinstance(result, dict) else None
        return bool(data) if isinstance(data, list) else True

    def _page_contents(self, result: Any) -> tuple[list[DecodedTransaction], str | None]:
        """A `getTransactionsForAddress` answer's transactions, decoded, and its pagination token."""
        decoded_list, token = _typed_page(result) if isinstance(result, _FullPage) else _json_page(result)
        for decoded in decoded_list:
            if decoded.block_time is not None:
                self.reach.saw(decoded.block_time * 1000)
        return decoded_list, token if isinstance(token, str) and token else None

    async def _rest_of(self, signature: str, *, done: list[str]) -> list[Launch]:
        """The records of a transaction a resumed run had only partly delivered."""
        # A few records of one transaction: read as they are (the first whole page after it is the
        # resumed run's first page, and goes out without its curves too).
        records = self._records(await self._transactions([signature]))
        return await self._maybe_state([r for r in records if r.position["done"][-1] not in done], state="")

    def _records(self, decoded_list: list[DecodedTransaction]) -> list[Launch]:
        records = []
        for decoded in decoded_list:
            delivered: list[str] = []
            for index, record in enumerate(launch_records(decoded, source=RECENT)):
                delivered.append(record_key(record, index))
                record.position = {
                    "phase": CHAIN_PHASE,
                    "head": self.head,
                    "at": decoded.signature,
                    "done": list(delivered),
                }
                records.append(record)
        return records

    async def _transactions(self, signatures: list[str]) -> list[DecodedTransaction]:
        """The transactions, decoded, in order. One not visible yet at `confirmed` (null) is asked
        again a little later, never dropped; one that stays invisible fails the run (resumable)."""
        results: dict[str, Any] = {}
        missing = list(signatures)
        for attempt in range(self.null_retries + 1):
            answers = await self.rpc.call_many("getTransaction", [[sig, _TX_OPTIONS] for sig in missing])
            still = []
            for signature, answer in zip(missing, answers, strict=True):
                if answer is None:
                    still.append(signature)
                else:
                    results[signature] = answer
            missing = still
            if not missing:
                break
            await asyncio.sleep(self.null_wait * 2**attempt)
        if missing:
            raise ChainError(f"transaction {missing[0]} is still not visible at 'confirmed'; resume the run later")
        return [_decode(signature, results[signature]) for signature in signatures]

    # -- current state ----------------------------------------------------------------------------

    async def _with_state(self, records: list[Launch], *, pools: bool = True) -> list[Launch]:
        """Current market cap, progress and graduation of each launch; with `pools`, graduated coins
        priced from their pools (a trending ranking needs them before anything is delivered)."""
        launches = [r for r in records if isinstance(r.bonding_curve, str)]
        states, sol_usd = await self.current_states([r.bonding_curve for r in launches])
        for record in launches:
            apply_curve_state(record, states.get(record.bonding_curve), sol_usd=sol_usd, store=not pools)
        graduated = {r.mint: r for r in launches if r.complete is True}
        if graduated and pools:  # their curves price nothing: their pools do (unknown if not read)
            readings = await PoolReader(rpc=self.rpc).find({mint: r.quote or "SOL" for mint, r in graduated.items()})
            for mint, reading in readings.items():
                apply_pool_reading(graduated[mint], reading, sol_usd=sol_usd)
        return records

    async def current_states(self, curves: list[str]) -> tuple[dict[str, CurveState], float | None]:
        """Bonding curves with `getMultipleAccounts`, 100 a call, and the SOL/USD price (None when
        stale), read beside them when the price in hand is older than `PRICE_REFRESH_SECONDS`."""
        groups = [curves[i : i + ACCOUNTS_PER_CALL] for i in range(0, len(curves), ACCOUNTS_PER_CALL)]
        calls = [self.curve_states(group, with_price=False) for group in groups]
        if self.clock() - self._price_read_at > PRICE_REFRESH_SECONDS:
            # Pages read ahead ask at once: one read of the price serves them all.
            if self._price_read is None or self._price_read.done():
                self._price_read = asyncio.ensure_future(self.curve_states([], with_price=True))
                # Its askers may all be gone (cancelled) when it fails: its error is theirs, not the log's.
                self._price_read.add_done_callback(_collect_outcome)
            calls.append(asyncio.shield(self._price_read))
        results = await asyncio.gather(*calls)
        states: dict[str, CurveState] = {}
        for found in results[: len(groups)]:
            states.update(found)
        return states, fresh_usd_price(self._price, now_seconds=self.clock())

    async def curve_states(self, curves: list[str], *, with_price: bool = True) -> dict[str, Any]:
        keys = [*curves, self.pyth_account] if with_price else list(curves)
        result = await self.rpc.call("getMultipleAccounts", [keys, {"encoding": "base64", "commitment": "confirmed"}])
        values = result.get("value") if isinstance(result, dict) else None
        if not isinstance(values, list) or len(values) != len(keys):
            raise ChainError("getMultipleAccounts answered with the wrong number of accounts")
        states = {}
        for key, account in zip(curves, values, strict=False):
            data = _account_bytes(account)
            if data is None:
                continue
            try:
                states[key] = decode_curve(data)
            except InvalidAccount as exc:
                logger.warning("bonding curve %s: %s", key, exc)
        if with_price:
            self._price_read_at = self.clock()
            self._price = self._decode_price(values[-1])
        return states

    def _decode_price(self, account: Any) -> Price | None:
        data = _account_bytes(account)
        if data is None:
            logger.warning("SOL/USD price account %s not found: USD values stay unknown", self.pyth_account)
            return None
        try:
            return decode_pyth_price(data)
        except InvalidAccount as exc:
            logger.warning("SOL/USD price account: %s", exc)
            return None

    # -- live tail --------------------------------------------------------------------------------

    async def follow(
        self, *, last: str, done: list[str] | None = None, idle_seconds: float = 1.0, poll_seconds: float = 5.0
    ) -> AsyncIterator[list[Launch]]:
        """New launches after signature `last`, oldest first, forever; an empty page every
        `idle_seconds` without news, so the caller can check whether to stop."""
        tail = _Tail(self, last=last, idle_seconds=idle_seconds, poll_seconds=poll_seconds)
        if done:
            yield await self._tail_records([await self._one(last)], skip=done)
        async for page in tail.pages():
            yield page

    async def _one(self, signature: str) -> DecodedTransaction:
        [decoded] = await self._transactions([signature])
        return decoded

    async def newest_signature(self) -> str | None:
        entries = await self.rpc.call(
            "getSignaturesForAddress", [MINT_AUTHORITY, {"limit": 1, "commitment": "confirmed"}]
        )
        return entries[0]["signature"] if isinstance(entries, list) and entries else None

    async def signatures_after(self, last: str | None) -> list[str]:
        """Successful signatures newer than `last`, oldest first."""
        if last is None:
            # Nothing seen yet (an empty window): from now on.
            self_newest = await self.newest_signature()
            return [] if self_newest is None else [self_newest]
        newer: list[dict[str, Any]] = []
        before = None
        while True:
            options: dict[str, Any] = {"limit": SIGNATURE_PAGE, "until": last, "commitment": "confirmed"}
            if before is not None:
                options["before"] = before
            entries = await self.rpc.call("getSignaturesForAddress", [MINT_AUTHORITY, options])
            if not isinstance(entries, list):
                raise ChainError("getSignaturesForAddress did not answer with a list")
            newer += entries
            if len(entries) < SIGNATURE_PAGE:
                break
            before = entries[-1]["signature"]
        return [entry["signature"] for entry in reversed(newer) if entry.get("err") is None]

    async def _tail_records(self, decoded_list: list[DecodedTransaction], *, skip: list[str] = ()) -> list[Launch]:
        records = []
        for decoded in decoded_list:
            delivered: list[str] = []
            for index, record in enumerate(launch_records(decoded, source=RECENT)):
                key = record_key(record, index)
                delivered.append(key)
                record.position = {"phase": TAIL_PHASE, "last": decoded.signature, "done": list(delivered)}
                if key not in skip:
                    records.append(record)
        return records


class _Tail:
    """One live tail: the websocket when there is one, polling otherwise, gap-filled either way."""

    def __init__(self, source: ChainSource, *, last: str, idle_seconds: float, poll_seconds: float) -> None:
        self.source = source
        self.last = last
        self.idle = idle_seconds
        self.poll = poll_seconds
        self.recent: OrderedDict[str, None] = OrderedDict()  # signatures already handled
        self.backoff = 0.5
        self.malformed = 0  # websocket frames skipped because they could not be read

    def _handled(self, signature: str) -> bool:
        return signature in self.recent

    def _remember(self, signature: str) -> None:
        self.recent[signature] = None
        self.last = signature
        while len(self.recent) > 20_000:
            self.recent.popitem(last=False)

    async def pages(self) -> AsyncIterator[list[Launch]]:
        while True:
            if self.source.ws_url:
                try:
                    async for page in self._websocket():
                        yield page
                except (TimeoutError, OSError, websockets.WebSocketException, ChainError) as exc:
                    logger.warning("chain tail: websocket lost (%s); filling the gap and reconnecting", _describe(exc))
                    async for page in self._gap():
                        yield page
                    await asyncio.sleep(self.backoff)
                    self.backoff = min(self.backoff * 2, 30.0)
                    yield []
                continue
            async for page in self._gap():
                yield page
            deadline = time.monotonic() + self.poll
            while time.monotonic() < deadline:
                await asyncio.sleep(min(self.idle, max(0.0, deadline - time.monotonic())))
                yield []

    async def _gap(self) -> AsyncIterator[list[Launch]]:
        signatures = [s for s in await self.source.signatures_after(self.last) if not self._handled(s)]
        for index in range(0, len(signatures), self.source.rpc.batch_size):
            chunk = signatures[index : index + self.source.rpc.batch_size]
            decoded = await self.source._transactions(chunk)
            records = await self.source._tail_records(decoded)
            for signature in chunk:
                self._remember(signature)
            if records:
                yield records

    async def _websocket(self) -> AsyncIterator[list[Launch]]:
        async with websockets.connect(self.source.ws_url, open_timeout=10, max_size=8 * 2**20) as ws:
            await ws.send(orjson.dumps(_subscribe_request()).decode())
            await _subscription_id(ws)
            self.backoff = 0.5
            # Subscribed first, then the gap: a launch in between arrives both ways and is taken once.
            async for page in self._gap():
                yield page
            while True:
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=self.idle)
                except TimeoutError:
                    yield []
                    continue
                page = await self._notification(raw)
                if page:
                    yield page

    async def _notification(self, raw: Any) -> list[Launch]:
        """The launches one frame announces. A frame that is not a notification we can read costs
        itself only: it is counted and skipped (said once per tail); the gap fill after any
        reconnect, and the signature list, still bring whatever it might have held."""
        value, slot = _notification_value(raw)
        if value is None:
            self.malformed += 1
            if self.malformed == 1:
                logger.warning("chain tail: skipped a websocket frame that is not a logs notification: %r", raw[:120])
            return []
        if not value:
            return []
        signature = value.get("signature")
        if not isinstance(signature, str) or self._handled(signature):
            return []
        if value.get("err") is not None:
            self._remember(signature)
            return []
        decoded = decode_logs(signature, value.get("logs") or [], slot=slot)
        if decoded.logs_truncated or decoded.invalid or any(e.timestamp is None for e in decoded.events):
            # The logs were cut (the event may be missing), or an event does not parse from them, or
            # an old layout needs the block time: the transaction has it all.
            decoded = await self.source._one(signature)
        self._remember(signature)
        return await self.source._tail_records([decoded]) if decoded.events or decoded.invalid else []


class _LaunchPace:
    """Launches a second in the window, from what was read so far (the opening page, then every
    slice read), to size the next slices. Launches come at a few a second, unevenly over a day: a
    slice that holds more pages than planned is only read with less overlap, one that holds fewer
    costs a short last page."""

    def __init__(self, opening: list[DecodedTransaction]) -> None:
        times = [d.block_time for d in opening if d.block_time is not None]
        self.count = len(times)
        self.seconds = max(times) - min(times) + 1 if times else 1
        self.quiet = 0

    def saw(self, count: int, seconds: int) -> None:
        self.count += count
        self.seconds += max(1, seconds)
        # An empty range says little of the average, much about what is next: quiet time (or the
        # start of the provider's history), crossed in doubling steps.
        self.quiet = max(1, seconds) if count == 0 else 0

    def seconds_for(self, launches: int) -> int:
        return max(1, round(launches * self.seconds / max(1, self.count)), 2 * self.quiet)


def _check_range(decoded: list[DecodedTransaction], *, lt: int) -> None:
    """A provider that ignores `lt` would have every range read from the window's newest transaction
    down (the window many times over, at its price): the run stops with the reason. (A transaction
    just past the end, from a provider that applies the filter loosely, is only left out.)"""
    if any(d.block_time is not None and d.block_time >= lt + _CLOCK_SLACK_SECONDS for d in decoded):
        raise ChainError(
            "getTransactionsForAddress ignored the blockTime filter's `lt`; resume the run to go on by signatures"
        )


def _within(block_time: int | None, gte: int, lt: int) -> bool:
    """In the range; a transaction without a block time (the filter should not let one through)
    cannot be placed in one, and would otherwise come with every range."""
    return block_time is not None and gte <= block_time < lt


def _collect_outcome(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


async def _in_order(jobs: AsyncIterator[Awaitable[list]]) -> AsyncIterator[list]:
    """Yield the jobs' results in order: the first job alone, and nothing more started until the
    consumer is done with its page (stored and broadcast: the first rows on a page wait for no
    speculative request at the provider, nor for another page's decoding on this CPU), then up to
    READ_AHEAD_CHUNKS jobs ahead."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=READ_AHEAD_CHUNKS)
    first_done = asyncio.Event()

    async def produce() -> None:
        try:
            async for job in jobs:
                task = asyncio.ensure_future(job)
                # A job that fails while a later one is being awaited, and is then cancelled unread,
                # would log "exception never retrieved": its error is the consumer's, or nobody's.
                task.add_done_callback(_collect_outcome)
                try:
                    await queue.put(task)
                    if queue.qsize() == 1 and not first_done.is_set():
                        await first_done.wait()
                except BaseException:
                    task.cancel()
                    raise
            await queue.put(None)
        except Exception as exc:  # handed to the consumer, after the jobs before it
            await queue.put(exc)

    producer = asyncio.ensure_future(produce())
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            page = await item
            yield page
            first_done.set()  # the consumer asks for more: its first page is handled
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer
        while not queue.empty():
            item = queue.get_nowait()
            if isinstance(item, asyncio.Future):
                item.cancel()


def _notification_value(raw: Any) -> tuple[dict[str, Any] | None, int | None]:
    """A `logsNotification`'s `value` and slot; {} for another message (the subscription's answer, a
    ping), None for a frame that is not readable JSON-RPC."""
    try:
        message = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        return None, None
    if not isinstance(message, dict):
        return None, None
    if message.get("method") != "logsNotification":
        return {}, None
    params = message.get("params")
    result = params.get("result") if isinstance(params, dict) else None
    value = result.get("value") if isinstance(result, dict) else None
    if not isinstance(value, dict) or not value:
        return None, None
    context = result.get("context")
    slot = context.get("slot") if isinstance(context, dict) else None
    return value, slot if isinstance(slot, int) and not isinstance(slot, bool) else None


class _FullPage(msgspec.Struct, gc=False):
    """A `getTransactionsForAddress` page of whole transactions, as `transactions.TypedTransaction`
    reads them (a page with any other transaction in it is read as JSON)."""

    data: list[TypedTransaction]
    paginationToken: str | None = None


_FULL_PAGE = TypedAnswer(_FullPage)


def _typed_page(page: _FullPage) -> tuple[list[DecodedTransaction], Any]:
    # Each transaction with the signature a JSON page hands beside it (`_signature_of`).
    decoded = [decode_view(typed_view(tx, signature=(tx.transaction.signatures or ["?"])[0])) for tx in page.data]
    return decoded, page.paginationToken


def _json_page(result: Any) -> tuple[list[DecodedTransaction], Any]:
    transactions = result.get("data") if isinstance(result, dict) else None
    if not isinstance(transactions, list):
        raise ChainError("getTransactionsForAddress did not answer with a list of transactions")
    return [_decode(_signature_of(tx), tx) for tx in transactions], result.get("paginationToken")


def _signature_of(tx: Any) -> str:
    try:
        return tx["transaction"]["signatures"][0]
    except (KeyError, IndexError, TypeError):
        return "?"


def _subscribe_request() -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "logsSubscribe",
        "params": [{"mentions": [MINT_AUTHORITY]}, {"commitment": "confirmed"}],
    }


async def _subscription_id(ws) -> int:
    answer = orjson.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    if not isinstance(answer, dict) or answer.get("error") is not None or "result" not in answer:
        raise ChainError(f"logsSubscribe was refused: {str(answer)[:200]}")
    return answer["result"]


def _decode(signature: str, answer: Any) -> DecodedTransaction:
    if isinstance(answer, RpcCallError):
        return DecodedTransaction(
            signature=signature, slot=None, block_time=None, failed=False, invalid=[f"{signature}: {answer}"]
        )
    return decode_transaction(answer, signature=signature)


def _account_bytes(account: Any) -> bytes | None:
    if not isinstance(account, dict):
        return None
    data = account.get("data")
    if not isinstance(data, list) or len(data) != 2 or data[1] != "base64" or not isinstance(data[0], str):
        return None
    try:
        return base64.b64decode(data[0], validate=True)
    except (binascii.Error, ValueError):
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200] if str(exc) else type(exc).__name__


__all__ = ["CHAIN_PHASE", "TAIL_PHASE", "ChainError", "ChainSource", "RpcError"]
