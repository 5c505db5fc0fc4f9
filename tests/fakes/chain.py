"""A fake Solana JSON-RPC provider (HTTP and websocket, real sockets) holding pump.fun launches.

It speaks the real encodings: base58 keys and signatures, base58 instruction data, base64 account
data and `Program data:` lines, borsh CreateEvents of every layout, log sequences with nested
invokes. Its traps are switched on per launch (`Launch` fields) or per server (attributes).
"""

import base64
import bisect
import contextlib
import hashlib
import json
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from based58 import b58encode
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

from tests.fakes.das import FakeDas
from tests.fakes.http import Reply
from tests.fakes.trades import ROUTER, Curve, TradeTx
from tokens.sources.chain.addresses import (
    AMM_EVENT_AUTHORITY,
    EVENT_AUTHORITY,
    MINT_AUTHORITY,
    PUMP_AMM_PROGRAM,
    PUMP_PROGRAM,
    PYTH_SOL_USD_ACCOUNT,
    SYSTEM_PROGRAM,
    TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
    USDC_MINT,
)
from tokens.sources.chain.curve import CURVE_DISCRIMINATOR
from tokens.sources.chain.events import ANCHOR_EVENT_TAG, CREATE_EVENT_DISCRIMINATOR

COMPUTE_BUDGET = "ComputeBudget111111111111111111111111111111"
# Raydium LaunchLab stands in for "another program that emits a CreateEvent with the same discriminator".
LAUNCHLAB = "LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj"
LAUNCHER_BOT = "BoTxQ1sKyXyxCjM4ZeJmBLRhdBDkeuw7V2TpZL8pxmY1"
LAYOUTS = ("2024", "apr2025", "may2025", "nov2025", "feb2026", "may2026", "sep2026", "newest")
START_VIRTUAL_TOKENS = 1_073_000_000_000_000
START_VIRTUAL_SOL = 30_000_000_000
START_REAL_TOKENS = 793_100_000_000_000
SUPPLY = 1_000_000_000_000_000


def key_for(label: str) -> str:
    return b58encode(hashlib.sha256(label.encode()).digest()).decode()


def signature_for(label: str) -> str:
    digest = hashlib.sha512(label.encode()).digest()
    return b58encode(digest).decode()


@dataclass
class Launch:
    """One create transaction on the fake chain, and how it is written."""

    index: int
    block_time: int
    name: str = ""
    symbol: str = ""
    uri: str = ""
    layout: str = "newest"
    emit: str = "both"  # "both", "inner" (logs truncated), "logs" (no self-CPI event)
    version: Any = 0  # 0 or "legacy"
    program_from_lookup: bool = False  # the pump program's key comes from an address lookup table
    launcher_bot: bool = False  # created through another program, pump invoked at depth 2
    quote: str = "SOL"
    supply: int = SUPPLY
    mint: str = ""
    bonding_curve: str = ""
    creator: str = ""
    signature: str = ""
    kind: str = "create"  # "create", "failed", "noop" (mentions the mint authority, creates nothing), "lookalike"
    extra_launches: int = 0  # more creates in the same transaction
    garbled: bool = False  # the event payload is cut short

    def __post_init__(self) -> None:
        self.name = self.name or f"Chain coin {self.index}"
        self.symbol = self.symbol or f"CC{self.index}"
        self.uri = self.uri or f"https://ipfs.io/ipfs/Qm{self.index:044d}"
        self.mint = self.mint or key_for(f"mint-{self.index}")
        self.bonding_curve = self.bonding_curve or key_for(f"curve-{self.index}")
        self.creator = self.creator or key_for(f"creator-{self.index}")
        self.signature = self.signature or signature_for(f"sig-{self.index}-{self.kind}")

    @property
    def quote_mint(self) -> str | None:
        return USDC_MINT if self.quote == "USDC" else None

    @property
    def virtual_quote(self) -> int:
        return 4_292_000_000 if self.quote == "USDC" else START_VIRTUAL_SOL

    def sibling(self, number: int) -> "Launch":
        return Launch(
            index=self.index * 1000 + number, block_time=self.block_time, layout=self.layout,
            mint=key_for(f"mint-{self.index}-{number}"), bonding_curve=key_for(f"curve-{self.index}-{number}"),
            signature=self.signature,
        )  # fmt: skip


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<I", len(data)) + data


