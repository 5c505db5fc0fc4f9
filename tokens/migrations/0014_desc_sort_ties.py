"""A descending sort breaks its ties by mint descending too, so that a cursor seeks its index as one
row comparison (tokens/store/board_query.py `after_cursor`). Its indexes follow: 0012's descending
ones (mint ascending) are replaced (PostgreSQL only, CONCURRENTLY)."""

from django.db import migrations

from tokens.store.pg_indexes import create_concurrently, drop_concurrently

ON_BOARD = "passed_filters"
# As 0012 had them (a migration keeps its own copy: the models' list may change later).
SORTED = {
    "usd_market_cap": "cap", "holders": "holders", "bonding_progress": "progress", "reply_count": "replies",
    "volume_5m_usd": "vol5m", "buys_5m": "buys5m", "sells_5m": "sells5m", "price_change_5m": "chg5m",
    "dev_holding_pct": "dev", "top10_pct": "top10", "snipers_pct": "snipers",
}  # fmt: skip
OLD = ["token_sort_symbol_desc", *(f"token_sort_{short}_desc" for short in SORTED.values())]
NEW = {
    "token_seek_symbol_desc": f"(symbol DESC, mint DESC) WHERE {ON_BOARD}",
    **{
        f"token_seek_{short}_desc": f"({column} DESC NULLS LAST, mint DESC) WHERE {ON_BOARD}"
        for column, short in SORTED.items()
    },
}
OLD_DEFINITIONS = {
    "token_sort_symbol_desc": f"(symbol DESC, mint) WHERE {ON_BOARD}",
    **{
        f"token_sort_{short}_desc": f"({column} DESC NULLS LAST, mint) WHERE {ON_BOARD}"
        for column, short in SORTED.items()
    },
}


def forwards(apps, schema_editor):
    create_concurrently(schema_editor, NEW)  # built before the old ones go: a sort is never unindexed
    drop_concurrently(schema_editor, OLD)


def backwards(apps, schema_editor):
    create_concurrently(schema_editor, OLD_DEFINITIONS)
    drop_concurrently(schema_editor, NEW)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("tokens", "0013_search_indexes")]
    operations = [migrations.RunPython(forwards, backwards, atomic=False)]
