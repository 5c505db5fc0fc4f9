"""A reader's view of the board: filters, sort and a keyset cursor, parsed from a query string.

The page and `GET /api/tokens/` take the same parameters, so a view can be shared as a link and
downloaded as CSV. The board's JavaScript mirrors `matches` for live rows (board.js `matchesView`).
Numbers are ASCII digits only; anything else is a `QueryError` that names the parameter.
"""

import base64
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils import timezone

from tokens.models import ABOUT_TO_GRADUATE, Token

STAGES = ("new", "graduating", "graduated")
# Sort names the API and the page share -> the column they order by.
SORTS = {
    "created": "created_at",
    "usd_market_cap": "usd_market_cap",
    "holders": "holders",
    "bonding_progress": "bonding_progress",
    "reply_count": "reply_count",
    "symbol": "symbol",
    "volume_5m": "volume_5m_usd",
    "buys_5m": "buys_5m",
    "sells_5m": "sells_5m",
    "price_change_5m": "price_change_5m",
    "dev_holding_pct": "dev_holding_pct",
    "top10_pct": "top10_pct",
    "snipers_pct": "snipers_pct",
}
# Trade-figure bounds: parameter -> (column, lookup). A percentage is of the supply (0-100).
TRADE_BOUNDS = {
    "min_volume_5m": ("volume_5m_usd", "gte"),
    "min_buys_5m": ("buys_5m", "gte"),
    "max_dev_pct": ("dev_holding_pct", "lte"),
    "max_top10_pct": ("top10_pct", "lte"),
    "max_snipers_pct": ("snipers_pct", "lte"),
    "max_bundled_pct": ("bundled_pct", "lte"),
}
DEFAULT_SORT = "-created"
AGE_UNITS = {"m": 60, "h": 3600, "d": 86400}
MAX_TEXT = 100
MAX_CURSOR = 1000  # characters; the longest cursor_for writes (a 50-character symbol, escaped) is ~900
PARAMETERS = (
    "q", "min_usd_market_cap", "max_usd_market_cap", "min_holders", "min_progress", "stage", "complete",
    "socials", "max_age", "since", "until", "sort", *TRADE_BOUNDS, "dev_sold",
)  # fmt: skip

_NUMBER = re.compile(r"[0-9]{1,15}(\.[0-9]{1,6})?", re.ASCII)
_WHOLE = re.compile(r"[0-9]{1,12}", re.ASCII)
_EPOCH_MS = re.compile(r"[0-9]{1,15}", re.ASCII)
_AGE = re.compile(r"([0-9]{1,5})([mhd])", re.ASCII)
_MINT = re.compile(r"[0-9A-Za-z]{1,44}", re.ASCII)


class QueryError(ValueError):
    """A parameter the board cannot use; the message names it and what it takes."""


@dataclass(frozen=True)
class BoardQuery:
    q: str = ""
    min_usd_market_cap: float | None = None
    max_usd_market_cap: float | None = None
    min_holders: int | None = None
    min_progress: float | None = None
    stage: str = ""
    complete: bool | None = None
    socials: bool = False
    max_age_seconds: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: str = DEFAULT_SORT
    trade_bounds: dict[str, float] = field(default_factory=dict)  # TRADE_BOUNDS name -> value
    dev_sold: bool | None = None
    given: dict[str, str] = field(default_factory=dict)  # the parameters as the reader wrote them

    @property
    def sort_column(self) -> str:
        return SORTS[self.sort.lstrip("-")]

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


