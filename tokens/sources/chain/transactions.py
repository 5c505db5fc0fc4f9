"""What the decoders read of a transaction, whatever encoding it came in.

`getTransaction` answers in `json` (keys as strings, instruction data base58), `jsonParsed` (keys as
objects, lookup-table keys listed among the account keys, known programs' instructions parsed) or
`base64`/`base58` (the transaction as bytes, its meta as JSON); Yellowstone gRPC recordings carry keys and
data as byte arrays. The loader asks for `json`; the others are read so that every real recording
in ../shared/real decodes, and so that a provider answering in another encoding still works.

Every field is hostile: a shape this module does not know is a `TransactionShapeError`, a field of
the wrong type is read as absent, and nothing else is raised.
"""

import base64
import binascii
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any

import msgspec
from based58 import b58decode, b58encode

KEY_BYTES = 32
# `getBlock`/`getTransaction` wire encodings: base64, and base58 (also called "binary" in old answers).
_WIRE_ENCODINGS = ("base64", "base58", "binary")


class TransactionShapeError(ValueError):
    """Not a transaction in any encoding this module reads."""


@dataclass(frozen=True, slots=True)
class InnerInstruction:
    program: str | None
    accounts: tuple[str | None, ...]
    data: bytes | None


@dataclass(slots=True)
class TransactionView:
    signature: str
    slot: int | None
    block_time: int | None  # seconds
    failed: bool
    logs: list[str]
    _keys: list[str] = field(default_factory=list)
    _inner: Any = None
    _deferred: Callable[[], tuple[list[str], Any]] | None = None  # the keys and inner instructions, unread

    def inner_instructions(self) -> Iterator[InnerInstruction]:
        """The inner instructions, resolved to account keys (read only when asked: base58 costs)."""
        if self._deferred is not None:
            self._keys, self._inner = self._deferred()
            self._deferred = None
        groups = self._inner if isinstance(self._inner, list) else []
        for group in groups:
            instructions = group.get("instructions") if isinstance(group, dict) else None
            for instruction in instructions if isinstance(instructions, list) else []:
                if isinstance(instruction, dict):
                    yield self._instruction(instruction)

    def _instruction(self, instruction: dict[str, Any]) -> InnerInstruction:
        program = instruction.get("programId")
        if not isinstance(program, str):
            program = self._key(instruction.get("programIdIndex"))
        accounts = instruction.get("accounts")
        resolved = tuple(
            account if isinstance(account, str) else self._key(account)
            for account in (accounts if isinstance(accounts, list) else [])
        )
        return InnerInstruction(program=program, accounts=resolved, data=_bytes_of(instruction.get("data")))

    def _key(self, index: Any) -> str | None:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self._keys):
            return None
        return self._keys[index]


def view_of(tx: Any, *, signature: str | None = None) -> TransactionView:
    """The transaction's signature, slot, block time, status, logs and (lazily) inner instructions."""
    if not isinstance(tx, dict):
        raise TransactionShapeError(f"a transaction is an object, not {type(tx).__name__}")
    inner = tx.get("transaction")
    if isinstance(inner, dict) and isinstance(inner.get("transaction"), dict | list) and "meta" in inner:
        tx = {**inner, "slot": tx.get("slot", inner.get("slot"))}  # a gRPC update wraps the transaction
    meta = tx.get("meta") if isinstance(tx.get("meta"), dict) else {}
    found_signature, keys = _signature_and_keys(tx.get("transaction"))
    logs = meta.get("logMessages")
    return TransactionView(
        signature=found_signature or signature or _text(tx.get("signature")) or "?",
        slot=_whole(tx.get("slot")),
        block_time=_whole(tx.get("blockTime")),
        failed=meta.get("err") is not None,
        logs=[line for line in logs if isinstance(line, str)] if isinstance(logs, list) else [],
        _keys=keys + _loaded_addresses(meta),
        _inner=meta.get("innerInstructions"),
    )


# -- a transaction read straight from the RPC's JSON ---------------------------------------------
# A page of `getTransactionsForAddress` holds a hundred whole transactions, and the decoders read few
# of their fields. Decoded with msgspec into these types, a transaction costs its logs and little
# else: the fields not named are skipped unread, and the keys and inner instructions (needed only
# when the logs fall short) are kept as raw JSON. Anything of another shape or type fails to decode
# here, and is read by `view_of` as before: the types admit only what `view_of` reads the same way.

_NULL = msgspec.Raw(b"null")
# Integers of 64 bits: others are read by view_of (or refused, beyond orjson's range, as before).
# In the fields kept raw or skipped, nothing is refused that the decoders do not read: an integer
# wider than orjson reads there no longer costs the whole page.
_Integer = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _TypedMeta(msgspec.Struct, gc=False):
    err: msgspec.Raw = _NULL
    logMessages: list[str] | None = None
    innerInstructions: msgspec.Raw = _NULL
    loadedAddresses: msgspec.Raw = _NULL
    loadedWritableAddresses: msgspec.Raw = _NULL
    loadedReadonlyAddresses: msgspec.Raw = _NULL


