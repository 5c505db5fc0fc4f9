"""Checks one launch record, whichever source yielded it (tokens/sources/base.py), and turns it into
a `TokenRecord` in the units we store.

Every field of an upstream record is chosen by a stranger: text is stripped of control and
bidi-override characters and bounded in length, and only http(s) links survive.
"""

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from solders.pubkey import Pubkey

from tokens.sources.base import RECENT, TRENDING, Launch
from tokens.sources.links import safe_document_link, safe_link

_BASE58_MINT = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")
LAMPORTS_PER_SOL = 1_000_000_000
# Bonding curve (token units with 6 decimals): starts at 1.073e15 virtual tokens, completes at 279.9e12.
_CURVE_END_RESERVES = 279.9e12
_CURVE_SOLD_AT_COMPLETION = 793.1e12
# pump.fun launched in January 2024; anything earlier, or a day past now, is not a millisecond timestamp.
_EARLIEST_MS = 1_704_067_200_000
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}

MAX_NAME = 200
MAX_SYMBOL = 50
MAX_DESCRIPTION = 2000
MAX_URL = 500
MAX_COUNT = 2_147_483_647  # the largest count a PositiveIntegerField holds on every database
MAX_BIGINT = 2**63 - 1


class InvalidRecord(ValueError):
    """An upstream record that cannot be stored; the message says why."""


@dataclass(slots=True)
class TokenRecord:
    mint: str
    name: str
    symbol: str
    description: str
    image_uri: str
    creator: str
    created_at: datetime
    market_cap_sol: float | None
    usd_market_cap: float | None
    liquidity_sol: float | None
    reply_count: int | None
    bonding_progress: float | None
    complete: bool
    nsfw: bool
    twitter: str
    telegram: str
    website: str
    last_trade_at: datetime | None
    source: str
    metadata_uri: str = ""
    bonding_curve: str = ""
    signature: str = ""
    quote: str = ""
    initial_real_token_reserves: int | None = None
    holders: int | None = None
    rejection_reason: str = ""
    pending: bool = False  # a filter waits for a detail still to be fetched
    awaiting: tuple[str, ...] = ()  # the details to fetch after the token is stored
    metadata_refused: bool = False  # it names a metadata document by a link that cannot be used
    seen_by: str = ""  # the launch source that delivered this record
    dev_holding_pct: float | None = None  # at launch (the create transaction), until the stream knows better
    bundled_pct: float | None = None
    price_usd: float | None = None
    liquidity_usd: float | None = None
    state_read: bool = False  # the curve's current state came with the record: no curve read after storing

    @property
    def created_ms(self) -> int:
        return int(self.created_at.timestamp() * 1000)


def normalise(raw: Any, *, now_ms: int) -> TokenRecord:
    if not isinstance(raw, Launch):
        raise InvalidRecord(f"record is {type(raw).__name__}, not a launch")
    if raw.invalid:
        raise InvalidRecord(str(raw.invalid)[:300])
    if not is_address(raw.mint):
        raise InvalidRecord(f"mint {str(raw.mint)[:60]!r} is not a base58 address of 32-44 characters")
    created_ms = _timestamp_ms(raw.created_ms, now_ms=now_ms, name="created_timestamp")
    if created_ms is None:
        raise InvalidRecord("created_timestamp is missing")
    last_trade_ms = _timestamp_ms(raw.last_trade_ms, now_ms=now_ms, name="last_trade_timestamp")
    complete = raw.complete is True
    # A curve's liquidity is the SOL it really holds (its virtual 30 SOL are not there to sell into);
    # a graduated coin's is its pool's, read later.
    real_sol = None if complete else _number(raw.real_sol_lamports, "real_sol_reserves")
    metadata_uri = safe_document_link(raw.metadata_uri)  # read once: a check per character
    _number(raw.virtual_sol_lamports, "virtual_sol_reserves")  # not stored, but impossible reserves are no coin's
    record = TokenRecord(
        mint=raw.mint,
        name=clean_text(raw.name, MAX_NAME),
        symbol=clean_text(raw.symbol, MAX_SYMBOL),
        description=clean_text(raw.description, MAX_DESCRIPTION),
        image_uri=safe_url(raw.image_uri),
        creator=_address_or_blank(raw.creator),
        created_at=_datetime(created_ms),
        market_cap_sol=_number(raw.market_cap_sol, "market_cap"),
        usd_market_cap=_number(raw.usd_market_cap, "usd_market_cap"),
        liquidity_sol=None if real_sol is None else real_sol / LAMPORTS_PER_SOL,
        reply_count=_count(raw.reply_count, "reply_count"),
        bonding_progress=_progress(raw, complete=complete),
        complete=complete,
        nsfw=raw.nsfw is True,
        twitter=safe_url(raw.twitter),
        telegram=safe_url(raw.telegram),
        website=safe_url(raw.website),
        last_trade_at=None if last_trade_ms is None else _datetime(last_trade_ms),
        source=raw.list_name if raw.list_name in (RECENT, TRENDING) else RECENT,
        metadata_uri=metadata_uri,
        metadata_refused=_unusable_link(raw.metadata_uri, checked=metadata_uri),
        bonding_curve=_address_or_blank(raw.bonding_curve),
        signature=_signature_or_blank(raw.signature),
        quote=raw.quote if raw.quote in ("SOL", "USDC") else "",
        initial_real_token_reserves=_whole(raw.initial_real_token_reserves),
        seen_by=raw.upstream[:20] if isinstance(raw.upstream, str) else "",
        dev_holding_pct=_percent(raw.dev_percent_at_launch),
        bundled_pct=_percent(raw.bundled_percent_at_launch),
    )
    if isinstance(raw.curve_fields, dict):
        _take_curve_fields(record, raw.curve_fields)
    return record


