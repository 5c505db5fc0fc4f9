"""Every board sort on a column that can be unknown has an index per direction on PostgreSQL (the
board's rows only), so a million stored tokens sort by walking an index, not by sorting every row;
the rare stages have theirs, the text search its trigram indexes, and a cursor seeks its index."""

import importlib

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tokens.models import ABOUT_TO_GRADUATE, BOARD_SORTED_COLUMNS, Token
from tokens.store.board_query import SORTS, after_cursor, cursor_for, filtered, ordered, parse_query
from tokens.store.selectors import board_tokens

indexes = importlib.import_module("tokens.migrations.0012_board_sort_indexes")
search = importlib.import_module("tokens.migrations.0013_search_indexes")
ties = importlib.import_module("tokens.migrations.0014_desc_sort_ties")


def test_every_board_sort_on_a_nullable_column_has_an_index_each_way():
    nullable = {column for column in SORTS.values() if Token._meta.get_field(column).null}
    assert nullable == set(BOARD_SORTED_COLUMNS) == set(indexes.SORTED) == set(ties.SORTED)
    assert {column for column in SORTS.values() if not Token._meta.get_field(column).null} == {"created_at", "symbol"}
    assert f">= {ABOUT_TO_GRADUATE}" in indexes._indexes()["token_stage_graduating"]


@pytest.mark.production
@pytest.mark.django_db
def test_the_indexes_exist_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'tokens_token'")
        present = {row[0] for row in cursor.fetchall()}
    expected = (set(indexes._indexes()) - set(ties.OLD)) | set(ties.NEW) | set(search.INDEXES)
    assert expected <= present and not present & set(ties.OLD)


def _plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is small: ask what it would use
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.production
@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["-usd_market_cap", "usd_market_cap", "-symbol"])
def test_a_cursor_page_seeks_its_index_with_one_row_comparison(sort):
    query = parse_query({"sort": sort})
    cursor = cursor_for(Token(mint="M" * 44, symbol="ABC", usd_market_cap=4_200.0), query)
    known = after_cursor(ordered(filtered(board_tokens(), query), query), query, cursor)[0][:50]
    plan = _plan(*known.query.sql_with_params())
    column = query.sort_column
    bound = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert f"ROW({column}" in bound.replace("(symbol)::text", "symbol"), plan  # not a filter over the ties
    assert "Sort Key" not in plan, plan


@pytest.mark.production
@pytest.mark.django_db
def test_a_search_finds_rare_and_common_fragments_the_rare_ones_from_the_trigram_indexes():
    now = timezone.now()
    Token.objects.bulk_create(
        Token(mint=f"{n:040d}pump", name=f"Coin number {n}", symbol=f"C{n}", created_at=now, first_seen_at=now,
              last_seen_at=now, passed_filters=n % 10 != 0)
        for n in range(3_000)
    )  # fmt: skip
    Token.objects.filter(mint=f"{7:040d}pump").update(name="The Zqx9 coin")
    Token.objects.filter(mint=f"{8:040d}pump").update(symbol="XZQX9")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tokens_token")
    for text in ("zqx9", "0000000001234", "number 2", "PUMP", "ab", "!"):
        expected = {
            t.mint for t in Token.objects.filter(passed_filters=True)
            if any(text.upper() in field.upper() for field in (t.name, t.symbol, t.mint))
        }  # fmt: skip
        with CaptureQueriesContext(connection) as queries:
            found = set(filtered(board_tokens(), parse_query({"q": text})).values_list("mint", flat=True))
        assert found == expected, text
        probes = [q["sql"] for q in queries.captured_queries if "LIKE" in q["sql"] and "LIMIT 2001" in q["sql"]]
        if text in ("zqx9", "0000000001234"):  # rare: the trigram indexes listed them
            assert len(probes) == 1 and 0 < len(found) < 20, text
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_indexscan = off")
                plan = _plan(probes[0].replace("%", "%%"), [])
            assert any(name in plan for name in search.INDEXES), plan
        elif text in ("ab", "!"):  # no three letters in a row: nothing a trigram index can narrow
            assert not probes, text
