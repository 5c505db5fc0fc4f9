"""pump.fun's events found in a transaction: launches (`CreateEvent`), trades, graduations and
migrations, each decoded from its borsh bytes.

Pure functions over bytes and the encodings `transactions.view_of` reads; no network. Every event is
emitted two ways, often both: a self-CPI inner instruction of the pump program (Anchor's event tag,
then the discriminator, then the payload) and a `Program data:` log line. Logs can be truncated,
and other programs write `Program data:` lines too (Raydium LaunchLab's `CreateEvent` even has the
same discriminator), so a log line counts only while the pump program is innermost in the invoke
stack. Trades made through routers, bots or the Mayhem program are CPIs into pump: the same rule
finds them.
"""

import binascii
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tokens.sources.chain.addresses import AMM_EVENT_AUTHORITY, EVENT_AUTHORITY, PUMP_AMM_PROGRAM, PUMP_PROGRAM
from tokens.sources.chain.amm import (
    AMM_BUY_EVENT_DISCRIMINATOR,
    AMM_SELL_EVENT_DISCRIMINATOR,
    AmmTradeEvent,
    parse_amm_buy_event,
    parse_amm_sell_event,
)
from tokens.sources.chain.borsh import EventLayout, Group, InvalidEvent
from tokens.sources.chain.trades import (
    COMPLETE_EVENT_DISCRIMINATOR,
    MIGRATION_EVENT_DISCRIMINATOR,
    TRADE_EVENT_DISCRIMINATOR,
    CompleteEvent,
    MigrationEvent,
    TradeEvent,
    parse_complete_event,
    parse_migration_event,
    parse_trade_event,
)
from tokens.sources.chain.transactions import TransactionShapeError, TransactionView, view_of

CREATE_EVENT_DISCRIMINATOR = bytes.fromhex("1b72a94ddeeb6376")  # sha256("event:CreateEvent")[:8]
ANCHOR_EVENT_TAG = bytes.fromhex("e445a52e51cb9a1d")  # Anchor's self-CPI event instruction


class CreateEvent(msgspec.Struct, frozen=True, gc=False):
    # A msgspec Struct, as TradeEvent (trades.py): made for every launch, and made faster.
    name: str
    symbol: str
    uri: str
    mint: str
    bonding_curve: str
    user: str
    creator: str | None = None
    timestamp: int | None = None  # seconds since the epoch
    virtual_token_reserves: int | None = None
    virtual_sol_reserves: int | None = None
    real_token_reserves: int | None = None
    token_total_supply: int | None = None
    token_program: str | None = None
    is_mayhem_mode: bool | None = None
    is_cashback_enabled: bool | None = None
    quote_mint: str | None = None  # None: SOL (the layout writes all zeros)
    virtual_quote_reserves: int | None = None


@dataclass
class DecodedTransaction:
    signature: str
    slot: int | None
    block_time: int | None  # seconds
    failed: bool
    events: list[CreateEvent] = field(default_factory=list)  # launches, one per mint
    trades: list[TradeEvent] = field(default_factory=list)  # in the order they happened
    completes: list[CompleteEvent] = field(default_factory=list)
    migrations: list[MigrationEvent] = field(default_factory=list)
    amm_trades: list[AmmTradeEvent] = field(default_factory=list)  # PumpSwap's, in the order they happened
    invalid: list[str] = field(default_factory=list)  # launches that did not parse, with the reason
    invalid_events: list[str] = field(default_factory=list)  # other events that did not parse
    logs_truncated: bool = False


_CREATE_BASE: Group = (
    ("name", "string"), ("symbol", "string"), ("uri", "string"), ("mint", "key"), ("bonding_curve", "key"),
    ("user", "key"),
)  # fmt: skip
# Fields appended to the event over time, in groups that arrived together.
_CREATE_GROUPS: tuple[Group, ...] = (
    (("creator", "key"), ("timestamp", "i64")),  # by April 2025
    (
        ("virtual_token_reserves", "u64"), ("virtual_sol_reserves", "u64"), ("real_token_reserves", "u64"),
        ("token_total_supply", "u64"),
    ),  # May 2025
    (("token_program", "key"), ("is_mayhem_mode", "flag")),  # November 2025
    (("is_cashback_enabled", "flag"),),  # February 2026
    (("quote_mint", "key"), ("virtual_quote_reserves", "u64")),  # May 2026
)  # fmt: skip


_CREATE = EventLayout(CreateEvent, _CREATE_BASE, _CREATE_GROUPS, none_if_zero="quote_mint")


