"""Reading Anchor events' borsh payloads whose layouts grew by appending fields.

Hand-written: the `borsh-construct`/`anchorpy` decoders read one fixed layout and raise on the
extra bytes every newer program version appends; pump's events must be read at every length they
ever had, with the fields that arrived together read together or not at all.
"""

import struct
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from solders.pubkey import Pubkey

MAX_STRING_BYTES = 4096  # real names are a few dozen bytes; a longer length prefix is garbage
MAX_VECTOR_ITEMS = 256  # a shareholders list of more is not plausible
ZERO_KEY = str(Pubkey(bytes(32)))  # Pubkey::default(): "none" (e.g. a SOL coin's quote mint)

Group = tuple[tuple[str, str], ...]  # (field, kind) pairs that arrived in one program version
T = TypeVar("T")


class InvalidEvent(ValueError):
    """An event payload that does not parse; never guessed at."""


_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")


def _end(data: bytes, at: int, size: int) -> int:
    """Where `size` bytes from `at` end, if the payload holds them."""
    end = at + size
    if end > len(data):
        raise InvalidEvent(f"payload ends {end - len(data)} bytes early at byte {at}")
    return end


def _length(data: bytes, at: int) -> int:
    """A u32 length prefix."""
    _end(data, at, 4)
    return _U32.unpack_from(data, at)[0]


def _string(data: bytes, at: int) -> tuple[str, int]:
    length = _length(data, at)
    if length > MAX_STRING_BYTES:
        raise InvalidEvent(f"string length {length} at byte {at} is not plausible")
    end = _end(data, at + 4, length)
    try:
        return data[at + 4 : end].decode("utf-8"), end
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"string at byte {at + 4} is not UTF-8") from exc


def _shares(data: bytes, at: int) -> tuple[tuple[tuple[str, int], ...], int]:
    """A vec of {address: key, share_bps: u16}."""
    count = _length(data, at)
    if count > MAX_VECTOR_ITEMS:
        raise InvalidEvent(f"vector length {count} at byte {at} is not plausible")
    at += 4
    shares = []
    for _ in range(count):
        key_end = _end(data, at, 32)
        at = _end(data, key_end, 2)
        shares.append((str(Pubkey(data[key_end - 32 : key_end])), _U16.unpack_from(data, key_end)[0]))
    return tuple(shares), at


_VARIABLE: dict[str, Callable[[bytes, int], tuple[Any, int]]] = {"string": _string, "shares": _shares}
# Fixed-size kinds and their struct codes (a key becomes base58, a flag is checked to be 0 or 1).
_FIXED = {"key": "32s", "u64": "Q", "i64": "q", "flag": "B", "u8": "B", "u16": "H"}

# A group compiled: runs of fixed-size fields as one struct each (layout, names, the positions of
# keys, the flags' positions), and variable-size fields (None, name, reader) between them.
_Segment = tuple[Any, ...]


class Reader:
    """A position in a payload, for the reads outside the event layouts (an account's key)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.at

    def key(self) -> str:
        start, self.at = self.at, _end(self.data, self.at, 32)
        return str(Pubkey(self.data[start : self.at]))


def read_layout(data: bytes, base: Group, groups: tuple[Group, ...] = ()) -> dict[str, Any]:
    """The `base` fields, then the appended `groups` the payload holds, oldest first, by name. A
    payload that ends between groups is an older layout; one that ends inside a group is broken
    (`InvalidEvent`); bytes after the last known group are a newer layout's, ignored."""
    return dict(zip(_whole_layout(base, groups)[0], read_values(data, base, groups), strict=False))


def read_values(data: bytes, base: Group, groups: tuple[Group, ...] = ()) -> list[Any]:
    """What `read_layout` reads, as the values alone in the layout's order: as many as the payload
    holds fields. An event type whose fields are the layout's, in order, is made of them by position
    (`EventLayout`), without a dict of names in between.

    A payload of the newest layout (nearly all of them) is read in one pass over the layout's
    fields end to end, its fixed-size runs merged across the groups' edges; any other is read again
    group by group, which tells an older layout from a broken one."""
    values: list[Any] = []
    try:
        _read_group(data, 0, _whole_layout(base, groups)[1], values)
        return values
    except InvalidEvent:
        pass
    values = []
    at = _read_group(data, 0, _compiled_group(base), values)
    for group in groups:
        if at == len(data):
            break
        try:
            at = _read_group(data, at, _compiled_group(group), values)
        except InvalidEvent as exc:
            raise InvalidEvent(f"inside {group[0][0]}'s group (from byte {at}): {exc}") from None
    return values


