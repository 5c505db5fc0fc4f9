"""One row updated and read back in one statement: `UPDATE … RETURNING`.

Hand-written because Django (5.2) has no such query: `QuerySet.update()` returns a count, so a write
that needs the row it left took a second statement, and compiling the two through the ORM was a
fifth of storing a backfill's batch (the run's counters and the board's cursor, every batch). The
SQL is plain; the values go through each field's own preparation and come back through the same
converters the ORM applies, so the row read is the row `Model.objects.get()` would make.
"""

from typing import Any, TypeVar

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
    if not connection.features.can_return_columns_from_insert:
        # SQLite before 3.35 has no RETURNING: the update, then the read, as the ORM makes them.
        updates = {name: F(name) + amount for name, amount in add.items()} | values
        if not model._default_manager.filter(**where).update(**updates):
            return None
        return model._default_manager.get(**where)
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
    fields = meta.concrete_fields
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)} "
        f"RETURNING {', '.join(quote(field.column) for field in fields)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return model.from_db(connection.alias, [field.attname for field in fields], _converted(meta, row))


def _converted(meta, row: tuple) -> list[Any]:
    """Each column's value as the ORM reads it (SQLite's datetimes and booleans, JSON...)."""
    database = connections[connection.alias]
    converted = []
    for value, (column, converters) in zip(row, _converters(meta, database), strict=True):
        for convert in converters:
            value = convert(value, column, database)
        converted.append(value)
    return converted


_CONVERTERS: dict[tuple[str, str], list[tuple[Any, list]]] = {}


def _converters(meta, database) -> list[tuple[Any, list]]:
    """Each concrete field's column and the converters the ORM applies to it, as the compiler finds
    them (the backend's, then the field's), looked up once a model and backend."""
    key = (meta.label, database.vendor)
    if key not in _CONVERTERS:
        columns = [field.get_col(meta.db_table) for field in meta.concrete_fields]
        _CONVERTERS[key] = [
            (column, database.ops.get_db_converters(column) + column.get_db_converters(database)) for column in columns
        ]
    return _CONVERTERS[key]
