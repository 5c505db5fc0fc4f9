"""pump.fun's `CreateEvent`, found in a transaction and decoded from its borsh bytes.

Pure functions over bytes and the `json` encoding of `getTransaction`; no network. The event is
emitted two ways, often both: a self-CPI inner instruction of the pump program (Anchor's event tag,
then the discriminator, then the payload) and a `Program data:` log line. Logs can be truncated,
and other programs write `Program data:` lines too (Raydium LaunchLab's `CreateEvent` even has the
same discriminator), so a log line counts only while the pump program is innermost in the invoke
stack.
"""

import base64
import binascii
import struct
from dataclasses import dataclass, field
from typing import Any

from solders.pubkey import Pubkey

from tokens.sources.chain.addresses import EVENT_AUTHORITY, PUMP_PROGRAM
from tokens.sources.chain.transactions import TransactionShapeError, TransactionView, view_of

CREATE_EVENT_DISCRIMINATOR = bytes.fromhex("1b72a94ddeeb6376")  # sha256("event:CreateEvent")[:8]
ANCHOR_EVENT_TAG = bytes.fromhex("e445a52e51cb9a1d")  # Anchor's self-CPI event instruction
MAX_STRING_BYTES = 4096  # real names are a few dozen bytes; a longer length prefix is garbage


class InvalidEvent(ValueError):
    """A CreateEvent payload that does not parse; never guessed at."""


@dataclass(frozen=True, slots=True)
class CreateEvent:
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
    events: list[CreateEvent] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # payloads that did not parse, with the reason
    logs_truncated: bool = False


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.at

    def take(self, size: int) -> bytes:
        if size > self.remaining:
            raise InvalidEvent(f"payload ends {size - self.remaining} bytes early at byte {self.at}")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def string(self) -> str:
        (length,) = struct.unpack("<I", self.take(4))
        if length > MAX_STRING_BYTES:
            raise InvalidEvent(f"string length {length} at byte {self.at - 4} is not plausible")
        try:
            return self.take(length).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEvent(f"string at byte {self.at - length} is not UTF-8") from exc

    def key(self) -> str:
        return str(Pubkey(self.take(32)))

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def i64(self) -> int:
        return struct.unpack("<q", self.take(8))[0]

    def flag(self) -> bool:
        value = self.take(1)[0]
        if value > 1:
            raise InvalidEvent(f"bool at byte {self.at - 1} is {value}")
        return value == 1


# Fields appended to the event over time, in groups that arrived together. A group is read only when
# the payload holds all of it; a payload that ends inside a group is invalid; what is left after the
# last known group is a newer layout's and ignored.
_GROUPS: tuple[tuple[tuple[str, str, int], ...], ...] = (
    (("creator", "key", 32), ("timestamp", "i64", 8)),  # by April 2025
    (
        ("virtual_token_reserves", "u64", 8),
        ("virtual_sol_reserves", "u64", 8),
        ("real_token_reserves", "u64", 8),
        ("token_total_supply", "u64", 8),
    ),  # May 2025
    (("token_program", "key", 32), ("is_mayhem_mode", "flag", 1)),  # November 2025
    (("is_cashback_enabled", "flag", 1),),  # February 2026
    (("quote_mint", "key", 32), ("virtual_quote_reserves", "u64", 8)),  # May 2026
)
_ZERO_KEY = str(Pubkey(bytes(32)))


def parse_create_event(payload: bytes) -> CreateEvent:
    """The event's fields from its borsh payload (after the 8-byte discriminator)."""
    reader = _Reader(payload)
    values: dict[str, Any] = {
        "name": reader.string(),
        "symbol": reader.string(),
        "uri": reader.string(),
        "mint": reader.key(),
        "bonding_curve": reader.key(),
        "user": reader.key(),
    }
    for group in _GROUPS:
        size = sum(size for _, _, size in group)
        if reader.remaining == 0:
            break  # an older layout ends here
        if reader.remaining < size:
            # Cut inside a group of fields that arrived together: not a layout, a broken payload.
            raise InvalidEvent(f"payload ends {size - reader.remaining} bytes early, inside {group[0][0]}")
        for name, kind, _ in group:
            values[name] = getattr(reader, kind)()
    if values.get("quote_mint") == _ZERO_KEY:
        values["quote_mint"] = None
    return CreateEvent(**values)


