"""Reads the page and the API share."""

from django.db import connection
from django.db.models import QuerySet

from tokens.models import BotSettings, LoadRun, Token

PAGE_SIZE = 50
# Rows the board holds: its first render and its live view keep the same number.
BOARD_ROWS = 500
MAX_API_LIMIT = BOARD_ROWS
# Rows per catch-up answer (`GET /api/changes/?after=`); the page asks again from where one ends.
CATCH_UP_ROWS = 500
# A view's count is exact up to here; past it, "at least this many" (a million-row count costs every
# reader's every request a scan of the whole view).
COUNT_CAP = 10_000


def board_tokens() -> QuerySet[Token]:
    """Tokens that passed the filters, newest launch first."""
    return Token.objects.filter(passed_filters=True).order_by("-created_at", "mint")


def count_up_to(queryset: QuerySet[Token], cap: int) -> tuple[int, bool]:
    """The view's count, and whether it is exact: counting stops after `cap` rows."""
    counted = queryset.order_by()[: cap + 1].count()
    return min(counted, cap), counted <= cap


def board_count() -> int:
    """Tokens on the board, counted up to COUNT_CAP (then COUNT_CAP: pages show "10000+"). Every
    stored batch says it: an exact count cost each 200-290 ms at a million tokens, inside its commit.
    Written as SQL: compiling `count_up_to`'s query took as long as counting 10,000 rows (0.4 ms,
    every batch); tests/store/test_rows.py holds the two equal."""
    quote = connection.ops.quote_name
    table, passed = quote(Token._meta.db_table), quote(Token._meta.get_field("passed_filters").column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {passed} LIMIT %s) counted", [COUNT_CAP + 1])
        return min(cursor.fetchone()[0], COUNT_CAP)


def recent_runs(*, limit: int = 10) -> list[LoadRun]:
    return list(LoadRun.objects.order_by("-created_at", "-pk")[:limit])


def saved_filter_labels(stored: BotSettings) -> list[str]:
    """The admin's filters that are switched on, in words, for the board."""
    labels = []
    if stored.min_usd_market_cap is not None:
        labels.append(f"market cap ≥ ${stored.min_usd_market_cap:,.0f}")
    if stored.max_usd_market_cap is not None:
        labels.append(f"market cap ≤ ${stored.max_usd_market_cap:,.0f}")
    if stored.min_holders is not None:
        labels.append(f"holders ≥ {stored.min_holders}")
    if stored.min_liquidity_sol is not None:
        labels.append(f"liquidity ≥ {stored.min_liquidity_sol:g} SOL")
    if not stored.include_nsfw:
        labels.append("no NSFW")
    if not stored.include_pump_only:
        labels.append("graduated only")
    if stored.blocklist_terms():
        labels.append(f"{len(stored.blocklist_terms())} blocked words")
    return labels