def _key(address: str | None) -> bytes:
    from solders.pubkey import Pubkey

    return bytes(32) if address is None else bytes(Pubkey.from_string(address))


def create_event_payload(launch: Launch) -> bytes:
    """discriminator + borsh payload, with the fields the launch's layout had."""
    at = LAYOUTS.index(launch.layout)
    data = CREATE_EVENT_DISCRIMINATOR + _string(launch.name) + _string(launch.symbol) + _string(launch.uri)
    data += _key(launch.mint) + _key(launch.bonding_curve) + _key(launch.creator)
    if at >= 1:
        data += _key(launch.creator) + struct.pack("<q", launch.block_time)
    if at >= 2:
        data += struct.pack("<4Q", START_VIRTUAL_TOKENS, START_VIRTUAL_SOL, START_REAL_TOKENS, launch.supply)
    if at >= 3:
        data += _key(TOKEN_2022_PROGRAM) + b"\x00"
    if at >= 4:
        data += b"\x00"
    if at >= 5:
        data += _key(launch.quote_mint) + struct.pack("<Q", launch.virtual_quote)
    if at >= 6:
        data += struct.pack("<Q", 95) + b"\x01"
    if at >= 7:
        data += b"\x02"
    if launch.garbled:
        data = data[:60]
    return data


def trade_event_payload(launch: Launch) -> bytes:
    """The developer's first buy in the create transaction (1 SOL, or 1 USDC for a USDC coin)."""
    curve = Curve(
        mint=launch.mint, creator=launch.creator, virtual_quote=launch.virtual_quote, quote_mint=launch.quote_mint
    )
    return curve.buy(
        launch.creator, 1_000_000_000 if launch.quote == "SOL" else 1_000_000, at=launch.block_time
    ).payload()


def curve_account(
    *,
    virtual_tokens: int = START_VIRTUAL_TOKENS,
    virtual_quote: int = START_VIRTUAL_SOL,
    real_tokens: int = START_REAL_TOKENS,
    real_quote: int = 0,
    supply: int = SUPPLY,
    complete: bool = False,
    quote_mint: str | None = None,
    length: int = 151,
) -> bytes:
    data = CURVE_DISCRIMINATOR + struct.pack("<5Q", virtual_tokens, virtual_quote, real_tokens, real_quote, supply)
    data += bytes([1 if complete else 0]) + _key(key_for("curve-creator")) + b"\x00\x00" + _key(quote_mint)
    data += bytes(max(0, length - len(data)))
    return data[:length]


def pyth_account(*, price_usd: float, publish_time: int) -> bytes:
    exponent = -8
    price = round(price_usd * 10**8)
    data = bytes(8) + _key(key_for("pyth-writer")) + b"\x01" + bytes(32)
    data += struct.pack("<qQiqq", price, 5_000_000, exponent, publish_time, publish_time - 1)
    data += struct.pack("<qQQ", price, 5_000_000, 1)
    return data


