"""Statements a batch makes every time, written as SQL: one row updated and read back in one
`UPDATE … RETURNING`, one updated without a read, and rows read by a list of keys.

Hand-written because Django (5.2) has no `UPDATE … RETURNING` (`QuerySet.update()` returns a count,
so a write that needs the row it left took a second statement), and because compiling these
through the ORM, every batch, cost more than running them: the run's counters and read-back, the
board's cursor and the stored tokens' read were a fifth of storing a backfill's batch. The SQL is
plain; values go through each field's own preparation and come back through the converters the ORM
applies (looked up as its compiler does), so the rows read are the rows the ORM would read
(tests/store/test_statements.py holds them equal).
"""

from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.db import connection, connections
from django.db.models import F, Model

M = TypeVar("M", bound=Model)


def update_returning(
    model: type[M], *, where: dict[str, Any], add: dict[str, int] | None = None, values: dict[str, Any] | None = None
) -> M | None:
    """`UPDATE model SET name = name + n (each of add), name = value (each of values) WHERE name =
    value (each of where) RETURNING` every column: the one row as the update left it, or None when no
    row matched. `where` names fields the update does not change (the fallback reads the row by them)."""
    add = add or {}
    values = values or {}
    if not where or not (add or values):
        raise ValueError("update_returning needs a condition and something to write")
    if not _has_update_returning():
        # SQLite before 3.35 has no RETURNING: the update, then the read, as the ORM makes them.
        updates = {name: F(name) + amount for name, amount in add.items()} | values
        if not model._default_manager.filter(**where).update(**updates):
            return None
        return model._default_manager.get(**where)
    meta = model._meta
    quote = connection.ops.quote_name
    fields = meta.concrete_fields
    update, params = _update_sql(model, where=where, add=add, values=values)
    with connection.cursor() as cursor:
        cursor.execute(f"{update} RETURNING {', '.join(quote(field.column) for field in fields)}", params)
        row = cursor.fetchone()
    if row is None:
        return None
    return model.from_db(connection.alias, [field.attname for field in fields], _converted(meta, row))


def update_where(model: type[Model], *, where: dict[str, Any], values: dict[str, Any]) -> int:
    """`UPDATE model SET name = value (each of values) WHERE name = value (each of where)`: how many
    rows matched. For a write whose row the caller already knows as it leaves it: nothing is read
    back (update_returning's read of every column, for a row whose one field changed, cost more than
    the write)."""
    if not where or not values:
        raise ValueError("update_where needs a condition and something to write")
    update, params = _update_sql(model, where=where, add={}, values=values)
    with connection.cursor() as cursor:
        cursor.execute(update, params)
        return cursor.rowcount


def _update_sql(
    model: type[Model], *, where: dict[str, Any], add: dict[str, int], values: dict[str, Any]
) -> tuple[str, list[Any]]:
    meta = model._meta
    quote = connection.ops.quote_name
    assignments: list[str] = []
    params: list[Any] = []
    for name, amount in add.items():
        column = quote(meta.get_field(name).column)
        assignments.append(f"{column} = {column} + %s")
        params.append(amount)
    for name, value in values.items():
        field = meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    conditions: list[str] = []
    for name, value in where.items():
        field = meta.get_field(name)
        conditions.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_value(value, connection))
    return f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)}", params


def _has_update_returning() -> bool:
    """PostgreSQL's UPDATE has RETURNING, and SQLite's where its INSERT has it (3.35 on); the
    project runs on nothing else (MariaDB's INSERT has it, its UPDATE not)."""
    return connection.vendor == "postgresql" or (
        connection.vendor == "sqlite" and connection.features.can_return_columns_from_insert
    )


def values_in(model: type[Model], *, key: str, keys: list[Any], names: list[str]) -> list[dict[str, Any]]:
    """`model.objects.filter(<key>__in=keys).values(*names)`, unordered: each row holding `keys`,
    as a dict of `names`."""
    if not keys:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    key_field = meta.get_field(key)
    sql = (
        f"SELECT {', '.join(quote(field.column) for field in fields)} FROM {quote(meta.db_table)} "
        f"WHERE {quote(key_field.column)} IN ({', '.join(['%s'] * len(keys))})"
    )
    database = connections[connection.alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_field.get_db_prep_value(value, database) for value in keys])
        rows = cursor.fetchall()
    return [dict(zip(names, _converted(meta, row, fields), strict=True)) for row in rows]


def _converted(meta, row: tuple, fields: list | None = None) -> list[Any]:
    """Each column's value as the ORM reads it (SQLite's datetimes and booleans, JSON...)."""
    database = connections[connection.alias]
    converted = []
    for value, (column, converters) in zip(row, _converters(meta, database, fields), strict=True):
        for convert in converters:
            value = convert(value, column, database)
        converted.append(value)
    return converted


# By connection: a converter is a method of its connection's operations (SQLite's reads that
# connection's time zone), and each thread has its own connection.
_CONVERTERS: WeakKeyDictionary[Any, dict[tuple[str, tuple[str, ...] | None], list[tuple[Any, list]]]] = (
    WeakKeyDictionary()
)


def _converters(meta, database, fields: list | None) -> list[tuple[Any, list]]:
    """The column of each field (each concrete field by default) and the converters the ORM applies
    to it, as its compiler finds them (the backend's, then the field's); looked up once a connection."""
    known = _CONVERTERS.setdefault(database, {})
    key = (meta.label, None if fields is None else tuple(field.name for field in fields))
    if key not in known:
        columns = [field.get_col(meta.db_table) for field in (meta.concrete_fields if fields is None else fields)]
        known[key] = [
            (column, database.ops.get_db_converters(column) + column.get_db_converters(database)) for column in columns
        ]
    return known[key]
