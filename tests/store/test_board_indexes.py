"""Every board sort on a column that can be unknown has an index per direction on PostgreSQL (the
board's rows only), so a million stored tokens sort by walking an index, not by sorting every row;
the rare stages have theirs."""

import importlib

import pytest
from django.db import connection

from tokens.models import ABOUT_TO_GRADUATE, BOARD_SORTED_COLUMNS, Token
from tokens.store.board_query import SORTS

indexes = importlib.import_module("tokens.migrations.0012_board_sort_indexes")


def test_every_board_sort_on_a_nullable_column_has_an_index_each_way():
    nullable = {column for column in SORTS.values() if Token._meta.get_field(column).null}
    assert nullable == set(BOARD_SORTED_COLUMNS) == set(indexes.SORTED)
    assert {column for column in SORTS.values() if not Token._meta.get_field(column).null} == {"created_at", "symbol"}
    assert f">= {ABOUT_TO_GRADUATE}" in indexes._indexes()["token_stage_graduating"]


@pytest.mark.production
@pytest.mark.django_db
def test_the_indexes_exist_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'tokens_token'")
        present = {row[0] for row in cursor.fetchall()}
    assert set(indexes._indexes()) <= present
