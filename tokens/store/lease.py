"""A run's ownership: the executor that claimed it holds a lease (the run's epoch) that it renews;
every write it makes is conditional on still holding it. A frozen or late executor finds its writes
refused (`LeaseLost`) and stops without touching the run again."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from tokens.models import LoadRun
from tokens.store.statements import update_returning


class LeaseLost(Exception):
    """Another executor holds the run now (or it was stopped for good); this one must stop."""


class RunCancelled(Exception):
    """Someone asked the run to stop."""


@dataclass(frozen=True)
class Lease:
    run_id: int
    epoch: int


def lease_of(run: LoadRun) -> Lease:
    return Lease(run_id=run.pk, epoch=run.lease_epoch)


def lease_length() -> timedelta:
    return timedelta(seconds=settings.RUN_STALE_AFTER)


def held(lease: Lease) -> QuerySet[LoadRun]:
    return LoadRun.objects.filter(pk=lease.run_id, lease_epoch=lease.epoch, status=LoadRun.Status.RUNNING)


def fenced_update(lease: Lease, **changes: Any) -> None:
    """Write to the run only while this executor holds it."""
    if not held(lease).update(**changes):
        raise _lost(lease)


def fenced_count(lease: Lease, *, add: dict[str, int], **changes: Any) -> LoadRun:
    """fenced_update of counters (`add`: each field grows by its amount) and plain values, which
    returns the run as it now stands: one statement where a batch took two."""
    run = update_returning(
        LoadRun,
        where={"id": lease.run_id, "lease_epoch": lease.epoch, "status": LoadRun.Status.RUNNING},
        add=add,
        values=changes,
    )
    if run is None:
        raise _lost(lease)
    return run


def _lost(lease: Lease) -> LeaseLost:
    return LeaseLost(f"run {lease.run_id}: another executor holds it now (this one had epoch {lease.epoch})")


def renew(lease: Lease) -> None:
    now = timezone.now()
    fenced_update(lease, heartbeat_at=now, lease_expires_at=now + lease_length())


_handing_over = False


def hand_over_on_stop() -> None:
    """This process is a loader worker being stopped: the runs it is cancelling go back to the
    queue (with their checkpoints) for another worker, instead of ending interrupted."""
    global _handing_over
    _handing_over = True


def handing_over() -> bool:
    return _handing_over
