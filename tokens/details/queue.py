"""The details stage's durable queue: claim tasks in priority order, write what was fetched.

Priority, lowest first: tier (0: a run's first batch, which the board's first page shows, and the
live tail; 1: the rest of a backfill), then the highest market cap known at launch, then the newest.
A claim is a lease: a task whose process died is claimed again once its lease runs out. A result is
written, the task deleted, the token judged again and a board cursor taken in one transaction, so a
restart repeats at most a fetch, never a write or an update message.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from tokens.liveness import this_process
from tokens.models import DetailTask, LoadRun, Token
from tokens.store.batches import READ_AT, lock_board, next_cursor
from tokens.store.filters import HOLDERS, METADATA, judge
from tokens.store.rejudge import judging_rules
from tokens.store.selectors import board_count

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 3
_ERROR_COUNTERS = {HOLDERS: "holder_errors", METADATA: "metadata_errors"}


@dataclass
class DetailResult:
    mint: str
    fields: dict[str, Any] | None  # None: the fetch failed
    error: str = ""


@dataclass(frozen=True)
class ChangedRow:
    token: Token  # the whole row as committed
    changed: tuple[str, ...]  # the fields this commit changed


@dataclass
class DetailUpdate:
    """One commit's changes, for one update message. Rows go whole, so a page whose view a token
    starts to match (its market cap arrived) can show it; `changed` says what moved."""

    cursor: int
    rows: list[ChangedRow] = field(default_factory=list)  # tokens on the board whose details changed
    removed: list[str] = field(default_factory=list)  # tokens a filter rejected once their detail came
    runs: list[int] = field(default_factory=list)  # runs whose detail counters moved
    stored: int | None = None  # tokens on the board after the commit, when it took some off


def claim_tasks(kind: str, limit: int) -> list[DetailTask]:
    """Lease up to `limit` tasks of a kind, in priority order. On PostgreSQL rows another claim holds
    are skipped, never waited for (a claim writes tasks only: see LOCK ORDER in tokens/store/batches.py)."""
    now = timezone.now()
    claimable = Q(not_before__isnull=True) | Q(not_before__lte=now)
    with transaction.atomic():
        candidates = DetailTask.objects.filter(claimable, kind=kind).order_by(
            "tier", F("market_cap_sol").desc(nulls_last=True), "-created_at", "id"
        )
        if connection.vendor == "postgresql":
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        lease = now + LEASE
        # The lease only: attempts count failures (finish_tasks), not claims whose process died.
        DetailTask.objects.filter(claimable, id__in=ids).update(not_before=lease, leased_by=this_process())
        return list(DetailTask.objects.filter(id__in=ids, not_before=lease))


def release_leases_of(process: str) -> None:
    """Details a dead process's stage had leased are free again now, not when their lease runs out
    (a task waiting out a retry is not a lease and keeps its wait). Tasks only; on PostgreSQL rows
    another transaction holds are left alone (it is finishing them), so this never waits in a lock
    cycle (LOCK ORDER in tokens/store/batches.py)."""
    if not process:
        return
    with transaction.atomic():
        leased = DetailTask.objects.filter(leased_by=process).order_by("id")
        if connection.vendor == "postgresql":
            leased = leased.select_for_update(skip_locked=True)
        ids = list(leased.values_list("id", flat=True))
        DetailTask.objects.filter(id__in=ids, leased_by=process).update(not_before=None, leased_by="")


def finish_tasks(kind: str, tasks: list[DetailTask], results: list[DetailResult]) -> DetailUpdate | None:
    """Write the results of claimed tasks; a failed one is tried again later, up to MAX_ATTEMPTS
    failures, then its detail stays unknown and is counted on its run. Locks in the LOCK ORDER:
    the board, the runs, the tokens, then the tasks."""
    by_mint = {result.mint: result for result in results}
    now = timezone.now()
    with transaction.atomic():
        lock_board()  # 1. the board
        mine = {task.mint: task for task in DetailTask.objects.filter(id__in=[t.id for t in tasks])}
        finished, retry = [], []
        for mint, task in mine.items():
            result = by_mint.get(mint)
            failed = result is None or result.fields is None
            if failed and task.attempts + 1 < MAX_ATTEMPTS:
                retry.append(task)
            else:
                finished.append((task, result))
        runs = _count_finished(kind, finished)  # 2. runs
        fields = {task.mint: result.fields for task, result in finished if result is not None and result.fields}
        update = apply_details(fields, judged={task.mint for task, _ in finished}, now=now, kind=kind)  # 3. tokens
        for task in retry:  # 4. tasks
            task.attempts += 1
            task.not_before = now + timedelta(seconds=settings.DETAIL_RETRY_WAIT * 2**task.attempts)
            task.leased_by = ""
        DetailTask.objects.bulk_update(retry, ["attempts", "not_before", "leased_by"])
        DetailTask.objects.filter(id__in=[task.id for task, _ in finished]).delete()
    if update is None and runs:
        return DetailUpdate(cursor=0, runs=runs)
    if update is not None:
        update.runs = runs
    return update


def _count_finished(kind: str, finished: list[tuple[DetailTask, DetailResult | None]]) -> list[int]:
    per_run: dict[int, dict[str, int]] = {}
    for task, result in finished:
        if task.run_id is None:
            continue
        counts = per_run.setdefault(task.run_id, {"done": 0, "errors": 0})
        counts["done"] += 1
        counts["errors"] += int(result is None or result.fields is None)
    for run_id in sorted(per_run):  # runs in ascending id (LOCK ORDER)
        counts = per_run[run_id]
        changes = {"details_done": F("details_done") + counts["done"]}
        if kind in _ERROR_COUNTERS and counts["errors"]:
            changes[_ERROR_COUNTERS[kind]] = F(_ERROR_COUNTERS[kind]) + counts["errors"]
        LoadRun.objects.filter(pk=run_id).update(**changes)
    return sorted(per_run)


def apply_details(
    found: dict[str, dict[str, Any]], *, judged: set[str], now: datetime, kind: str,
    tokens: dict[str, Token] | None = None,
) -> DetailUpdate | None:  # fmt: skip
    """Write the fields that changed (and when this kind of detail was read, for every token in
    `found`), judge again the pending tokens among `judged`, and give the changed tokens the next
    board cursor. Call inside a transaction; it takes the board lock first (again, when its caller
    holds it already). `tokens`: the rows, read by the caller in this transaction after the lock."""
    lock_board()
    _mark_read(kind, list(found), now=now)
    mints = set(found) | judged
    if tokens is None or not mints <= set(tokens):
        tokens = Token.objects.in_bulk(list(mints), field_name="mint")
    changes: dict[str, dict[str, Any]] = {}
    for mint, values in found.items():
        token = tokens.get(mint)
        if token is None:
            continue
        diff = {name: value for name, value in values.items() if getattr(token, name) != value}
        for name, value in diff.items():
            setattr(token, name, value)
        if diff:
            changes[mint] = diff
    removed = _judge_pending([tokens[m] for m in judged if m in tokens and tokens[m].pending], changes)
    if not changes and not removed:
        return None
    cursor = next_cursor()
    for mint in removed:  # off the board, with the detail that took it off kept
        changes[mint] = {
            **changes.get(mint, {}), "passed_filters": False, "pending": False,
            "rejection_reason": tokens[mint].rejection_reason,
        }  # fmt: skip
    _write(changes, extra={"cursor": cursor, "details_updated_at": now})
    _reprioritise({mint: diff["market_cap_sol"] for mint, diff in changes.items() if "market_cap_sol" in diff})
    return DetailUpdate(
        cursor=cursor,
        rows=[
            ChangedRow(token=tokens[mint], changed=tuple(sorted(diff)))
            for mint, diff in changes.items()
            if mint not in removed and tokens[mint].passed_filters
        ],
        removed=sorted(removed),
        stored=board_count() if removed else None,
    )


def _write(changes: dict[str, dict[str, Any]], *, extra: dict[str, Any]) -> None:
    """One `UPDATE … WHERE mint = %s` per set of changed fields, sent with executemany (the ORM's
    bulk_update builds a CASE per field and row, which cost more than the fetches it records)."""
    by_fields: dict[tuple[str, ...], list[list[Any]]] = {}
    for mint, diff in changes.items():
        names = tuple(sorted({*diff, *extra}))
        values = {**diff, **extra}
        by_fields.setdefault(names, []).append([*(_db(name, values[name]) for name in names), mint])
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for names, rows in by_fields.items():
            columns = ", ".join(f"{quote(Token._meta.get_field(name).column)} = %s" for name in names)
            cursor.executemany(f"UPDATE {quote(Token._meta.db_table)} SET {columns} WHERE {quote('mint')} = %s", rows)


def _mark_read(kind: str, mints: list[str], *, now: datetime) -> None:
    if not mints:
        return
    # One statement (an UPDATE a mint cost PostgreSQL a round of its own each).
    Token.objects.filter(mint__in=mints).update(**{READ_AT[kind]: now})


def _db(name: str, value: Any) -> Any:
    return Token._meta.get_field(name).get_db_prep_save(value, connection)


def _reprioritise(caps: dict[str, float | None]) -> None:
    """A market cap just read moves the token's other details up or down the queue."""
    if not caps:
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(DetailTask._meta.db_table)} SET {quote('market_cap_sol')} = %s WHERE {quote('mint')} = %s",
            [[cap, mint] for mint, cap in caps.items()],
        )


def _judge_pending(pending: list[Token], changes: dict[str, dict[str, Any]]) -> set[str]:
    if not pending:
        return set()
    rules = judging_rules()
    awaiting: dict[str, set[str]] = {}
    for mint, kind in DetailTask.objects.filter(mint__in=[t.mint for t in pending]).values_list("mint", "kind"):
        awaiting.setdefault(mint, set()).add(kind)
    removed = set()
    for token in pending:
        verdict = judge(token, rules, awaiting=awaiting.get(token.mint, set()))
        if verdict.reason is not None:
            token.passed_filters, token.pending, token.rejection_reason = False, False, verdict.reason[:200]
            removed.add(token.mint)
        elif not verdict.pending:
            token.pending = False
            changes.setdefault(token.mint, {})["pending"] = False
    return removed


def details_waiting() -> dict[str, int]:
    return dict(DetailTask.objects.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
