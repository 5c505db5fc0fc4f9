"""The database is the queue of runs: a run waits as a `queued` row; a loader worker claims the
oldest with a compare-and-set (and `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers do not
queue behind each other's locks). A run whose lease expired (its executor froze or died) is adopted
the same way, up to MAX_AUTO_RESUMES times. The channel layer only wakes workers up early.

Hand-written, not a task queue library (Celery, RQ, Dramatiq): the embedded default has no broker,
the queue must work on SQLite as on PostgreSQL, and a run's row, with its lease and checkpoint, is
already the record every page reads."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from tokens.details.queue import release_leases_of
from tokens.liveness import process_is_gone, this_process
from tokens.models import LoadRun
from tokens.store.lease import lease_length

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    run: LoadRun
    resume: bool


def claim_next(*, queued: bool = True) -> Claimed | None:
    """The next run for this worker, claimed: a queued one (fresh, or handed back with its
    checkpoint), else one whose executor stopped renewing its lease. With `queued` off, only the
    latter (a process without workers starts its queued runs itself)."""
    now = timezone.now()
    statuses = [LoadRun.Status.QUEUED, LoadRun.Status.RUNNING] if queued else [LoadRun.Status.RUNNING]
    with transaction.atomic():
        waiting = (
            LoadRun.objects.filter(status__in=statuses)
            .exclude(origin=LoadRun.Origin.FOLLOWER)  # the feed's own process takes its run back
            .order_by("created_at", "pk")
        )
        if connection.vendor == "postgresql":
            waiting = waiting.select_for_update(skip_locked=True)
        for run in waiting[:50]:
            if run.status == LoadRun.Status.QUEUED:
                claimed = _claim_queued(run, now=now)
            elif _abandoned(run, now=now):
                claimed = _adopt(run, now=now)
            else:
                continue
            if claimed is not None:
                return claimed
    return None


def _claim_queued(run: LoadRun, *, now) -> Claimed | None:
    resume = run.started_at is not None  # handed back by a stopped worker: go on from its checkpoint
    changes = _lease(now)
    if resume:
        changes["resumes"] = F("resumes") + 1
    else:
        changes.update(started_at=now, window_end_ms=int(now.timestamp() * 1000))
    if not _set(run, status=LoadRun.Status.QUEUED, changes=changes):
        return None
    return Claimed(run=LoadRun.objects.get(pk=run.pk), resume=resume)


def _abandoned(run: LoadRun, *, now) -> bool:
    expired = run.lease_expires_at is not None and run.lease_expires_at < now
    return expired or process_is_gone(run.executed_by)


def _adopt(run: LoadRun, *, now) -> Claimed | None:
    if run.recoveries >= settings.MAX_AUTO_RESUMES:
        LoadRun.objects.filter(pk=run.pk, status=LoadRun.Status.RUNNING, lease_epoch=run.lease_epoch).update(
            status=LoadRun.Status.INTERRUPTED,
            finished_at=now,
            lease_expires_at=None,
            error=f"interrupted: its executor stopped {run.recoveries + 1} times; resume it by hand",
        )
        return None
    changes = {**_lease(now), "recoveries": F("recoveries") + 1, "resumes": F("resumes") + 1}
    if not _set(run, status=LoadRun.Status.RUNNING, changes=changes):
        return None
    release_leases_of(run.executed_by)  # its stage's leases died with it
    logger.warning("run %s: its executor (%s) stopped renewing its lease; taking it over", run.pk, run.executed_by)
    return Claimed(run=LoadRun.objects.get(pk=run.pk), resume=True)


def _lease(now) -> dict:
    return {
        "status": LoadRun.Status.RUNNING,
        "executed_by": this_process(),
        "heartbeat_at": now,
        "lease_epoch": F("lease_epoch") + 1,
        "lease_expires_at": now + lease_length(),
        "error": "",
        "finished_at": None,
        "degraded": "",
        "retrying": "",
    }


def _set(run: LoadRun, *, status: str, changes: dict) -> bool:
    """Compare-and-set on the status and epoch the row was read with. In a savepoint: a refused
    update must not abort the claim's transaction (PostgreSQL refuses every later statement of an
    aborted one), so the next candidate can still be claimed."""
    try:
        with transaction.atomic():
            matching = LoadRun.objects.filter(pk=run.pk, status=status, lease_epoch=run.lease_epoch)
            return bool(matching.update(**changes))
    except IntegrityError:
        return False  # another run of its source is active