def _log_lines(launch: Launch, launches: list[Launch]) -> list[str]:
    """A realistic log: compute budget, the create (system and token programs nested), the event
    line while pump is innermost, the self-CPI, then a first buy with its TradeEvent."""
    lines = [f"Program {COMPUTE_BUDGET} invoke [1]", f"Program {COMPUTE_BUDGET} success"]
    depth = 1
    if launch.launcher_bot:
        lines += [f"Program {LAUNCHER_BOT} invoke [1]", "Program log: bundling a launch"]
        depth = 2
    for each in launches:
        lines += [
            f"Program {PUMP_PROGRAM} invoke [{depth}]",
            "Program log: Instruction: Create",
            f"Program {SYSTEM_PROGRAM} invoke [{depth + 1}]",
            f"Program {SYSTEM_PROGRAM} success",
            f"Program {TOKEN_PROGRAM} invoke [{depth + 1}]",
            "Program log: Instruction: InitializeMint2",
            f"Program {TOKEN_PROGRAM} consumed 2780 of 180000 compute units",
            f"Program {TOKEN_PROGRAM} success",
        ]
        if launch.emit != "inner":
            lines.append("Program data: " + base64.b64encode(create_event_payload(each)).decode())
        lines += [
            f"Program {PUMP_PROGRAM} invoke [{depth + 1}]",
            f"Program {PUMP_PROGRAM} consumed 2003 of 150000 compute units",
            f"Program {PUMP_PROGRAM} success",
            f"Program {PUMP_PROGRAM} consumed 90000 of 200000 compute units",
            f"Program {PUMP_PROGRAM} success",
        ]
    lines += [
        f"Program {PUMP_PROGRAM} invoke [{depth}]",
        "Program log: Instruction: Buy",
        "Program data: " + base64.b64encode(trade_event_payload(launch)).decode(),
        f"Program {PUMP_PROGRAM} success",
    ]
    if launch.launcher_bot:
        # The bot logs an event of its own that happens to carry the CreateEvent discriminator.
        lines += [
            "Program data: "
            + base64.b64encode(create_event_payload(Launch(index=launch.index + 77_000, block_time=1))).decode(),
            f"Program {LAUNCHER_BOT} success",
        ]
    if launch.emit == "inner":
        lines = [*lines[:6], "Log truncated"]
    return lines


def _lookalike_logs(launch: Launch) -> list[str]:
    """Raydium LaunchLab's own CreateEvent: same discriminator, another program."""
    fake = Launch(index=launch.index + 50_000, block_time=launch.block_time)
    return [
        f"Program {LAUNCHLAB} invoke [1]",
        "Program log: Instruction: Initialize",
        "Program data: " + base64.b64encode(create_event_payload(fake)).decode(),
        f"Program {LAUNCHLAB} invoke [2]",
        f"Program {LAUNCHLAB} success",
        f"Program {LAUNCHLAB} success",
    ]


_HEADER = {"numRequiredSignatures": 1, "numReadonlySignedAccounts": 0, "numReadonlyUnsignedAccounts": 1}


def trade_transaction_json(tx: TradeTx, *, slot: int) -> dict[str, Any]:
    """A transaction of trades as `getTransaction` (`json`) answers it: version 0, the pump program
    and its event authority from an address lookup table, a router's CPI when it has one."""
    payer = key_for(f"payer-{tx.signature[:12]}")
    static = [payer, COMPUTE_BUDGET] + ([ROUTER] if tx.router else [])
    readonly = [EVENT_AUTHORITY, PUMP_PROGRAM, AMM_EVENT_AUTHORITY, PUMP_AMM_PROGRAM]
    index = {key: position for position, key in enumerate(static + readonly)}
    instructions = [
        {"programIdIndex": index[program], "accounts": [index[authority]],
         "data": b58encode(ANCHOR_EVENT_TAG + payload).decode(), "stackHeight": 3 if tx.router else 2}
        for program, authority, payloads in (
            (PUMP_PROGRAM, EVENT_AUTHORITY, tx.inner_payloads()),
            (PUMP_AMM_PROGRAM, AMM_EVENT_AUTHORITY, tx.amm if tx.emit != "logs" else []),
        )
        for payload in payloads
    ]  # fmt: skip
    return {
        "slot": slot,
        "blockTime": tx.block_time,
        "version": 0,
        "meta": {
            "err": None, "fee": 5000, "logMessages": tx.log_lines(),
            "innerInstructions": [{"index": 1, "instructions": instructions}] if instructions else [],
            "loadedAddresses": {"writable": [], "readonly": readonly}, "preBalances": [], "postBalances": [],
        },
        "transaction": {
            "signatures": [tx.signature],
            "message": {
                "accountKeys": static,
                "header": _HEADER,
                "instructions": [{"programIdIndex": 2 if tx.router else len(static), "accounts": [0], "data": "3Bxs"}],
                "recentBlockhash": key_for(f"blockhash-{tx.signature[:12]}"),
                "addressTableLookups": [
                    {"accountKey": key_for("lookup-table"), "writableIndexes": [], "readonlyIndexes": [0, 1, 2, 3]}
                ],
            },
        },
    }  # fmt: skip