def parse_query(params: Any) -> BoardQuery:
    """Every board parameter checked; unknown parameters are left to the caller (limit, cursor...)."""
    given = {name: params.get(name, "").strip() for name in PARAMETERS if params.get(name, "").strip()}
    low = _number(given, "min_usd_market_cap")
    high = _number(given, "max_usd_market_cap")
    if low is not None and high is not None and low > high:
        raise QueryError("min_usd_market_cap must not be above max_usd_market_cap")
    progress = _number(given, "min_progress")
    if progress is not None and progress > 100:
        raise QueryError(f"min_progress is a percentage from 0 to 100, got {given['min_progress']!r}")
    stage = given.get("stage", "")
    if stage and stage not in STAGES:
        raise QueryError(f"stage must be one of {', '.join(STAGES)}, got {stage[:20]!r}")
    sort = given.get("sort", DEFAULT_SORT)
    if sort.lstrip("-") not in SORTS or sort.count("-") > 1:
        names = ", ".join(SORTS)
        raise QueryError(f"sort must be one of {names} (prefix - for descending), got {sort[:30]!r}")
    return BoardQuery(
        q=_text(given),
        min_usd_market_cap=low,
        max_usd_market_cap=high,
        min_holders=_whole(given, "min_holders"),
        min_progress=progress,
        stage=stage,
        complete=_boolean(given, "complete"),
        socials=bool(_boolean(given, "socials")),
        max_age_seconds=_age(given),
        since=_moment(given, "since"),
        until=_moment(given, "until"),
        sort=sort,
        trade_bounds=_trade_bounds(given),
        dev_sold=_boolean(given, "dev_sold"),
        given=given,
    )


def _trade_bounds(given: dict[str, str]) -> dict[str, float]:
    bounds = {}
    for name in TRADE_BOUNDS:
        value = _whole(given, name) if name == "min_buys_5m" else _number(given, name)
        if value is None:
            continue
        if name.endswith("_pct") and value > 100:
            raise QueryError(f"{name} is a percentage from 0 to 100, got {given[name]!r}")
        bounds[name] = value
    return bounds


def filtered(queryset: QuerySet[Token], query: BoardQuery, *, now: datetime | None = None) -> QuerySet[Token]:
    """The tokens the view shows; an unknown value never passes a bound on it."""
    conditions = Q()
    if query.q:
        conditions &= _text_match(query.q)
    if query.min_usd_market_cap is not None:
        conditions &= Q(usd_market_cap__gte=query.min_usd_market_cap)
    if query.max_usd_market_cap is not None:
        conditions &= Q(usd_market_cap__lte=query.max_usd_market_cap)
    if query.min_holders is not None:
        conditions &= Q(holders__gte=query.min_holders)
    if query.min_progress is not None:
        conditions &= Q(complete=True) | Q(bonding_progress__gte=query.min_progress)
    if query.stage == "graduated":
        conditions &= Q(complete=True)
    elif query.stage == "graduating":
        conditions &= Q(complete=False, bonding_progress__gte=ABOUT_TO_GRADUATE)
    elif query.stage == "new":
        conditions &= Q(complete=False) & (Q(bonding_progress__lt=ABOUT_TO_GRADUATE) | Q(bonding_progress=None))
    if query.complete is not None:
        conditions &= Q(complete=query.complete)
    if query.socials:
        conditions &= ~Q(twitter="") | ~Q(telegram="") | ~Q(website="")
    if query.max_age_seconds is not None:
        conditions &= Q(created_at__gte=(now or timezone.now()) - timedelta(seconds=query.max_age_seconds))
    if query.since is not None:
        conditions &= Q(created_at__gte=query.since)
    if query.until is not None:
        conditions &= Q(created_at__lt=query.until)
    for name, value in query.trade_bounds.items():
        column, lookup = TRADE_BOUNDS[name]
        conditions &= Q(**{f"{column}__{lookup}": value})
    if query.dev_sold is not None:
        conditions &= Q(dev_sold_at__isnull=not query.dev_sold)
    return queryset.filter(conditions)


# A search on PostgreSQL first asks the trigram indexes (migration 0013) for at most this many
# matches; fewer, and the view is those rows.
SEARCH_CANDIDATES = 2_000
# A common fragment ("pump" ends every mint) makes a bitmap of most of the board: the question is
# given up after this long, and the walk (which finds a common fragment's page at once) answers.
SEARCH_PROBE_MS = 25
_TRIGRAM_WORD = re.compile(r"[A-Za-z0-9]{3}")  # what pg_trgm can index in any locale