def parse_create_event(payload: bytes) -> CreateEvent:
    """The event's fields from its borsh payload (after the 8-byte discriminator)."""
    return _CREATE.read(payload)


def create_event_from_log_data(data: bytes) -> CreateEvent | None:
    """A `Program data:` payload: the event if it is a CreateEvent, None if it is another event."""
    if not data.startswith(CREATE_EVENT_DISCRIMINATOR):
        return None
    return parse_create_event(data[len(CREATE_EVENT_DISCRIMINATOR) :])


# (program, discriminator) -> (event name, parser, the DecodedTransaction list it joins)
_KINDS = {
    (PUMP_PROGRAM, CREATE_EVENT_DISCRIMINATOR): ("CreateEvent", parse_create_event, "events"),
    (PUMP_PROGRAM, TRADE_EVENT_DISCRIMINATOR): ("TradeEvent", parse_trade_event, "trades"),
    (PUMP_PROGRAM, COMPLETE_EVENT_DISCRIMINATOR): ("CompleteEvent", parse_complete_event, "completes"),
    (PUMP_PROGRAM, MIGRATION_EVENT_DISCRIMINATOR): (
        "CompletePumpAmmMigrationEvent", parse_migration_event, "migrations",
    ),
    (PUMP_AMM_PROGRAM, AMM_BUY_EVENT_DISCRIMINATOR): ("PumpSwap BuyEvent", parse_amm_buy_event, "amm_trades"),
    (PUMP_AMM_PROGRAM, AMM_SELL_EVENT_DISCRIMINATOR): ("PumpSwap SellEvent", parse_amm_sell_event, "amm_trades"),
}  # fmt: skip
# The programs whose events are read, each with the event authority its self-CPI names first.
EVENT_PROGRAMS = {PUMP_PROGRAM: EVENT_AUTHORITY, PUMP_AMM_PROGRAM: AMM_EVENT_AUTHORITY}


def decode_transaction(tx: Any, *, signature: str | None = None) -> DecodedTransaction:
    """The pump.fun events of one transaction (any encoding `transactions.view_of` reads). Never
    raises: a transaction that is not one comes back with the reason in `invalid`."""
    try:
        view = view_of(tx, signature=signature)
    except TransactionShapeError as exc:
        name = signature or "?"
        return DecodedTransaction(signature=name, slot=None, block_time=None, failed=False, invalid=[f"{name}: {exc}"])
    return decode_view(view)


def decode_view(view: TransactionView) -> DecodedTransaction:
    """The pump.fun events of a transaction as `transactions` reads it."""
    decoded = DecodedTransaction(
        signature=view.signature, slot=view.slot, block_time=view.block_time, failed=view.failed
    )
    if decoded.failed:
        return decoded  # a failed transaction changed nothing, whatever its logs say
    log_payloads, decoded.logs_truncated = program_log_payloads(view.logs)
    log_payloads = [(program, p) for program, p in log_payloads if (program, p[:8]) in _KINDS]
    # Complete logs that hold events are enough (base64 decodes ten times faster than the base58 of
    # the inner instructions); truncated logs, or a program version that emits events only by
    # self-CPI, send us to the inner instructions too.
    payloads = log_payloads
    if decoded.logs_truncated or not log_payloads:
        payloads = merge_copies(_inner_event_payloads(view), log_payloads)
    for program, payload in payloads:
        _collect(program, payload, decoded)
    return decoded


def merge_copies(inner: list, logged: list) -> list:
    """The events of both channels, each event once. The same event usually arrives both ways, byte
    for byte, and two real events of one transaction can be byte-identical too: an event is counted
    as often as the channel that shows it most often, in the inner instructions' order (they are
    never truncated) with what only the logs hold after them."""
    result = list(inner)
    extra = Counter(logged) - Counter(inner)
    for payload in logged:
        if extra[payload] > 0:
            extra[payload] -= 1
            result.append(payload)
    return result


def decode_logs(signature: str, logs: Any, *, slot: int | None = None) -> DecodedTransaction:
    """The events a `logsNotification` shows: its logs only, no inner instructions, no block time."""
    return decode_transaction(
        {"slot": slot, "blockTime": None, "meta": {"err": None, "logMessages": logs},
         "transaction": {"signatures": [signature], "message": {"accountKeys": []}}}
    )  # fmt: skip