def transaction_json(launch: "Launch | TradeTx", *, slot: int) -> dict[str, Any]:
    """`getTransaction` with `encoding: json`, `maxSupportedTransactionVersion: 0`."""
    if isinstance(launch, TradeTx):
        return trade_transaction_json(launch, slot=slot)
    payer = key_for(f"payer-{launch.index}")
    static = [payer, launch.mint, launch.bonding_curve, MINT_AUTHORITY, SYSTEM_PROGRAM, TOKEN_PROGRAM, COMPUTE_BUDGET]
    lookup_writable: list[str] = []
    lookup_readonly: list[str] = []
    if launch.program_from_lookup and launch.version == 0:
        lookup_readonly = [EVENT_AUTHORITY, PUMP_PROGRAM]
    else:
        static += [EVENT_AUTHORITY, PUMP_PROGRAM]
    if launch.kind == "lookalike":
        static += [LAUNCHLAB]
    if launch.launcher_bot:
        static += [LAUNCHER_BOT]
    keys = static + lookup_writable + lookup_readonly
    index = {key: position for position, key in enumerate(keys)}
    launches = [launch] + [launch.sibling(n) for n in range(1, launch.extra_launches + 1)]
    inner = []
    logs: list[str]
    if launch.kind == "create":
        logs = _log_lines(launch, launches)
        if launch.emit != "logs":
            instructions = []
            for each in launches:
                data = ANCHOR_EVENT_TAG + create_event_payload(each)
                instructions.append(
                    {"programIdIndex": index[PUMP_PROGRAM], "accounts": [index[EVENT_AUTHORITY]],
                     "data": b58encode(data).decode(), "stackHeight": 2}
                )  # fmt: skip
            trade = ANCHOR_EVENT_TAG + trade_event_payload(launch)
            instructions.append(
                {"programIdIndex": index[PUMP_PROGRAM], "accounts": [index[EVENT_AUTHORITY]],
                 "data": b58encode(trade).decode(), "stackHeight": 2}
            )  # fmt: skip
            inner = [{"index": 1, "instructions": instructions}]
    elif launch.kind == "lookalike":
        logs = _lookalike_logs(launch)
        data = ANCHOR_EVENT_TAG + create_event_payload(Launch(index=launch.index + 50_000, block_time=1))
        inner = [{"index": 0, "instructions": [
            {"programIdIndex": index[LAUNCHLAB], "accounts": [index[EVENT_AUTHORITY]],
             "data": b58encode(data).decode(), "stackHeight": 2}]}]  # fmt: skip
    else:  # noop or failed
        logs = [f"Program {COMPUTE_BUDGET} invoke [1]", f"Program {COMPUTE_BUDGET} success"]
    meta: dict[str, Any] = {
        "err": {"InstructionError": [1, {"Custom": 6000}]} if launch.kind == "failed" else None,
        "fee": 5000,
        "logMessages": logs,
        "innerInstructions": inner,
        "preBalances": [],
        "postBalances": [],
    }
    if launch.version == 0:
        meta["loadedAddresses"] = {"writable": lookup_writable, "readonly": lookup_readonly}
    message: dict[str, Any] = {
        "accountKeys": static,
        "header": {"numRequiredSignatures": 1, "numReadonlySignedAccounts": 0, "numReadonlyUnsignedAccounts": 3},
        "instructions": [
            {"programIdIndex": index.get(PUMP_PROGRAM, 0), "accounts": [1, 2, 3], "data": "3Bxs4h24hBtQy9rw"}
        ],
        "recentBlockhash": key_for(f"blockhash-{launch.index}"),
    }
    if launch.version == 0:
        message["addressTableLookups"] = (
            [{"accountKey": key_for("lookup-table"), "writableIndexes": [], "readonlyIndexes": [0, 1]}]
            if lookup_readonly
            else []
        )
    return {
        "slot": slot,
        "blockTime": launch.block_time,
        "version": launch.version,
        "meta": meta,
        "transaction": {"signatures": [launch.signature], "message": message},
    }


