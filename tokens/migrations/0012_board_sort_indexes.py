"""The board's sorts and its two rare stages, each an index in the exact order the board asks for, on
the board's rows only (PostgreSQL; SQLite cannot index NULLS LAST, and the embedded board is small).

Without them PostgreSQL sorted every row of the board for a sort on a column that can be unknown
(0.6-1.2 s at a million tokens, bench/million_bench.py), and walked the launch-time index through a
million rows to find a few dozen coins "about to graduate". The mint breaks ties, so a column most
rows leave unknown is no sort of its own either.
"""

from django.db import migrations

from tokens.store.pg_indexes import create_concurrently, drop_concurrently

SORTED = {
    "usd_market_cap": "cap", "holders": "holders", "bonding_progress": "progress", "reply_count": "replies",
    "volume_5m_usd": "vol5m", "buys_5m": "buys5m", "sells_5m": "sells5m", "price_change_5m": "chg5m",
    "dev_holding_pct": "dev", "top10_pct": "top10", "snipers_pct": "snipers",
}  # fmt: skip
ON_BOARD = "passed_filters"


def _indexes() -> dict[str, str]:
    """Index name -> (columns) WHERE condition."""
    indexes = {
        "token_sort_symbol_desc": f"(symbol DESC, mint) WHERE {ON_BOARD}",
        "token_sort_symbol_asc": f"(symbol ASC, mint) WHERE {ON_BOARD}",
        "token_stage_graduated": f"(created_at DESC, mint) WHERE {ON_BOARD} AND complete",
        "token_stage_graduating": (
            f"(created_at DESC, mint) WHERE {ON_BOARD} AND NOT complete AND bonding_progress >= 80.0"
        ),
    }
    for column, short in SORTED.items():
        indexes[f"token_sort_{short}_desc"] = f"({column} DESC NULLS LAST, mint) WHERE {ON_BOARD}"
        indexes[f"token_sort_{short}_asc"] = f"({column} ASC NULLS LAST, mint) WHERE {ON_BOARD}"
    return indexes


def create(apps, schema_editor):
    create_concurrently(schema_editor, _indexes())


def drop(apps, schema_editor):
    drop_concurrently(schema_editor, _indexes())


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("tokens", "0011_pumpswap")]
    operations = [migrations.RunPython(create, drop, atomic=False)]
