"""Writes: one batch upserted in one transaction, together with the run's counters and the details
its tokens still need (the durable queue of the details stage)."""

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from tokens.filters import HOLDERS, METADATA, STATE
from tokens.lease import Lease, fenced_update, lease_length
from tokens.models import BoardCursor, DetailTask, LoadRun, Token
from tokens.normalise import TokenRecord

_UPDATED_FIELDS = [
    "name", "symbol", "description", "image_uri", "metadata_uri", "bonding_curve", "signature", "quote", "creator",
    "created_at", "market_cap_sol", "initial_real_token_reserves",
    "usd_market_cap", "liquidity_sol", "holders", "reply_count", "bonding_progress", "complete",
    "nsfw", "twitter", "telegram", "website", "last_trade_at", "sources", "cursor", "passed_filters", "pending",
    "rejection_reason", "last_seen_at", "last_run",
]  # fmt: skip

# The fields each detail fills. A token stored again while a detail is on its way keeps what was
# stored before for those fields (a fresher market cap, a known holder count) rather than erase it.
DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    STATE: ("market_cap_sol", "usd_market_cap", "liquidity_sol", "bonding_progress", "complete", "quote"),
    HOLDERS: ("holders",),
    METADATA: ("image_uri", "description", "twitter", "telegram", "website"),
}
_KEPT_FIELDS = ("sources", "signature", *(name for names in DETAIL_FIELDS.values() for name in names))


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
) -> StoredBatch:
    """Upsert the batch's tokens by mint, give them the next board cursor, queue the details they
    need, and record the batch and the run's checkpoint: all or nothing."""
    now = timezone.now()
    with transaction.atomic():
        cursor = next_cursor()
        known = {
            row["mint"]: row
            for row in Token.objects.filter(mint__in=[r.mint for r in records]).values("mint", *_KEPT_FIELDS)
        }
        rows = [_row(record, known.get(record.mint), run_id=run_id, cursor=cursor, now=now) for record in records]
        upsert_tokens(rows)
        queued = _queue_details(records, run_id=run_id, tier=tier)
        accepted = sum(1 for record in records if not record.rejection_reason)
        changes: dict[str, Any] = {
            "fetched": F("fetched") + len(records) + invalid + failed,
            "accepted": F("accepted") + accepted,
            "rejected": F("rejected") + len(records) - accepted,
            "invalid": F("invalid") + invalid,
            "failed": F("failed") + failed,
            "details_queued": F("details_queued") + queued,
            "batches": F("batches") + 1,
            "estimated_total": estimated_total,
            "heartbeat_at": now,
            "lease_expires_at": now + lease_length(),
        }
        if checkpoint is not None:
            changes["checkpoint"] = checkpoint
        # Last, and conditional on the lease: a late executor's batch is rolled back whole.
        fenced_update(Lease(run_id=run_id, epoch=lease_epoch), **changes)
        run = LoadRun.objects.get(pk=run_id)
        on_board = Token.objects.filter(passed_filters=True).count()
    return StoredBatch(
        run=run,
        cursor=cursor,
        accepted=[row for row in rows if row.passed_filters],
        rejected_mints=[row.mint for row in rows if not row.passed_filters],
        stored=on_board,
    )


def _queue_details(records: list[TokenRecord], *, run_id: int, tier: int) -> int:
    """A task per detail a token awaits, unless one is queued already; how many were added."""
    wanted = {(record.mint, kind): record for record in records for kind in record.awaiting}
    if not wanted:
        return 0
    queued = set(DetailTask.objects.filter(mint__in={mint for mint, _ in wanted}).values_list("mint", "kind"))
    tasks = [
        DetailTask(
            mint=mint, kind=kind, run_id=run_id, tier=tier, market_cap_sol=record.market_cap_sol,
            created_at=record.created_at,
        )
        for (mint, kind), record in wanted.items()
        if (mint, kind) not in queued
    ]  # fmt: skip
    DetailTask.objects.bulk_create(tasks)
    return len(tasks)


def upsert_tokens(rows: list[Token]) -> None:
    """Insert the rows, or update every field but `first_seen_at` of the mints already stored.

    One `INSERT ... ON CONFLICT (mint) DO UPDATE` (SQLite and PostgreSQL both speak it) sent with
    executemany: `bulk_create(update_conflicts=True)` did the same in 0.6-1 ms a row of Python
    preparing each field's SQL, which made storing the slowest stage of a chain backfill.
    """
    if not rows:
        return
    fields = [field for field in Token._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    updates = ", ".join(
        f"{quote(field.column)} = excluded.{quote(field.column)}" for field in fields if field.name in _UPDATED_FIELDS
    )
    sql = (
        f"INSERT INTO {quote(Token._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({quote('mint')}) DO UPDATE SET {updates}"
    )
    adapters = [_db_value(field) for field in fields]
    pairs = list(zip(fields, adapters, strict=True))
    values = [[adapt(getattr(row, field.attname)) for field, adapt in pairs] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def _db_value(field):
    """How a field's Python value goes to the database; plain values need nothing."""
    if field.get_internal_type() in ("DateTimeField", "JSONField"):
        return lambda value: field.get_db_prep_save(value, connection)
    return lambda value: value


def next_cursor() -> int:
    """Batches get consecutive cursors, so a page can tell when it missed one."""
    counter, _ = BoardCursor.objects.select_for_update().get_or_create(pk=1)
    counter.value += 1
    counter.save(update_fields=["value"])
    return counter.value


def current_cursor() -> int:
    return BoardCursor.objects.filter(pk=1).values_list("value", flat=True).first() or 0


def _row(record: TokenRecord, known: dict[str, Any] | None, *, run_id: int, cursor: int, now) -> Token:
    known = known or {"sources": [], "holders": None, "signature": ""}
    for kind in (*record.awaiting, HOLDERS):  # holder counts never come with a batch
        for name in DETAIL_FIELDS[kind]:
            if known.get(name) not in (None, ""):
                setattr(record, name, known[name])
    return Token(
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
        last_seen_at=now,
        last_run_id=run_id,
    )