@dataclass
class _Entry:
    launch: Launch
    slot: int


@dataclass
class Subscriber:
    connection: Any
    subscription: int
    mentions: str = MINT_AUTHORITY


class FakeSolana(FakeDas):
    """The ledger holds entries oldest first; the RPC answers newest first like the real one."""

    def __init__(self, *, latency: float = 0.0, sol_usd: float = 150.0) -> None:
        super().__init__(latency=latency)
        self.entries: list[_Entry] = []
        self._in_time_order = True  # entries added oldest first by block time (pages are then found by bisection)
        self.by_signature: dict[str, int] = {}
        self.accounts: dict[str, bytes] = {}
        self.owners: dict[str, str] = {}  # an account's owner program; the pump program if not named
        self.sol_usd = sol_usd
        self.price_published: int | None = None  # None: now
        self.refuse_batches = False
        self.refuse_status: int | None = None
        self.refuse_batches_status = 400
        self.offer_transactions_for_address = False
        self.null_first: set[str] = set()  # signatures answered null on their first getTransaction
        self.asked: dict[str, int] = {}
        self.served_whole: dict[str, int] = {}  # transactions handed over by getTransactionsForAddress
        # getTransactionsForAddress oddities: "ignores-lt", "empty-first-pages", "endless-empty", "repeats-pages"
        self.whole_quirk: str | None = None
        self._quirk_pages = 0
        self.method_calls: dict[str, int] = {}
        self.http_posts = 0
        self.posts: list[tuple[str, int, Any]] = []  # per HTTP post: method, calls in it, first params
        self.allowed_calls_per_second: float | None = None
        self._bucket = 0.0
        self._bucket_at = time.monotonic()
        self.before_call: Callable[[FakeSolana, str], None] | None = None
        self.gap_lists_read = 0  # signature lists read "until" a signature (a tail filling its gap)
        self.failing_method: str | None = None  # answered with a JSON-RPC internal error while set
        self.subscribers: list[Subscriber] = []
        self._ws_server = None
        self._ws_thread: threading.Thread | None = None
        self.notifications_sent = 0
        self.truncate_notification_logs = False
        self.holder_latency = 0.0  # seconds per getTokenAccounts, beside the HTTP latency
        self.follow_program = False  # accept logsSubscribe mentioning the pump program (the trade stream)

    # -- the ledger ---------------------------------------------------------------------------------

    def add(self, *launches: Launch, notify: bool = True) -> None:
        with self.lock:
            for launch in launches:
                slot = 300_000_000 + len(self.entries)
                self.by_signature[launch.signature] = len(self.entries)
                self._note_time(launch.block_time)
                self.entries.append(_Entry(launch=launch, slot=slot))
                if launch.kind in ("create",):
                    for each in [launch] + [launch.sibling(n) for n in range(1, launch.extra_launches + 1)]:
                        self.accounts.setdefault(
                            each.bonding_curve,
                            curve_account(
                                quote_mint=launch.quote_mint, virtual_quote=launch.virtual_quote, supply=launch.supply
                            ),
                        )
        if notify:
            for launch in launches:
                self._notify(launch)

    def add_trades(self, *txs: TradeTx, notify: bool = True, slot: int | None = None) -> None:
        """Transactions of trades, in this order on the ledger (and to the program's subscribers), each
        in a slot of its own unless `slot` puts them all in one."""
        with self.lock:
            for tx in txs:
                self.by_signature[tx.signature] = len(self.entries)
                self._note_time(tx.block_time)
                self.entries.append(_Entry(launch=tx, slot=slot or 300_000_000 + len(self.entries)))
        if notify:
            for tx in txs:
                self._notify(tx)

    def _note_time(self, block_time: int) -> None:
        if self.entries and block_time < self.entries[-1].launch.block_time:
            self._in_time_order = False

    def slot_of(self, signature: str) -> int:
        return self.entries[self.by_signature[signature]].slot

    def set_curve(self, bonding_curve: str, data: bytes) -> None:
        with self.lock:
            self.accounts[bonding_curve] = data

    def set_account(self, key: str, data: bytes, *, owner: str) -> None:
        with self.lock:
            self.accounts[key] = data
            self.owners[key] = owner

    # -- HTTP JSON-RPC ------------------------------------------------------------------------------

    def handle(self, method, path, query, body, headers) -> Reply:
        if method != "POST":
            return Reply(405, {"message": "POST only"})
        request = json.loads(body)
        with self.lock:
            self.http_posts += 1
        if self.refuse_status is not None:  # a provider that refuses the key, whatever is sent
            return Reply(self.refuse_status, {"error": "invalid api key"})
        calls = len(request) if isinstance(request, list) else 1
        first = (request[0] if request else {}) if isinstance(request, list) else request
        if isinstance(first, dict):
            with self.lock:
                self.posts.append((first.get("method"), calls, first.get("params")))
        if self.latency:
            time.sleep(self.latency)
        if not self._take(calls):
            return Reply(429, {"jsonrpc": "2.0", "error": {"code": 429, "message": "Too many requests"}})
        if isinstance(request, list):
            if self.refuse_batches:
                return Reply(
                    self.refuse_batches_status,
                    {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {"code": -32600, "message": "batch requests are not allowed"},
                    },
                )
            return Reply(200, [self._answer(item) for item in request])
        return Reply(200, self._answer(request))

    def _take(self, calls: int) -> bool:
        if self.allowed_calls_per_second is None:
            return True
        with self.lock:
            now = time.monotonic()
            rate = self.allowed_calls_per_second
            self._bucket = max(0.0, self._bucket - (now - self._bucket_at) * rate)
            self._bucket_at = now
            if self._bucket + calls > rate * 1.0 + 1e-9 and self._bucket > 0:
                return False
            self._bucket += calls
            return True

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        rid = request.get("id")
        name = request.get("method")
        with self.lock:
            self.method_calls[name] = self.method_calls.get(name, 0) + 1
        if self.before_call is not None:
            self.before_call(self, name)
        if name == self.failing_method:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32603, "message": "Internal error"}}
        handler = {
            "getSignaturesForAddress": self._signatures,
            "getTransaction": self._transaction,
            "getMultipleAccounts": self._multiple_accounts,
            "getTransactionsForAddress": self._transactions_for_address,
        }.get(name)
        if name == "getTokenAccounts":
            time.sleep(self.holder_latency)
            return json.loads(FakeDas.handle(self, "POST", "/", {}, json.dumps(request).encode(), {}).body)
        if handler is None or (name == "getTransactionsForAddress" and not self.offer_transactions_for_address):
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}
        result = handler(request.get("params") or [])
        if isinstance(result, _Error):
            return {"jsonrpc": "2.0", "id": rid, "error": result.error}
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    def _signatures(self, params: list[Any]) -> Any:
        address, options = params[0], (params[1] if len(params) > 1 else {})
        if address not in (MINT_AUTHORITY, PUMP_PROGRAM, PUMP_AMM_PROGRAM):
            return []
        limit = min(int(options.get("limit", 1000)), 1000)
        with self.lock:
            top = self.by_signature[options["before"]] if options.get("before") else len(self.entries)
            floor = self.by_signature[options["until"]] + 1 if options.get("until") else 0
            mentioning = [e for e in self.entries[floor:top] if address in _mentions(e.launch)]
            chosen = mentioning[-limit:][::-1]
            if options.get("until"):
                self.gap_lists_read += 1  # a tail's gap fill has seen the ledger as it is now
        return [
            {"signature": e.launch.signature, "slot": e.slot, "blockTime": e.launch.block_time, "memo": None,
             "err": {"InstructionError": [1, {"Custom": 6000}]} if e.launch.kind == "failed" else None,
             "confirmationStatus": "finalized"}
            for e in chosen
        ]  # fmt: skip

    def _transaction(self, params: list[Any]) -> Any:
        signature, options = params[0], (params[1] if len(params) > 1 else {})
        with self.lock:
            position = self.by_signature.get(signature)
            self.asked[signature] = self.asked.get(signature, 0) + 1
            first = self.asked[signature] == 1
        if position is None:
            return None
        entry = self.entries[position]
        if entry.launch.version == 0 and options.get("maxSupportedTransactionVersion") is None:
            return _Error({"code": -32015, "message": "Transaction version (0) is not supported"})
        if first and signature in self.null_first:
            return None
        return self._whole(entry)

    def _transactions_for_address(self, params: list[Any]) -> Any:
        address, options = params[0], params[1]
        if address != MINT_AUTHORITY:
            return {"data": [], "paginationToken": None}
        if options.get("transactionDetails") == "signatures":
            window = (options.get("filters") or {}).get("blockTime") or {}
            gte, lt = window.get("gte", 0), window.get("lt")
            with self.lock:
                chosen = [
                    e for e in reversed(self.entries[: self._below(lt)])
                    if e.launch.block_time >= gte and (lt is None or e.launch.block_time < lt)
                ][: int(options.get("limit", 1))]  # fmt: skip
            return {"data": [{"signature": e.launch.signature, "slot": e.slot, "blockTime": e.launch.block_time,
                              "err": None} for e in chosen], "paginationToken": None}  # fmt: skip
        limit = min(int(options.get("limit", 100)), 100)
        window = (options.get("filters") or {}).get("blockTime") or {}
        gte, lt = window.get("gte", 0), (None if self.whole_quirk == "ignores-lt" else window.get("lt"))
        with self.lock:
            self._quirk_pages += 1
            if self.whole_quirk == "empty-first-pages" and not options.get("paginationToken"):
                # A provider that scans a stretch a call may answer a page of nothing that goes on.
                return {"data": [], "paginationToken": str(self._below(lt))}
            if self.whole_quirk == "endless-empty":
                return {"data": [], "paginationToken": f"{self._below(lt)}-{self._quirk_pages}"}
            if self.whole_quirk == "repeats-pages":  # every page the range's first, under a new token
                options = {**options, "paginationToken": None}
            start = int(str(options.get("paginationToken") or self._below(lt)).split("-")[0])
            out, position = [], start
            while position > 0 and len(out) < limit:
                position -= 1
                entry = self.entries[position]
                if entry.launch.block_time < gte:
                    position = 0
                    break
                if entry.launch.kind not in ("failed", "trades") and (lt is None or entry.launch.block_time < lt):
                    out.append(self._whole(entry))
                    self.served_whole[entry.launch.signature] = self.served_whole.get(entry.launch.signature, 0) + 1
        if self.whole_quirk == "repeats-pages" and position > 0:
            return {"data": out, "paginationToken": f"{position}-{self._quirk_pages}"}
        return {"data": out, "paginationToken": str(position) if position > 0 else None}

    def _whole(self, entry: "_Entry") -> dict[str, Any]:
        """An entry's transaction as `getTransaction` answers it (the benchmark's fake makes them ahead)."""
        return transaction_json(entry.launch, slot=entry.slot)

    def _below(self, lt: int | None) -> int:
        """How many entries come before block time `lt` (all without it); the ledger is in block
        time order when its entries were added so, and then this is a bisection."""
        if lt is None:
            return len(self.entries)
        if self._in_time_order:
            return bisect.bisect_left(self.entries, lt, key=lambda entry: entry.launch.block_time)
        return len(self.entries)  # the walk skips what is at or after `lt`

    def _multiple_accounts(self, params: list[Any]) -> Any:
        keys = params[0]
        if len(keys) > 100:
            return _Error({"code": -32602, "message": "Too many inputs provided; max 100"})
        values = []
        for key in keys:
            if key == PYTH_SOL_USD_ACCOUNT:
                published = int(time.time()) if self.price_published is None else self.price_published
                data = pyth_account(price_usd=self.sol_usd, publish_time=published)
            else:
                with self.lock:
                    data = self.accounts.get(key)
            with self.lock:
                owner = self.owners.get(key, PUMP_PROGRAM)
            values.append(
                None
                if data is None
                else {"data": [base64.b64encode(data).decode(), "base64"], "owner": owner,
                      "lamports": 1_000_000, "executable": False, "rentEpoch": 0, "space": len(data)}
            )  # fmt: skip
        return {"context": {"slot": 300_000_000 + len(self.entries)}, "value": values}

    # -- websocket ----------------------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        host, port = self._ws_server.socket.getsockname()[:2]
        return f"ws://{host}:{port}"

    def start(self) -> "FakeSolana":
        super().start()
        self._ws_server = serve(self._ws_session, "127.0.0.1", 0)
        self._ws_thread = threading.Thread(target=self._ws_server.serve_forever, daemon=True)
        self._ws_thread.start()
        return self

    def stop(self) -> None:
        if self._ws_server is not None:
            self._ws_server.shutdown()
        super().stop()

    def _ws_session(self, connection) -> None:
        subscription = None
        try:
            for raw in connection:
                request = json.loads(raw)
                if request.get("method") == "logsSubscribe":
                    mentions = request["params"][0].get("mentions")
                    followed = [[PUMP_PROGRAM], [PUMP_AMM_PROGRAM]]
                    if mentions != [MINT_AUTHORITY] and not (self.follow_program and mentions in followed):
                        error = {"code": -32602, "message": "Invalid params"}
                        connection.send(json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error}))
                        continue
                    subscription = 4000 + len(self.subscribers)
                    connection.send(json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "result": subscription}))
                    with self.lock:
                        self.subscribers.append(Subscriber(connection, subscription, mentions[0]))
        except ConnectionClosed:
            pass
        finally:
            with self.lock:
                self.subscribers = [s for s in self.subscribers if s.connection is not connection]

    def _notify(self, launch: "Launch | TradeTx") -> None:
        entry = self.entries[self.by_signature[launch.signature]]
        tx = transaction_json(launch, slot=entry.slot)
        logs = tx["meta"]["logMessages"]
        if self.truncate_notification_logs:
            logs = [*logs[:4], "Log truncated"]
        with self.lock:
            # Creates mention the mint authority and the program; trades their program only.
            subscribers = [s for s in self.subscribers if s.mentions in _mentions(launch)]
        for subscriber in subscribers:
            message = {
                "jsonrpc": "2.0",
                "method": "logsNotification",
                "params": {
                    "result": {"context": {"slot": entry.slot},
                               "value": {"signature": launch.signature, "err": tx["meta"]["err"], "logs": logs}},
                    "subscription": subscriber.subscription,
                },
            }  # fmt: skip
            try:
                subscriber.connection.send(json.dumps(message))
                self.notifications_sent += 1
            except ConnectionClosed:
                pass

    def send_raw(self, frame: str | bytes) -> None:
        """A frame as it is, to every subscriber (a provider's garbage, a half-written message)."""
        with self.lock:
            subscribers = list(self.subscribers)
        for subscriber in subscribers:
            with contextlib.suppress(ConnectionClosed):
                subscriber.connection.send(frame)

    def drop_websockets(self) -> None:
        """Every subscriber's connection lost, as a network drop loses it: no closing handshake."""
        with self.lock:
            subscribers, self.subscribers = list(self.subscribers), []
        for subscriber in subscribers:
            subscriber.connection.close_socket()


def _mentions(entry: "Launch | TradeTx") -> set[str]:
    """The addresses a transaction mentions that a subscription or a signature list can ask for."""
    return entry.mentions() if isinstance(entry, TradeTx) else {MINT_AUTHORITY, PUMP_PROGRAM}


@dataclass
class _Error:
    error: dict[str, Any] = field(default_factory=dict)


def history(
    count: int, *, newest_s: int | None = None, spacing_s: int = 60, start: int = 0, **overrides: Any
) -> list[Launch]:
    """`count` launches, oldest first, the newest at `newest_s`."""
    newest = int(time.time()) - 5 if newest_s is None else newest_s
    return [Launch(index=start + i, block_time=newest - (count - 1 - i) * spacing_s, **overrides) for i in range(count)]