class _TypedBody(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    # Nothing but these two: a gRPC update wraps the transaction and its meta here, read by view_of.
    signatures: list[str]
    message: dict[str, msgspec.Raw]


class TypedTransaction(msgspec.Struct, gc=False):
    """A `json`-encoded transaction as `getTransaction` and `getTransactionsForAddress` answer it."""

    transaction: _TypedBody
    slot: _Integer | None = None
    blockTime: _Integer | None = None
    meta: _TypedMeta | None = None
    signature: str | None = None


def typed_view(tx: TypedTransaction, *, signature: str | None = None) -> TransactionView:
    """What `view_of` reads of the same transaction, its keys and inner instructions read when asked."""
    signatures, meta = tx.transaction.signatures, tx.meta
    return TransactionView(
        signature=(signatures[0] if signatures else None) or signature or tx.signature or "?",
        slot=tx.slot,
        block_time=tx.blockTime,
        failed=meta is not None and bytes(meta.err) != b"null",
        logs=(meta.logMessages or []) if meta is not None else [],
        _deferred=partial(_typed_keys_and_inner, tx.transaction.message, meta),
    )


def _typed_keys_and_inner(message: dict[str, msgspec.Raw], meta: _TypedMeta | None) -> tuple[list[str], Any]:
    keys = _raw_json(message.get("accountKeys", _NULL))
    keys = [_key_text(key) for key in (keys if isinstance(keys, list) else [])]
    if meta is None:
        return keys, None
    loaded = {
        name: _raw_json(getattr(meta, name))
        for name in ("loadedAddresses", "loadedWritableAddresses", "loadedReadonlyAddresses")
    }
    return keys + _loaded_addresses(loaded), _raw_json(meta.innerInstructions)


def _raw_json(raw: msgspec.Raw) -> Any:
    """A kept field's value; null, as an absent field, is None. It is JSON (the answer was read whole),
    but nested deeper than Python reads it is read as absent: the decoders never raise."""
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None


def _signature_and_keys(transaction: Any) -> tuple[str | None, list[str]]:
    if isinstance(transaction, list) and len(transaction) == 2 and transaction[1] in _WIRE_ENCODINGS:
        return _from_wire(transaction[0], encoding=transaction[1])
    if not isinstance(transaction, dict):
        raise TransactionShapeError("the transaction is neither an object nor [bytes, 'base64' or 'base58']")
    message = transaction.get("message")
    if not isinstance(message, dict):
        raise TransactionShapeError("the transaction has no message")
    signatures = transaction.get("signatures")
    first = signatures[0] if isinstance(signatures, list) and signatures else None
    keys = message.get("accountKeys")
    return _signature_text(first), [_key_text(key) for key in (keys if isinstance(keys, list) else [])]


def _from_wire(encoded: Any, *, encoding: str) -> tuple[str | None, list[str]]:
    # solders parses the wire format (legacy and version-0 messages); imported here because only
    # base64/base58 answers need it.
    from solders.transaction import VersionedTransaction

    if not isinstance(encoded, str):
        raise TransactionShapeError(f"a {encoding} transaction that is not a string")
    try:
        wire = base64.b64decode(encoded, validate=True) if encoding == "base64" else b58decode(encoded.encode("ascii"))
        parsed = VersionedTransaction.from_bytes(wire)
    except (binascii.Error, ValueError, TypeError, UnicodeEncodeError) as exc:
        raise TransactionShapeError(f"a {encoding} transaction that does not parse ({type(exc).__name__})") from None
    signatures = parsed.signatures
    return (str(signatures[0]) if signatures else None), [str(key) for key in parsed.message.account_keys]


def _loaded_addresses(meta: dict[str, Any]) -> list[str]:
    """Version-0 lookup-table keys, writable then readonly (jsonParsed lists them among the keys)."""
    loaded = meta.get("loadedAddresses")
    if isinstance(loaded, dict):
        writable, readonly = loaded.get("writable"), loaded.get("readonly")
    else:  # Yellowstone gRPC
        writable, readonly = meta.get("loadedWritableAddresses"), meta.get("loadedReadonlyAddresses")
    return [_key_text(key) for group in (writable, readonly) if isinstance(group, list) for key in group]


def _key_text(key: Any) -> str:
    """A base58 key from a string, a jsonParsed key object or 32 bytes; '' when it is none of those."""
    if isinstance(key, str):
        return key
    if isinstance(key, dict):
        return key["pubkey"] if isinstance(key.get("pubkey"), str) else ""
    raw = _byte_list(key)
    return b58encode(raw).decode() if raw is not None and len(raw) == KEY_BYTES else ""


def _signature_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    raw = _byte_list(value)
    return b58encode(raw).decode() if raw else None


def _bytes_of(data: Any) -> bytes | None:
    """Instruction data: base58 text (json, jsonParsed) or a byte array (gRPC)."""
    if isinstance(data, str):
        try:
            return b58decode(data.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return None
    return _byte_list(data)


def _byte_list(value: Any) -> bytes | None:
    if not isinstance(value, list):
        return None
    try:
        return bytes(value)
    except (TypeError, ValueError):
        return None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