def _text_match(text: str) -> Q:
    """The name, the symbol or the mint contains `text` (any case).

    On PostgreSQL the planner cannot tell a rare fragment from a common one (it guesses 2 % of the
    board for any "contains"), so it walks the sort's index and filters, which for a fragment found
    a few times reads the whole board (1.6 s at a million tokens). Asked first, the trigram indexes
    list the matches of a rare fragment at once (their bitmaps only: plain index and table scans off
    for that one query, which asks nothing else); a common one (more than SEARCH_CANDIDATES) is left
    to the walk, which then finds its page within a few thousand rows."""
    contains = Q(name__icontains=text) | Q(symbol__icontains=text) | Q(mint__icontains=text)
    if connection.vendor != "postgresql" or not _TRIGRAM_WORD.search(text):
        return contains
    matches = Token.objects.filter(contains).order_by().values_list("pk", flat=True)
    settings = ("enable_indexscan = off", "enable_seqscan = off", f"statement_timeout = {SEARCH_PROBE_MS}")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for setting in settings:
                cursor.execute(f"SET LOCAL {setting}")
            found = list(matches[: SEARCH_CANDIDATES + 1])
            # Inside a caller's transaction a SET LOCAL would outlive this block (a failure's rollback
            # undoes it).
            for setting in settings:
                cursor.execute(f"RESET {setting.split()[0]}")
    except OperationalError:  # the probe ran out of time (or the indexes are missing): walk
        return contains
    return contains if len(found) > SEARCH_CANDIDATES else Q(pk__in=found)


def ordered(queryset: QuerySet[Token], query: BoardQuery) -> QuerySet[Token]:
    """Sorted by the view's column, unknown values last either way, then by mint (unique) in the
    same direction: a cursor then seeks its index as one row comparison (`after_cursor`). A column
    that is never null is ordered without NULLS LAST: PostgreSQL would not use its index for that
    order (it sorted all the rows instead, 1.2 s at a million tokens)."""
    column, mint = F(query.sort_column), F("mint")
    nulls_last = True if Token._meta.get_field(query.sort_column).null else None
    if query.descending:
        return queryset.order_by(column.desc(nulls_last=nulls_last), mint.desc())
    return queryset.order_by(column.asc(nulls_last=nulls_last), mint.asc())


def after_cursor(queryset: QuerySet[Token], query: BoardQuery, cursor: str) -> list[QuerySet[Token]]:
    """The rows after the one the cursor names, in the view's order (keyset, so new launches at the
    head never shift a page), as parts to read one after the other: the known values after it, then
    (for a column that can be unknown) the unknown ones. Each part starts where its index does at
    the cursor: one query with "or unknown" in it made PostgreSQL read every row before the cursor
    (690 ms 300,000 rows deep at a million tokens), and "value below, or equal with a later mint"
    read every tie before it (820 ms among the half of the board at a new curve's cap). The row
    comparison `(value, mint) < (v, m)` is an index bound; Django compiles it (its tuple lookups,
    made for composite keys) as a row value, or spelled out where the database has none."""
    value, mint = _decode_cursor(cursor, query)
    name = query.sort_column
    unknown = queryset.filter(**{f"{name}__isnull": True})
    if value is None:
        return [unknown.filter(**{"mint__lt" if query.descending else "mint__gt": mint})]
    reach, seek = (f"{name}__lte", TupleLessThan) if query.descending else (f"{name}__gte", TupleGreaterThan)
    known = queryset.filter(**{reach: value}).filter(seek(Tuple(F(name), F("mint")), (value, mint)))
    return [known, unknown] if Token._meta.get_field(name).null else [known]


