"""Text search on PostgreSQL by trigram indexes (pg_trgm), one per searched column.

The board's search is a case-insensitive "contains" on the name, the symbol and the mint (Django's
`icontains`: `UPPER(col) LIKE UPPER('%text%')`). Without an index a rare fragment read every row of
the board (1.6 s at a million tokens, bench/million_bench.py); a GIN trigram index on each
`UPPER(col)` answers it from the index. Fragments under three characters match too much to need one.
"""

from django.db import migrations

from tokens.store.pg_indexes import create_concurrently, drop_concurrently, has_extension

# Whole-table (not the board's rows only): the search asks them with no other condition, so that
# they are the only indexes that can answer (tokens/store/board_query.py `_text_match`).
INDEXES = {f"token_search_{column}": f"USING gin (UPPER({column}) gin_trgm_ops)" for column in ("name", "symbol", "mint")}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql" and has_extension(schema_editor, "pg_trgm"):
        create_concurrently(schema_editor, INDEXES)


def drop(apps, schema_editor):
    drop_concurrently(schema_editor, INDEXES)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("tokens", "0012_board_sort_indexes")]
    operations = [migrations.RunPython(create, drop, atomic=False)]