class EventLayout(Generic[T]):
    """An event type read from its borsh layout: `cls`'s positional fields are the layout's fields,
    in order (checked here, once), so a payload's values make the event by position. `none_if_zero`
    names a key field whose all-zero key (Pubkey::default()) means none."""

    def __init__(
        self, cls: type[T], base: Group, groups: tuple[Group, ...] = (), *, none_if_zero: str | None = None
    ) -> None:
        names = _whole_layout(base, groups)[0]
        # What the constructor takes by position, for msgspec Structs and dataclasses alike.
        positional = getattr(cls, "__match_args__", ())
        if tuple(positional) != names:
            raise TypeError(f"{cls.__name__}'s fields are not its layout's, in order: {positional} != {names}")
        self.cls, self.base, self.groups = cls, base, groups
        self._zero_at = names.index(none_if_zero) if none_if_zero else None

    def read(self, payload: bytes) -> T:
        values = read_values(payload, self.base, self.groups)
        at = self._zero_at
        if at is not None and at < len(values) and values[at] == ZERO_KEY:
            values[at] = None
        return self.cls(*values)


def _read_group(data: bytes, at: int, segments: list[_Segment], values: list[Any]) -> int:
    """The segments' values appended to `values`, in order; where the group ends."""
    for layout, names, keys, flags in segments:
        if layout is None:  # a variable-size field: names is its name, keys its reader
            value, at = keys(data, at)
            values.append(value)
            continue
        if at + layout.size > len(data):
            _end(data, at, layout.size)
        raw = layout.unpack_from(data, at)
        at += layout.size
        start = len(values)
        values += raw
        for index in keys:
            values[start + index] = _key_text(raw[index])
        for index in flags:
            if raw[index] > 1:
                raise InvalidEvent(f"bool {names[index]} is {raw[index]}")
            values[start + index] = raw[index] == 1
    return at


# Keys as base58, remembered: most of an event's keys recur (a create's trade names its mint, user and
# creator again; fee recipients, token programs and the zero key are shared by thousands), and a dict
# lookup costs a fifth of an encoding. Bounded: forgotten all at once when full.
_KEY_TEXTS: dict[bytes, str] = {}
_KEY_TEXTS_KEPT = 8192


def _key_text(raw: bytes) -> str:
    text = _KEY_TEXTS.get(raw)
    if text is None:
        text = str(Pubkey(raw))
        if len(_KEY_TEXTS) >= _KEY_TEXTS_KEPT:
            _KEY_TEXTS.clear()
        _KEY_TEXTS[raw] = text
    return text


# Every layout's field names and fields end to end, compiled, by the identities of its base and groups.
_whole: dict[tuple[int, int], tuple[Group, tuple[Group, ...], tuple[str, ...], list[_Segment]]] = {}


def _whole_layout(base: Group, groups: tuple[Group, ...]) -> tuple[tuple[str, ...], list[_Segment]]:
    found = _whole.get((id(base), id(groups)))
    if found is not None and found[0] is base and found[1] is groups:
        return found[2], found[3]
    fields = tuple(field for group in (base, *groups) for field in group)
    names, segments = tuple(name for name, _ in fields), _compiled_group(fields)
    if len(set(names)) != len(names):  # values go by position: a name twice would shift them
        raise ValueError(f"a layout names a field twice: {names}")
    _whole[(id(base), id(groups))] = (base, groups, names, segments)
    return names, segments


# Compiled groups by the group's identity (hashing a group's nested tuple on every read cost more
# than reading it); each entry keeps its group alive, so an identity is never reused for another.
_compiled: dict[int, tuple[Group, list[_Segment]]] = {}


def _compiled_group(fields: Group) -> list[_Segment]:
    found = _compiled.get(id(fields))
    if found is not None and found[0] is fields:
        return found[1]
    segments: list[_Segment] = []
    run: list[tuple[str, str]] = []

    def close_run() -> None:
        if run:
            kinds = [kind for _, kind in run]
            segments.append((
                struct.Struct("<" + "".join(_FIXED[kind] for kind in kinds)),
                tuple(name for name, _ in run),
                tuple(i for i, kind in enumerate(kinds) if kind == "key"),
                tuple(i for i, kind in enumerate(kinds) if kind == "flag"),
            ))  # fmt: skip
            run.clear()

    for name, kind in fields:
        if kind in _FIXED:
            run.append((name, kind))
        else:
            close_run()
            segments.append((None, name, _VARIABLE[kind], ()))
    close_run()
    _compiled[id(fields)] = (fields, segments)
    return segments