_CURVE_PRICES = ("market_cap_sol", "usd_market_cap", "price_usd", "liquidity_sol", "liquidity_usd")


def _take_curve_fields(record: TokenRecord, fields: dict[str, Any]) -> None:
    """A trading curve's current figures, read with the record (tokens/sources/chain/launches.py).
    Figures no curve can have leave the state unread (the details stage reads it again); the launch
    itself stands."""
    if fields.get("complete") is not False:
        return  # a completed curve prices nothing: the details stage reads its pool
    try:
        prices = {name: _number(fields.get(name), name) for name in _CURVE_PRICES}
    except InvalidRecord:
        return
    progress = fields.get("bonding_progress")
    if progress is not None and (isinstance(progress, bool) or not isinstance(progress, (int, float))
                                 or not 0 <= progress <= 100):  # fmt: skip
        return
    for name, value in prices.items():
        setattr(record, name, value)
    record.bonding_progress = None if progress is None else float(progress)
    record.complete = False
    if fields.get("quote") in ("SOL", "USDC"):
        record.quote = fields["quote"]
    record.state_read = True


def _percent(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok and 0 <= value <= 100 else None


def _whole(value: Any) -> int | None:
    """A positive amount the database can hold (a BIGINT); anything else is unknown."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_BIGINT:
        return value
    return None


def _progress(raw: Launch, *, complete: bool) -> float | None:
    """The chain reads progress from the coin's own curve (None: not read yet); pump.fun's records
    give the virtual token reserves of a standard curve."""
    if raw.progress_known:
        value = raw.progress
        if value is None:
            return 100.0 if complete else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise InvalidRecord(f"bonding progress {str(value)[:40]!r} is not a percentage")
        return float(value)
    return bonding_progress(_number(raw.virtual_token_reserves, "virtual_token_reserves"), complete=complete)


def _unusable_link(value: Any, *, checked: str) -> bool:
    """A link was given (not blank) and is not a usable one (`checked`, what safe_document_link made
    of it, is blank): its detail is unknown, and counted."""
    return isinstance(value, str) and bool(value.strip()) and not checked


def bonding_progress(virtual_token_reserves: float | None, *, complete: bool) -> float | None:
    if complete:
        return 100.0
    if virtual_token_reserves is None:
        return None
    sold_share = 1 - (virtual_token_reserves - _CURVE_END_RESERVES) / _CURVE_SOLD_AT_COMPLETION
    return round(min(100.0, max(0.0, 100 * sold_share)), 2)


def clean_text(value: Any, limit: int) -> str:
    """Text a stranger wrote, without control characters (NUL among them: PostgreSQL refuses it), bidi
    overrides, or lone surrogates (no database encoding holds one), at most `limit` characters."""
    if not isinstance(value, str):
        return ""
    if value.isprintable():  # nothing to take out: controls, surrogates and bidi marks are not printable
        return value.strip()[:limit]
    kept = "".join(ch for ch in value if ch not in _BIDI_CONTROLS and unicodedata.category(ch) not in ("Cc", "Cs"))
    return kept.strip()[:limit]


def safe_url(value: Any) -> str:
    """The link if it is a usable http(s) URL, else blank (tokens/sources/links.py says what that is)."""
    return safe_link(value)


_SIGNATURE = re.compile(r"[1-9A-HJ-NP-Za-km-z]{64,88}")


def _signature_or_blank(value: Any) -> str:
    return value if isinstance(value, str) and _SIGNATURE.fullmatch(value) else ""


def _address_or_blank(value: Any) -> str:
    return value if is_address(value) else ""


def is_address(value: Any) -> bool:
    """A Solana address: base58 that decodes to exactly 32 bytes (the pattern alone lets through
    strings that no key is, and a key derived from one would raise)."""
    if not isinstance(value, str) or not _BASE58_MINT.fullmatch(value):
        return False
    try:
        Pubkey.from_string(value)  # refuses any other length; a third of based58's time
    except ValueError:
        return False
    return True


def _timestamp_ms(value: Any, *, now_ms: int, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRecord(f"{name} {str(value)[:40]!r} is not an integer of milliseconds")
    if not _EARLIEST_MS <= value <= now_ms + 86_400_000:
        raise InvalidRecord(f"{name} {value} is not a plausible time in milliseconds")
    return value


def _number(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRecord(f"{key} {str(value)[:40]!r} is not a finite number")
    if value < 0:
        raise InvalidRecord(f"{key} {value} is negative")
    return float(value)


def _count(value: Any, key: str) -> int | None:
    value = _number(value, key)
    if value is not None and value > MAX_COUNT:
        raise InvalidRecord(f"{key} {value:g} is not a plausible count")
    return None if value is None else int(value)


def _datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