def _collect(program: str, payload: bytes, decoded: DecodedTransaction) -> None:
    kind = _KINDS.get((program, payload[:8]))
    if kind is None:
        return
    name, parse, into = kind
    try:
        event = parse(payload[8:])
    except InvalidEvent as exc:
        reasons = decoded.invalid if into == "events" else decoded.invalid_events
        reasons.append(f"{decoded.signature}: {name} does not parse: {exc}")
        return
    found = getattr(decoded, into)
    if into == "events" and any(known.mint == event.mint for known in found):
        return  # a launch is its mint: a second CreateEvent of it in one transaction is a copy
    found.append(event)


def _inner_event_payloads(view: TransactionView) -> list[tuple[str, bytes]]:
    """Events pump and PumpSwap emitted by self-CPI: the program's own instruction, its event
    authority first, Anchor's event tag before the event."""
    payloads = []
    for instruction in view.inner_instructions():
        authority = EVENT_PROGRAMS.get(instruction.program)
        if authority is None or not instruction.accounts:
            continue
        if instruction.accounts[0] != authority or instruction.data is None:
            continue
        if instruction.data.startswith(ANCHOR_EVENT_TAG):
            payloads.append((instruction.program, instruction.data[len(ANCHOR_EVENT_TAG) :]))
    return payloads


def pump_log_payloads(logs: list[str]) -> tuple[list[bytes], bool]:
    """`Program data:` payloads written while the pump program was innermost, and whether the
    logs were truncated (then an event may be missing from them)."""
    payloads, truncated = program_log_payloads(logs)
    return [payload for program, payload in payloads if program == PUMP_PROGRAM], truncated


def program_log_payloads(logs: list[str]) -> tuple[list[tuple[str, bytes]], bool]:
    """`Program data:` payloads written while pump or PumpSwap was innermost, each with its program,
    and whether the logs were truncated (then an event may be missing from them)."""
    stack: list[str] = []
    payloads: list[tuple[str, bytes]] = []
    truncated = False
    kinds = _LINE_KINDS
    for line in logs:
        if not isinstance(line, str):
            continue
        # A data line and a program's own log line are told by their start (as `_line_kind` tells
        # them), before hashing a long line to look it up.
        if line.startswith("Program data: "):
            code = _DATA
        elif line.startswith("Program log: "):
            continue
        else:
            kind = kinds.get(line)
            if kind is None:
                kind = _line_kind(line)
                if kind[0] in _KEPT_KINDS and len(line) <= _LINE_KEPT_CHARS:
                    if len(kinds) >= _LINE_KINDS_KEPT:
                        kinds.clear()
                    kinds[line] = kind
            code, program = kind
        if code == _DATA:
            if stack and stack[-1] in EVENT_PROGRAMS:
                data = _b64(line[len("Program data: ") :])
                if data is not None:
                    payloads.append((stack[-1], data))
        elif code == _INVOKE:
            stack.append(program)
        elif code == _EXIT:
            if stack and stack[-1] == program:
                stack.pop()
        elif code == _TRUNCATED:
            truncated = True
    return payloads, truncated


# What a log line is to the walk above, by its text alone. The invoke and exit lines ("Program …
# invoke [1]", "Program … success") recur in every transaction: each is read once and remembered.
# The others are not kept: a data line is one event's, and "consumed N of M compute units" differs
# from one transaction to the next (kept, it would fill the table every few hundred). Bounded: short
# lines only, and forgotten all at once when there are too many.
_OTHER, _TRUNCATED, _DATA, _INVOKE, _EXIT = range(5)
_KEPT_KINDS = frozenset({_INVOKE, _EXIT, _TRUNCATED})
_LINE_KINDS: dict[str, tuple[int, str]] = {}
_LINE_KINDS_KEPT = 4096
_LINE_KEPT_CHARS = 200


def _line_kind(line: str) -> tuple[int, str]:
    """The line's kind, and the program an invoke or exit line names."""
    if not line.startswith("Program "):
        return (_TRUNCATED, "") if line.startswith("Log truncated") else (_OTHER, "")
    if line.startswith("data: ", 8):
        return _DATA, ""
    if line.startswith("log: ", 8):
        return _OTHER, ""  # what a program wrote: never the runtime's invoke or success line, whatever it says
    if line.endswith("]") and " invoke [" in line:
        return _INVOKE, line.split(" ", 2)[1]
    if line.endswith(" success") or " failed: " in line:
        return _EXIT, line.split(" ", 2)[1]
    return _OTHER, ""


def _b64(text: str) -> bytes | None:
    try:  # base64.b64decode(validate=True) without its wrapper (an ASCII str is read as it is)
        return binascii.a2b_base64(text.strip(), strict_mode=True)
    except (binascii.Error, ValueError):
        return None