def create_event_from_log_data(data: bytes) -> CreateEvent | None:
    """A `Program data:` payload: the event if it is a CreateEvent, None if it is another event."""
    if not data.startswith(CREATE_EVENT_DISCRIMINATOR):
        return None
    return parse_create_event(data[len(CREATE_EVENT_DISCRIMINATOR) :])


def decode_transaction(tx: Any, *, signature: str | None = None) -> DecodedTransaction:
    """The pump.fun launches in one transaction (any encoding `transactions.view_of` reads). Never
    raises: a transaction that is not one comes back with the reason in `invalid`."""
    try:
        view = view_of(tx, signature=signature)
    except TransactionShapeError as exc:
        name = signature or "?"
        return DecodedTransaction(signature=name, slot=None, block_time=None, failed=False, invalid=[f"{name}: {exc}"])
    decoded = DecodedTransaction(
        signature=view.signature, slot=view.slot, block_time=view.block_time, failed=view.failed
    )
    if decoded.failed:
        return decoded
    log_payloads, decoded.logs_truncated = pump_log_payloads(view.logs)
    payloads = [p for p in log_payloads if p.startswith(CREATE_EVENT_DISCRIMINATOR)]
    # Complete logs that hold the event are enough (base64 decodes ten times faster than the base58
    # of the inner instructions); truncated logs, or a program version that emits the event only by
    # self-CPI, send us to the inner instructions. The same event often comes both ways, byte for
    # byte: a copy is neither a second launch nor a second invalid record.
    if decoded.logs_truncated or not payloads:
        payloads = [*_inner_event_payloads(view), *payloads]
    found: dict[str, CreateEvent] = {}
    for payload in dict.fromkeys(payloads):
        _collect(payload, found, decoded)
    decoded.events = list(found.values())
    return decoded


def decode_logs(signature: str, logs: Any, *, slot: int | None = None) -> DecodedTransaction:
    """The launches a `logsNotification` shows: its logs only, no inner instructions, no block time."""
    return decode_transaction(
        {"slot": slot, "blockTime": None, "meta": {"err": None, "logMessages": logs},
         "transaction": {"signatures": [signature], "message": {"accountKeys": []}}}
    )  # fmt: skip


def _collect(payload: bytes, found: dict[str, CreateEvent], decoded: DecodedTransaction) -> None:
    try:
        event = create_event_from_log_data(payload)
    except InvalidEvent as exc:
        decoded.invalid.append(f"{decoded.signature}: CreateEvent does not parse: {exc}")
        return
    if event is not None and event.mint not in found:
        found[event.mint] = event


def _inner_event_payloads(view: TransactionView) -> list[bytes]:
    """Events the pump program emitted by self-CPI: its own instruction, the event authority first,
    Anchor's event tag before the event."""
    payloads = []
    for instruction in view.inner_instructions():
        if instruction.program != PUMP_PROGRAM or not instruction.accounts:
            continue
        if instruction.accounts[0] != EVENT_AUTHORITY or instruction.data is None:
            continue
        if instruction.data.startswith(ANCHOR_EVENT_TAG):
            payloads.append(instruction.data[len(ANCHOR_EVENT_TAG) :])
    return payloads


def pump_log_payloads(logs: list[str]) -> tuple[list[bytes], bool]:
    """`Program data:` payloads written while the pump program was innermost, and whether the
    logs were truncated (then an event may be missing from them)."""
    stack: list[str] = []
    payloads: list[bytes] = []
    truncated = False
    for line in logs:
        if not isinstance(line, str):
            continue
        if line.startswith("Program data: "):
            if stack and stack[-1] == PUMP_PROGRAM:
                data = _b64(line[len("Program data: ") :])
                if data is not None:
                    payloads.append(data)
        elif line.startswith("Program ") and line.endswith("]") and " invoke [" in line:
            stack.append(line.split(" ", 2)[1])
        elif line.startswith("Program ") and (line.endswith(" success") or " failed: " in line):
            program = line.split(" ", 2)[1]
            if stack and stack[-1] == program:
                stack.pop()
        elif line.startswith("Log truncated"):
            truncated = True
    return payloads, truncated


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