def cursor_for(token: Token, query: BoardQuery) -> str:
    value = getattr(token, query.sort_column)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([query.sort, value, token.mint], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, query: BoardQuery) -> tuple[Any, str]:
    if len(cursor) > MAX_CURSOR:
        raise QueryError("cursor is not one this API gave out; start again without it")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort, value, mint = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        raise QueryError("cursor is not one this API gave out; start again without it") from None
    if sort != query.sort:
        raise QueryError("cursor belongs to another sort order; start again without it")
    # Only what cursor_for writes: anything else (a number no column holds, a NUL PostgreSQL refuses,
    # a time past year 9999 in UTC) would fail in the database instead of here.
    if not (isinstance(mint, str) and _MINT.fullmatch(mint) and _cursor_value_fits(value, query.sort_column)):
        raise QueryError("cursor is not one this API gave out; start again without it")
    if query.sort_column == "created_at" and isinstance(value, str):
        try:
            value = _in_range(datetime.fromisoformat(value))
        except ValueError:
            raise QueryError("cursor is not one this API gave out; start again without it") from None
    return value, mint


def _cursor_value_fits(value: Any, column: str) -> bool:
    """A value of the column's own kind: text for the symbol, an ISO time for the launch time, a
    number for the rest (or None: unknown values sort last)."""
    if value is None:
        return True
    if column in ("symbol", "created_at"):
        return isinstance(value, str) and len(value) <= 200 and _printable(value)
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, float) and math.isfinite(value)


def _printable(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


def _in_range(moment: datetime) -> datetime:
    """The time with a zone, if it is between years 1 and 9999 in UTC too (the database's range)."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None
    return moment


def _text(given: dict[str, str]) -> str:
    text = given.get("q", "")
    if len(text) > MAX_TEXT:
        raise QueryError(f"q is at most {MAX_TEXT} characters")
    if not _printable(text):
        raise QueryError("q must not hold control characters")
    return text


def _number(given: dict[str, str], name: str) -> float | None:
    return _digits(given, name, pattern=_NUMBER, convert=float, wanted="a number like 25000 or 0.5")


def _whole(given: dict[str, str], name: str) -> int | None:
    return _digits(given, name, pattern=_WHOLE, convert=int, wanted="a whole number")


def _digits(given: dict[str, str], name: str, *, pattern: re.Pattern, convert, wanted: str):
    raw = given.get(name)
    if raw is None:
        return None
    if not pattern.fullmatch(raw):
        raise QueryError(f"{name} must be {wanted} (digits 0-9), got {raw[:20]!r}")
    return convert(raw)


def _boolean(given: dict[str, str], name: str) -> bool | None:
    raw = given.get(name)
    if raw is None:
        return None
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise QueryError(f"{name} must be true or false, got {raw[:20]!r}")


def _age(given: dict[str, str]) -> int | None:
    raw = given.get("max_age")
    if raw is None:
        return None
    match = _AGE.fullmatch(raw)
    if not match or int(match.group(1)) == 0:
        raise QueryError(f"max_age is a span like 30m, 6h or 7d, got {raw[:20]!r}")
    return int(match.group(1)) * AGE_UNITS[match.group(2)]


def _moment(given: dict[str, str], name: str) -> datetime | None:
    raw = given.get(name)
    if raw is None:
        return None
    if _EPOCH_MS.fullmatch(raw):  # milliseconds since the epoch, like created_timestamp
        try:
            return datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise QueryError(f"{name} {raw} is past the year 9999; give milliseconds since 1970") from None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise QueryError(f"{name} must be an ISO 8601 time or milliseconds since the epoch, got {raw[:30]!r}") from None
    if not raw.isascii():
        raise QueryError(f"{name} must use digits 0-9, got {raw[:30]!r}")
    try:
        return _in_range(moment)
    except ValueError:
        raise QueryError(f"{name} {raw[:30]!r} is outside years 1 to 9999 in UTC") from None
