"""Reading Anchor events' borsh payloads whose layouts grew by appending fields.

Hand-written: the `borsh-construct`/`anchorpy` decoders read one fixed layout and raise on the
extra bytes every newer program version appends; pump's events must be read at every length they
ever had, with the fields that arrived together read together or not at all.
"""

import struct
from typing import Any

from solders.pubkey import Pubkey

MAX_STRING_BYTES = 4096  # real names are a few dozen bytes; a longer length prefix is garbage
MAX_VECTOR_ITEMS = 256  # a shareholders list of more is not plausible
ZERO_KEY = str(Pubkey(bytes(32)))  # Pubkey::default(): "none" (e.g. a SOL coin's quote mint)

Group = tuple[tuple[str, str], ...]  # (field, kind) pairs that arrived in one program version


class InvalidEvent(ValueError):
    """An event payload that does not parse; never guessed at."""


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.at

    def take(self, size: int) -> bytes:
        start = self.skip(size)
        return self.data[start : self.at]

    def skip(self, size: int) -> int:
        """Move past `size` bytes; where they start."""
        start, end = self.at, self.at + size
        if end > len(self.data):
            raise InvalidEvent(f"payload ends {end - len(self.data)} bytes early at byte {start}")
        self.at = end
        return start

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

    def shares(self) -> tuple[tuple[str, int], ...]:
        """A vec of {address: key, share_bps: u16}."""
        (count,) = struct.unpack("<I", self.take(4))
        if count > MAX_VECTOR_ITEMS:
            raise InvalidEvent(f"vector length {count} at byte {self.at - 4} is not plausible")
        return tuple((self.key(), struct.unpack("<H", self.take(2))[0]) for _ in range(count))


# Fixed-size kinds and their struct codes (a key becomes base58, a flag is checked to be 0 or 1).
_FIXED = {"key": "32s", "u64": "Q", "i64": "q", "flag": "B", "u8": "B", "u16": "H"}
# Compiled layouts by the group's identity (hashing a group's nested tuple on every read cost more
# than reading it); each entry keeps its group alive, so an identity is never reused for another.
_compiled: dict[int, tuple[Group, list[tuple[Any, ...]]]] = {}


def read_fields(reader: Reader, fields: Group) -> dict[str, Any]:
    """The fields in order. Runs of fixed-size fields are read with one precompiled struct (a trade
    stream decodes thousands of events a second); strings and vectors by the reader."""
    found = _compiled.get(id(fields))
    segments = found[1] if found is not None and found[0] is fields else _compile(fields)
    values: dict[str, Any] = {}
    for segment in segments:
        if segment[0] == "var":
            values[segment[1]] = getattr(reader, segment[2])()
            continue
        _, layout, names, kinds, plain = segment
        raw = layout.unpack_from(reader.data, reader.skip(layout.size))
        if plain:  # integers only: nothing to convert or check
            values.update(zip(names, raw, strict=True))
            continue
        for name, kind, value in zip(names, kinds, raw, strict=True):
            if kind == "key":
                value = str(Pubkey(value))
            elif kind == "flag":
                if value > 1:
                    raise InvalidEvent(f"bool {name} is {value}")
                value = value == 1
            values[name] = value
    return values


def _compile(fields: Group) -> list[tuple[Any, ...]]:
    segments: list[tuple[Any, ...]] = []
    run: list[tuple[str, str]] = []

    def close_run() -> None:
        if run:
            code = "<" + "".join(_FIXED[kind] for _, kind in run)
            kinds = [k for _, k in run]
            plain = not any(kind in ("key", "flag") for kind in kinds)
            segments.append(("fixed", struct.Struct(code), [n for n, _ in run], kinds, plain))
            run.clear()

    for name, kind in fields:
        if kind in _FIXED:
            run.append((name, kind))
        else:
            close_run()
            segments.append(("var", name, kind))
    close_run()
    _compiled[id(fields)] = (fields, segments)
    return segments


def read_appended(reader: Reader, groups: tuple[Group, ...]) -> dict[str, Any]:
    """The groups the payload holds, oldest first. A payload that ends between groups is an older
    layout; one that ends inside a group is broken (`InvalidEvent`); bytes after the last known
    group are a newer layout's, ignored."""
    values: dict[str, Any] = {}
    for group in groups:
        if reader.remaining == 0:
            break
        start = reader.at
        try:
            values.update(read_fields(reader, group))
        except InvalidEvent as exc:
            raise InvalidEvent(f"inside {group[0][0]}'s group (from byte {start}): {exc}") from None
    return values
