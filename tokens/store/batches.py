"""Writes: one batch upserted in one transaction, together with the run's counters and the details
its tokens still need (the durable queue of the details stage); and the board's lock and cursor.

LOCK ORDER. Every transaction that writes tokens or detail tasks takes its row locks in this order,
skipping what it does not touch:
  1. the board cursor row (`lock_board()`, or `next_cursor()`'s update, always first: it also
     serialises those transactions);
  2. load runs, in ascending id;
  3. tokens;
  4. detail tasks.
A transaction that writes one kind of row only (a lease renewal, a claim of detail tasks, which skips
rows others hold) needs none of it. Two transactions that follow the order cannot deadlock.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from tokens.models import BoardCursor, DetailTask, LoadRun, Token
from tokens.store.filters import HOLDERS, METADATA, STATE, FilterRules
from tokens.store.lease import Lease, RunCancelled, fenced_count, lease_length
from tokens.store.normalise import TokenRecord
from tokens.store.processing import judge_record
from tokens.store.selectors import board_count
from tokens.store.statements import update_returning, update_where, values_in

_UPDATED_FIELDS = [
    "name", "symbol", "description", "image_uri", "metadata_uri", "bonding_curve", "signature", "quote", "creator",
    "created_at", "market_cap_sol", "initial_real_token_reserves",
    "usd_market_cap", "liquidity_sol", "holders", "reply_count", "bonding_progress", "complete",
    "nsfw", "twitter", "telegram", "website", "last_trade_at", "sources", "cursor", "passed_filters", "pending",
    "rejection_reason", "last_seen_at", "last_run", "dev_holding_pct", "bundled_pct",
]  # fmt: skip
# Written by a launch read with its curve (it has a `state_read_at`); one stored again without it
# keeps those a curve read wrote before.
_READ_WITH_CURVE_FIELDS = ("price_usd", "liquidity_usd", "state_read_at", "details_updated_at")
# Figures the trade stream's ledger computes: a launch stored again keeps them (its create
# transaction's first buys only fill them while they are unknown).
_LEDGER_FIELDS = ("dev_holding_pct", "bundled_pct")

# The fields each detail fills. A token stored again while a detail is on its way keeps what was
# stored before for those fields (a fresher market cap, a known holder count) rather than erase it.
DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    STATE: ("market_cap_sol", "usd_market_cap", "liquidity_sol", "bonding_progress", "complete", "quote"),
    HOLDERS: ("holders",),
    METADATA: ("image_uri", "description", "twitter", "telegram", "website"),
}
# When each kind of detail was last fetched, changed or not.
READ_AT = {STATE: "state_read_at", HOLDERS: "holders_read_at", METADATA: "metadata_read_at"}
_KEPT_FIELDS = ("sources", "signature", *(name for names in DETAIL_FIELDS.values() for name in names))
# What a batch reads of its tokens already stored.
_KNOWN_FIELDS = list(dict.fromkeys((*READ_AT.values(), *_KEPT_FIELDS, *_LEDGER_FIELDS)))


@dataclass
class StoredBatch:
    run: LoadRun
    cursor: int
    accepted: list[Token]
    rejected_mints: list[str]
    stored: int  # tokens on the board once this batch is in


def store_batch(
    *,
    run_id: int,
    lease_epoch: int,
    records: list[TokenRecord],
    invalid: int,
    failed: int,
    estimated_total: int | None,
    checkpoint: dict[str, Any] | None,
    tier: int = 1,
    rules: FilterRules | None = None,
) -> StoredBatch:
    """Upsert the batch's tokens by mint, give them the next board cursor, queue the details they
    need, and record the batch and the run's checkpoint: all or nothing. Nothing of it is stored for
    a run being cancelled (`RunCancelled`): it stops at its next batch.

    The board lock comes first (see LOCK ORDER), so what is known of a token is read after any detail
    written before it: a detail that landed a moment ago is kept, and with `rules` it is not fetched
    again (the token is judged on it instead)."""
    now = timezone.now()
    with transaction.atomic():
        cursor = next_cursor()  # 1. the board
        known = {
            row["mint"]: row
            for row in values_in(Token, key="mint", keys=[r.mint for r in records], names=["mint", *_KNOWN_FIELDS])
        }
        for record in records:
            if record.state_read and record.mint in known:
                _leave_state_to_details(record, known[record.mint])
        kept = {
            record.mint: _use_fresh_details(record, known.get(record.mint), rules=rules, now=now) for record in records
        }
        rows = [
            _row(record, known.get(record.mint), kept=kept[record.mint], run_id=run_id, cursor=cursor, now=now)
            for record in records
        ]
        tasks = _new_tasks(records, run_id=run_id, tier=tier)
        accepted = sum(1 for record in records if not record.rejection_reason)
        counts = {
            "fetched": len(records) + invalid + failed,
            "accepted": accepted,
            "rejected": len(records) - accepted,
            "invalid": invalid,
            "failed": failed,
            "details_queued": len(tasks),
            # A launch whose metadata link is unusable, counted once: when it is first stored.
            "metadata_errors": sum(record.metadata_refused and record.mint not in known for record in records),
            "batches": 1,
        }
        changes: dict[str, Any] = {
            "estimated_total": estimated_total,
            "heartbeat_at": now,
            "lease_expires_at": now + lease_length(),
            "retrying": "",
        }
        if checkpoint is not None:
            changes["checkpoint"] = checkpoint
        # 2. the run, conditional on the lease: a late executor's batch is refused (rolled back) whole,
        # and so is the batch of a run someone asked to stop (read under the run's row lock).
        run = fenced_count(Lease(run_id=run_id, epoch=lease_epoch), add=counts, **changes)
        if run.cancel_requested:
            raise RunCancelled
        _count_first_seen(run, [record for record in records if record.mint not in known])
        upsert_tokens(rows)  # 3. tokens
        DetailTask.objects.bulk_create(tasks)  # 4. detail tasks
        on_board = board_count()
    return StoredBatch(
        run=run,
        cursor=cursor,
        accepted=[row for row in rows if row.passed_filters],
        rejected_mints=[row.mint for row in rows if not row.passed_filters],
        stored=on_board,
    )


def _count_first_seen(run: LoadRun, new: list[TokenRecord]) -> None:
    """Which source delivered each new launch first, counted on the run (read by the update just
    made, which locked its row: this read and write are the batch's own)."""
    counts: dict[str, int] = {}
    for record in new:
        if record.seen_by:
            counts[record.seen_by] = counts.get(record.seen_by, 0) + 1
    if counts:
        first_seen = dict(run.first_seen or {})
        for name, count in counts.items():
            first_seen[name] = first_seen.get(name, 0) + count
        if update_where(LoadRun, where={"id": run.pk}, values={"first_seen": first_seen}) != 1:
            raise LoadRun.DoesNotExist(f"run {run.pk} is gone")  # its row is locked by this transaction
        run.first_seen = first_seen


def _use_fresh_details(
    record: TokenRecord, known: dict[str, Any] | None, *, rules: FilterRules | None, now
) -> tuple[str, ...]:
    """The kinds of detail whose stored values this record keeps: those still on their way, holder
    counts (never in a batch), and, with `rules`, those fetched in the last DETAIL_FRESH_SECONDS (each
    kind by its own time), which are then not fetched again: the record is judged on them instead."""
    kept = {*record.awaiting, HOLDERS}
    if known is None or rules is None or not record.awaiting:
        return tuple(kept)
    fresh_since = now - timedelta(seconds=settings.DETAIL_FRESH_SECONDS)
    fresh = {kind for kind in record.awaiting if (known.get(READ_AT[kind]) or fresh_since) > fresh_since}
    if fresh:
        _take_known(record, known, kinds=fresh)
        judge_record(record, rules, awaiting=tuple(kind for kind in record.awaiting if kind not in fresh))
    return tuple(kept)


def _leave_state_to_details(record: TokenRecord, known: dict[str, Any]) -> None:
    """A stored token's curve state is the details stage's to write: what is stored may be newer than
    a page's read-ahead (a trade, a graduation a moment ago); the stored values stay, and its curve
    is read again after storing. Only a new launch is stored with the state read with its page."""
    record.state_read = False
    for name in ("market_cap_sol", "usd_market_cap", "price_usd", "liquidity_sol", "liquidity_usd", "bonding_progress"):
        setattr(record, name, None)
    _take_known(record, known, kinds=(STATE,))
    if not record.rejection_reason and STATE not in record.awaiting:
        record.awaiting = (*record.awaiting, STATE)


def _take_known(record: TokenRecord, known: dict[str, Any], *, kinds) -> None:
    for kind in kinds:
        for name in DETAIL_FIELDS[kind]:
            if known.get(name) not in (None, ""):
                setattr(record, name, known[name])


def _new_tasks(records: list[TokenRecord], *, run_id: int, tier: int) -> list[DetailTask]:
    """A task per detail a token awaits, unless one is queued already."""
    wanted = {(record.mint, kind): record for record in records for kind in record.awaiting}
    if not wanted:
        return []
    queued = set(DetailTask.objects.filter(mint__in={mint for mint, _ in wanted}).values_list("mint", "kind"))
    return [
        DetailTask(
            mint=mint, kind=kind, run_id=run_id, tier=tier, market_cap_sol=record.market_cap_sol,
            created_at=record.created_at,
        )
        for (mint, kind), record in wanted.items()
        if (mint, kind) not in queued
    ]  # fmt: skip


def upsert_tokens(rows: list[Token]) -> None:
    """Insert the rows, or update every field but `first_seen_at` of the mints already stored.

    One `INSERT ... ON CONFLICT (mint) DO UPDATE` (SQLite and PostgreSQL both speak it) sent with
    executemany: `bulk_create(update_conflicts=True)` did the same in 0.6-1 ms a row of Python
    preparing each field's SQL, which made storing the slowest stage of a chain backfill.
    """
    if not rows:
        return
    fields = [field for field in Token._meta.concrete_fields if not field.primary_key]
    read = attrgetter(*(field.attname for field in fields))
    columns = [list(column) for column in zip(*map(read, rows), strict=True)]  # each field's values
    # The connection itself, not django.db's proxy, which looks it up again at each use (a fifth
    # of preparing a moment).
    database = connections[connection.alias]
    for index, field in enumerate(fields):
        kind = field.get_internal_type()
        if kind == "DateTimeField":
            columns[index] = _prepared_moments(field, database, columns[index])
        elif kind == "JSONField":
            prepare = _json_value(field, database)
            columns[index] = [None if value is None else prepare(value) for value in columns[index]]
    # A field no row of the batch has a value for is left out of the statement: an insert leaves it
    # NULL, as naming it did, and an update sets it from `excluded`, NULL either way. A backfill's
    # rows leave 30-odd of the 66 empty, and SQLite's insert took 40 % longer with them named.
    named = [index for index, column in enumerate(columns) if column.count(None) < len(rows)]
    quote = connection.ops.quote_name
    table = quote(Token._meta.db_table)
    read_at = quote(Token._meta.get_field("state_read_at").column)
    updates = ", ".join(
        [f"{quote(f.column)} = excluded.{quote(f.column)}" for f in fields if f.name in _UPDATED_FIELDS]
        + [
            f"{quote(f.column)} = CASE WHEN excluded.{read_at} IS NULL THEN {table}.{quote(f.column)} "
            f"ELSE excluded.{quote(f.column)} END"
            for f in fields
            if f.name in _READ_WITH_CURVE_FIELDS
        ]
    )
    insert = f"INSERT INTO {table} ({', '.join(quote(fields[index].column) for index in named)}) "
    conflict = f" ON CONFLICT ({quote('mint')}) DO UPDATE SET {updates}"
    if connection.vendor == "postgresql" and len({row.mint for row in rows}) == len(rows):
        _upsert_as_arrays(insert, conflict, [fields[index] for index in named], [columns[index] for index in named])
        return
    values = list(zip(*(columns[index] for index in named), strict=True))
    with connection.cursor() as cursor:
        cursor.executemany(insert + f"VALUES ({', '.join(['%s'] * len(named))})" + conflict, values)


def _upsert_as_arrays(insert: str, conflict: str, fields: list, columns: list[list[Any]]) -> None:
    """PostgreSQL: the batch in one statement, a column to an array (`unnest`). Row by row, each
    statement opened the table's three dozen indexes for its one row (about 0.35 ms a row in the
    server, five times the rest of storing it); a batch's statement opens them once.

    Bound by the server (a psycopg cursor of its own, wrapped as Django wraps its cursors: logged,
    errors translated, refused in a broken transaction): Django's own cursor binds on the client,
    and quoting a batch's every value into one statement's text cost a fifth of storing it.
    A mint twice in one statement is refused by ON CONFLICT DO UPDATE: such a batch goes row by row.

    The arrays go in binary (`%b`): psycopg writes a text array item by item in Python, quoting and
    escaping each, and that was a quarter of the loader's CPU on PostgreSQL; its binary array writer
    only frames each item's bytes (tests/store/test_rows.py: hostile texts, mixed numbers, too long).
    A text holding NUL, which no PostgreSQL text holds, is refused by the server rather than by
    psycopg: a `DataError` either way, and nothing of the batch is stored (normalise strips NUL from
    what launchers write before it gets here)."""
    # psycopg refuses an array of mixed types: a float column holding an int is sent as floats.
    arrays = [
        [None if value is None else float(value) for value in column] if field.get_internal_type() == "FloatField"
        else column
        for field, column in zip(fields, columns, strict=True)
    ]  # fmt: skip
    # Cast to the bare type: an explicit cast to varchar(n) cuts a longer text short, where the
    # insert's own assignment refuses it, as the row-by-row insert did.
    casts = ", ".join(f"%b::{field.db_type(connection).split('(', 1)[0]}[]" for field in fields)
    connection.ensure_connection()
    with connection.wrap_database_errors:
        bound = psycopg.Cursor(connection.connection)
    # (`_prepare_cursor` is what `connection.cursor()` wraps its own cursor with.)
    with connection._prepare_cursor(bound) as cursor:
        cursor.execute(f"{insert}SELECT * FROM unnest({casts}){conflict}", arrays)


def _prepared_moments(field, database, column: list[Any]) -> list[Any]:
    """A datetime column as the database takes it, each distinct moment prepared once: a batch's
    rows share the batch's own `now` in four fields of each.

    On SQLite a UTC moment is written as Django's SQLite backend writes it (the naive UTC time's
    `str`), without its per-value checks: 1.5 µs a moment against 5.7, and each launch has one of its
    own. tests/store/test_rows.py holds the two equal."""
    utc_text = database.vendor == "sqlite" and settings.USE_TZ and database.timezone is UTC
    prepared: dict[datetime, Any] = {}
    values = []
    for value in column:
        if type(value) is datetime and value.tzinfo is UTC:  # nearly all: keyed by the moment
            text = prepared.get(value)
            if text is None:
                text = prepared[value] = (
                    str(value.replace(tzinfo=None)) if utc_text else field.get_db_prep_save(value, database)
                )
            values.append(text)
        else:  # (a zone's repeated hour, a subclass: equal keys that need not be equal text)
            values.append(None if value is None else field.get_db_prep_save(value, database))
    return values


def _json_value(field, database):
    """A JSON field's preparation for the database. A batch's rows share most of their values (the
    same `sources` list): a list of strings, known by its items, is prepared once."""
    prepared: dict[tuple[str, ...], Any] = {}

    def prepare(value):
        if type(value) is list and all(type(item) is str for item in value):
            key = tuple(value)
            if key not in prepared:
                prepared[key] = field.get_db_prep_save(value, database)
            return prepared[key]
        return field.get_db_prep_save(value, database)  # 1, 1.0 and True are equal keys, not equal JSON

    return prepare


def _token(**values: Any) -> Token:
    """A Token of these field values (by attribute name) and the other fields' defaults, holding
    what `Token(**values)` holds, made without `Model.__init__`'s per-field work (a backfill makes
    one per launch, and that work was a tenth of storing it). Only while nothing listens to Token's
    init signals, which that shortcut would not send (tests/store: the two are held equal)."""
    if not values.keys() <= _TOKEN_NAMES:
        raise TypeError(f"Token has no field {sorted(values.keys() - _TOKEN_NAMES)}")
    if pre_init.has_listeners(Token) or post_init.has_listeners(Token):
        return Token(**values)
    token = Token.__new__(Token)
    attributes = token.__dict__
    attributes["_state"] = ModelState()
    attributes.update(_CONSTANT_DEFAULTS)
    for name, make in _MADE_DEFAULTS:
        if name not in values:
            attributes[name] = make()
    attributes.update(values)
    return token


# Each concrete field's default by attribute name: constants taken once, factories (a list) called
# for each row. (A field with no default has NOT_PROVIDED, a class, as its `default`: callable, but
# its default is a constant.)
_CONSTANT_DEFAULTS = {
    field.attname: field.get_default()
    for field in Token._meta.concrete_fields
    if not (field.has_default() and callable(field.default))
}
_MADE_DEFAULTS = [
    (field.attname, field.get_default)
    for field in Token._meta.concrete_fields
    if field.has_default() and callable(field.default)
]
_TOKEN_NAMES = frozenset(field.attname for field in Token._meta.concrete_fields)


def lock_board() -> BoardCursor:
    """The first lock of every transaction that writes the board (see LOCK ORDER). Inside a
    transaction only; taking it again in the same transaction costs a query, nothing more."""
    counter, _ = BoardCursor.objects.select_for_update().get_or_create(pk=1)
    return counter


def next_cursor() -> int:
    """Batches get consecutive cursors, so a page can tell when it missed one. Takes the board lock
    (the update locks the row), in one statement once the row exists."""
    if not connection.in_atomic_block:  # as select_for_update() refuses to, outside one
        raise TransactionManagementError("next_cursor() takes the board lock: call it inside a transaction")
    counter = update_returning(BoardCursor, where={"id": 1}, add={"value": 1})
    if counter is None:  # the board's first batch: the row is made
        counter = lock_board()
        counter.value += 1
        counter.save(update_fields=["value"])
    return counter.value


def current_cursor() -> int:
    return BoardCursor.objects.filter(pk=1).values_list("value", flat=True).first() or 0


def _row(
    record: TokenRecord, known: dict[str, Any] | None, *, kept: tuple[str, ...], run_id: int, cursor: int, now
) -> Token:
    known = known or {"sources": [], "holders": None, "signature": ""}
    _take_known(record, known, kinds=kept)
    return _token(
        mint=record.mint,
        name=record.name,
        symbol=record.symbol,
        description=record.description,
        image_uri=record.image_uri,
        metadata_uri=record.metadata_uri,
        bonding_curve=record.bonding_curve,
        signature=record.signature or known["signature"],
        quote=record.quote,
        initial_real_token_reserves=record.initial_real_token_reserves,
        creator=record.creator,
        created_at=record.created_at,
        market_cap_sol=record.market_cap_sol,
        usd_market_cap=record.usd_market_cap,
        liquidity_sol=record.liquidity_sol,
        price_usd=record.price_usd,
        liquidity_usd=record.liquidity_usd,
        state_read_at=now if record.state_read else None,
        details_updated_at=now if record.state_read else None,
        # A run that could not count holders keeps the last count we knew rather than erasing it.
        holders=record.holders,
        reply_count=record.reply_count,
        bonding_progress=record.bonding_progress,
        complete=record.complete,
        nsfw=record.nsfw,
        twitter=record.twitter,
        telegram=record.telegram,
        website=record.website,
        last_trade_at=record.last_trade_at,
        sources=sorted({*known["sources"], record.source}),
        cursor=cursor,
        passed_filters=not record.rejection_reason,
        pending=record.pending,
        rejection_reason=record.rejection_reason[:200],
        first_seen_at=now,
        first_seen_by=record.seen_by,
        last_seen_at=now,
        last_run_id=run_id,
        **{name: known[name] if known.get(name) is not None else getattr(record, name) for name in _LEDGER_FIELDS},
    )
