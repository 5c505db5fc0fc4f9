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
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import websockets

from tokens.upstream.chain.addresses import MINT_AUTHORITY, PYTH_SOL_USD_ACCOUNT
from tokens.upstream.chain.curve import (
    InvalidAccount,
    Price,
    decode_curve,
    decode_pyth_price,
    fresh_usd_price,
)
from tokens.upstream.chain.events import DecodedTransaction, decode_transaction, pump_log_payloads
from tokens.upstream.chain.launches import (
    POSITION_KEY,
    apply_curve_state,
    launch_records,
    record_key,
)
from tokens.upstream.chain.rpc import MethodNotFound, RpcCallError, RpcError, SolanaRpc
from tokens.upstream.reach import Reach

logger = logging.getLogger(__name__)

SIGNATURE_PAGE = 1000
ACCOUNTS_PER_CALL = 100
TRANSACTIONS_PER_CALL = 100  # getTransactionsForAddress, full transactions
READ_AHEAD_CHUNKS = 8
CHAIN_PHASE = "chain"
TAIL_PHASE = "tail"
RECENT = "recent"
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

    # -- backfill -------------------------------------------------------------------------------

    async def backfill(self, *, cutoff_s: int, start: dict[str, Any] | None) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of launch records in the window, newest first, each with its resume position."""
        if start is not None:
            head = start["head"]
            yield await self._rest_of(start["at"], done=start.get("done") or [], head=head)
            chunks = self._signature_chunks(cutoff_s=cutoff_s, before=start["at"])
            async for page in self._standard_pages(chunks, head=head):
                yield page
            return
        if await self._offers_transactions_for_address():
            async for page in self._full_transaction_pages(cutoff_s=cutoff_s):
                yield page
            return
        async for page in self._standard_pages(self._signature_chunks(cutoff_s=cutoff_s, before=None), head=None):
            yield page

    async def _offers_transactions_for_address(self) -> bool:
        if self.uses_transactions_for_address is None:
            try:
                await self.rpc.call(
                    "getTransactionsForAddress", [MINT_AUTHORITY, {"transactionDetails": "signatures", "limit": 1}]
                )
                self.uses_transactions_for_address = True
            except MethodNotFound:
                self.uses_transactions_for_address = False
            except RpcCallError as exc:
                logger.info("getTransactionsForAddress is not usable here (%s); reading signatures instead", exc)
                self.uses_transactions_for_address = False
        return self.uses_transactions_for_address

    async def _signature_chunks(self, *, cutoff_s: int, before: str | None) -> AsyncIterator[list[str]]:
        """Signatures of successful transactions in the window, newest first, in chunks of the
        RPC's batch size; a failed create (`err` set) is skipped without being fetched."""
        while True:
            options: dict[str, Any] = {"limit": SIGNATURE_PAGE, "commitment": "confirmed"}
            if before is not None:
                options["before"] = before
            entries = await self.rpc.call("getSignaturesForAddress", [MINT_AUTHORITY, options])
            if not isinstance(entries, list):
                raise ChainError("getSignaturesForAddress did not answer with a list")
            if not entries:
                return  # the start of the chain's history (or of what this node keeps)
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
            for index in range(0, len(inside), self.rpc.batch_size):
                yield inside[index : index + self.rpc.batch_size]
            if done:
                return
            before = entries[-1]["signature"]

    async def _standard_pages(
        self, chunks: AsyncIterator[list[str]], *, head: str | None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Fetch chunks of transactions ahead of the consumer, yield them in order."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=READ_AHEAD_CHUNKS)

        async def produce() -> None:
            try:
                async for signatures in chunks:
                    await queue.put(asyncio.ensure_future(self._transactions(signatures)))
                await queue.put(None)
            except Exception as exc:  # handed to the consumer, in order
                await queue.put(exc)

        producer = asyncio.ensure_future(produce())
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, Exception):
                    raise item
                decoded_list = await item
                if head is None and decoded_list:
                    head = decoded_list[0].signature
                yield await self._with_state(self._records(decoded_list, head=head))
        finally:
            producer.cancel()
            while not queue.empty():
                item = queue.get_nowait()
                if isinstance(item, asyncio.Future):
                    item.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer

    async def _full_transaction_pages(self, *, cutoff_s: int) -> AsyncIterator[list[dict[str, Any]]]:
        token: str | None = None
        head: str | None = None
        while True:
            options: dict[str, Any] = {
                "transactionDetails": "full",
                "sortOrder": "desc",
                "limit": TRANSACTIONS_PER_CALL,
                "filters": {"blockTime": {"gte": cutoff_s}, "status": "succeeded"},
                **_TX_OPTIONS,
            }
            if token:
                options["paginationToken"] = token
            result = await self.rpc.call("getTransactionsForAddress", [MINT_AUTHORITY, options])
            transactions = result.get("data") if isinstance(result, dict) else None
            if not isinstance(transactions, list):
                raise ChainError("getTransactionsForAddress did not answer with a list of transactions")
            decoded_list = [decode_transaction(tx) for tx in transactions if isinstance(tx, dict)]
            for decoded in decoded_list:
                if decoded.block_time is not None:
                    self.reach.saw(decoded.block_time * 1000)
            if head is None and decoded_list:
                head = decoded_list[0].signature
            if decoded_list:
                yield await self._with_state(self._records(decoded_list, head=head))
            token = result.get("paginationToken")
            if not token or not transactions:
                # The provider applied the window's start as a filter: running out of pages is reaching it.
                self.reach.reached_start = True
                return

    async def _rest_of(self, signature: str, *, done: list[str], head: str) -> list[dict[str, Any]]:
        """The records of a transaction a resumed run had only partly delivered."""
        [decoded] = await self._transactions([signature])
        records = self._records([decoded], head=head)
        return await self._with_state([r for r in records if r[POSITION_KEY]["done"][-1] not in done])

    def _records(self, decoded_list: list[DecodedTransaction], *, head: str | None) -> list[dict[str, Any]]:
        records = []
        for decoded in decoded_list:
            delivered: list[str] = []
            for index, record in enumerate(launch_records(decoded, source=RECENT)):
                delivered.append(record_key(record, index))
                record[POSITION_KEY] = {
                    "phase": CHAIN_PHASE,
                    "head": head,
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

    async def _with_state(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Current market cap, progress and graduation of each launch, read from its bonding curve
        with `getMultipleAccounts` (the SOL/USD price account rides along in each call)."""
        launches = [r for r in records if isinstance(r.get("bonding_curve"), str)]
        per_call = ACCOUNTS_PER_CALL - 1
        for index in range(0, len(launches), per_call):
            group = launches[index : index + per_call]
            states, price = await self.curve_states([r["bonding_curve"] for r in group])
            sol_usd = fresh_usd_price(price, now_seconds=self.clock())
            for record in group:
                apply_curve_state(record, states.get(record["bonding_curve"]), sol_usd=sol_usd)
        return records

    async def curve_states(self, curves: list[str]) -> tuple[dict[str, Any], Price | None]:
        keys = [*curves, self.pyth_account]
        result = await self.rpc.call("getMultipleAccounts", [keys, {"encoding": "base64", "commitment": "confirmed"}])
        values = result.get("value") if isinstance(result, dict) else None
        if not isinstance(values, list) or len(values) != len(keys):
            raise ChainError("getMultipleAccounts answered with the wrong number of accounts")
        states = {}
        for key, account in zip(curves, values[:-1], strict=True):
            data = _account_bytes(account)
            if data is None:
                continue
            try:
                states[key] = decode_curve(data)
            except InvalidAccount as exc:
                logger.warning("bonding curve %s: %s", key, exc)
        price = None
        price_data = _account_bytes(values[-1])
        if price_data is not None:
            try:
                price = decode_pyth_price(price_data)
            except InvalidAccount as exc:
                logger.warning("SOL/USD price account: %s", exc)
        return states, price

    async def sol_usd(self) -> float | None:
        _, price = await self.curve_states([])
        return fresh_usd_price(price, now_seconds=self.clock())

    # -- live tail --------------------------------------------------------------------------------

    async def follow(
        self, *, last: str, done: list[str] | None = None, idle_seconds: float = 1.0, poll_seconds: float = 5.0
    ) -> AsyncIterator[list[dict[str, Any]]]:
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

    async def _tail_records(
        self, decoded_list: list[DecodedTransaction], *, skip: list[str] = ()
    ) -> list[dict[str, Any]]:
        records = []
        for decoded in decoded_list:
            delivered: list[str] = []
            for index, record in enumerate(launch_records(decoded, source=RECENT)):
                key = record_key(record, index)
                delivered.append(key)
                record[POSITION_KEY] = {"phase": TAIL_PHASE, "last": decoded.signature, "done": list(delivered)}
                if key not in skip:
                    records.append(record)
        return await self._with_state(records)


class _Tail:
    """One live tail: the websocket when there is one, polling otherwise, gap-filled either way."""

    def __init__(self, source: ChainSource, *, last: str, idle_seconds: float, poll_seconds: float) -> None:
        self.source = source
        self.last = last
        self.idle = idle_seconds
        self.poll = poll_seconds
        self.recent: OrderedDict[str, None] = OrderedDict()  # signatures already handled
        self.backoff = 0.5

    def _handled(self, signature: str) -> bool:
        return signature in self.recent

    def _remember(self, signature: str) -> None:
        self.recent[signature] = None
        self.last = signature
        while len(self.recent) > 20_000:
            self.recent.popitem(last=False)

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
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

    async def _gap(self) -> AsyncIterator[list[dict[str, Any]]]:
        signatures = [s for s in await self.source.signatures_after(self.last) if not self._handled(s)]
        for index in range(0, len(signatures), self.source.rpc.batch_size):
            chunk = signatures[index : index + self.source.rpc.batch_size]
            decoded = await self.source._transactions(chunk)
            records = await self.source._tail_records(decoded)
            for signature in chunk:
                self._remember(signature)
            if records:
                yield records

    async def _websocket(self) -> AsyncIterator[list[dict[str, Any]]]:
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

    async def _notification(self, raw: Any) -> list[dict[str, Any]]:
        message = orjson.loads(raw)
        if not isinstance(message, dict) or message.get("method") != "logsNotification":
            return []
        value = (((message.get("params") or {}).get("result") or {}).get("value")) or {}
        signature = value.get("signature")
        if not isinstance(signature, str) or self._handled(signature):
            return []
        if value.get("err") is not None:
            self._remember(signature)
            return []
        payloads, truncated = pump_log_payloads(value.get("logs") or [])
        if not payloads and not truncated:
            self._remember(signature)  # mentions the mint authority, creates nothing
            return []
        # The logs hold the event, but not the block time (old layouts need it) nor anything the
        # truncation cut: the transaction is the record either way.
        decoded = await self.source._one(signature)
        self._remember(signature)
        return await self.source._tail_records([decoded])


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
    if not isinstance(answer, dict) or not isinstance(answer.get("transaction"), dict):
        return DecodedTransaction(
            signature=signature, slot=None, block_time=None, failed=False, invalid=[f"{signature}: not a transaction"]
        )
    try:
        return decode_transaction(answer)
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        return DecodedTransaction(
            signature=signature, slot=None, block_time=None, failed=False,
            invalid=[f"{signature}: transaction does not parse ({type(exc).__name__})"],
        )  # fmt: skip


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
