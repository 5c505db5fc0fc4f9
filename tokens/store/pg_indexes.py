"""Indexes of the board built on PostgreSQL only, CONCURRENTLY, for the migrations that add them.

SQLite cannot build these (NULLS LAST, trigram GIN), and the embedded board is small; on PostgreSQL
the board keeps taking writes while a big table is indexed.
"""

import logging

logger = logging.getLogger(__name__)


def create_concurrently(schema_editor, indexes: dict[str, str], *, table: str = "tokens_token") -> None:
    """Each `name: definition` built outside a transaction; an invalid index a failed build left
    behind is dropped and built again."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name, definition in indexes.items():
            cursor.execute(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
                [name],
            )
            found = cursor.fetchone()
            if found is not None and not found[0]:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} {definition}")


def drop_concurrently(schema_editor, names) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def has_extension(schema_editor, name: str) -> bool:
    """Whether extension `name` is (or could now be) installed in this database. pg_trgm is a
    trusted extension: a database owner may create it; a user who may not is told, and the
    migration goes on without its indexes (searches still work, as scans)."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [name])
        if cursor.fetchone() is not None:
            return True
        try:
            cursor.execute(f"CREATE EXTENSION IF NOT EXISTS {name}")
        except Exception as exc:  # privileges: the board works without, only slower
            logger.warning("the %s extension could not be created (%s): text search stays a scan", name, exc)
            return False
    return True
