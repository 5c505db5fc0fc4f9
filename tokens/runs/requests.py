"""Creating and cancelling load runs: checked parameters in, a recorded `LoadRun` out."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tokens.age_filters import MAX_DAYS, MIN_DAYS, AgeFilter, window_days
from tokens.bot_settings import effective_batch_size, parse_batch_size
from tokens.liveness import process_is_gone, this_process
from tokens.models import BotSettings, LoadRun, Source, Upstream
from tokens.sources.clients import resolve_upstream
from tokens.store.lease import lease_length


class RunParameterError(ValueError):
    """A person asked for a run we cannot do; the message says what to change."""


class RunConflict(Exception):
    """Another run of the same source is active; one at a time per source."""


@dataclass(frozen=True)
class RunPlan:
    source: str
    days: float
    age_filter: str
    batch_size: int
    follow: bool = False
    upstream: str = Upstream.API  # resolved: chain or api


def plan_run(
    *,
    stored: BotSettings,
    days: Any = None,
    age_filter: str | None = None,
    batch_size: Any = None,
    source: str | None = None,
    follow: bool = False,
    upstream: str | None = None,
) -> RunPlan:
    """Fill what the request leaves out from the settings, and check everything."""
    source = source or Source.HYBRID
    if source not in Source.values:
        raise RunParameterError(f"unknown source {source!r}; choose one of: {', '.join(Source.values)}")
    served_by = _upstream(upstream or stored.upstream)
    if days not in (None, "") and age_filter:
        raise RunParameterError("give either days or an age filter, not both")
    try:
        if days not in (None, ""):
            span, label = float(_parse_days(days)), AgeFilter.CUSTOM_DAYS.value
        else:
            label = age_filter or stored.token_age_filter
            span = window_days(label, custom_days=stored.custom_days)
        size = (
            effective_batch_size(stored)
            if batch_size in (None, "")
            else parse_batch_size(batch_size, name="batch size")
        )
    except ValueError as exc:
        raise RunParameterError(str(exc)) from None
    return RunPlan(source=source, days=span, age_filter=label, batch_size=size, follow=follow, upstream=served_by)


def _upstream(choice: str) -> str:
    if choice not in Upstream.values:
        raise RunParameterError(f"unknown upstream {choice!r}; choose one of: {', '.join(Upstream.values)}")
    if choice == Upstream.CHAIN and not settings.SOLANA_RPC_URL:
        raise RunParameterError("the chain upstream needs SOLANA_RPC_URL (any Solana JSON-RPC endpoint)")
    return resolve_upstream(choice)


def _parse_days(raw: Any) -> int:
    text = str(raw).strip()
    if isinstance(raw, bool) or not (text.isascii() and text.isdigit()):
        raise RunParameterError(f"days must be a whole number from {MIN_DAYS} to {MAX_DAYS}, got {text!r}")
    value = int(text)
    if not MIN_DAYS <= value <= MAX_DAYS:
        raise RunParameterError(f"days must be from {MIN_DAYS} to {MAX_DAYS}, got {value}")
    return value


def create_run(*, plan: RunPlan, origin: str, user: Any = None, claimed: bool = False) -> LoadRun:
    """Record a queued run; the database refuses a second active run of the same source. With
    `claimed`, the run is born running and owned by this process (the command executes it itself,
    so no loader worker may take it from the queue first)."""
    mark_stale_runs_interrupted()
    now = timezone.now()
    owner = (
        {
            "status": LoadRun.Status.RUNNING, "executed_by": this_process(), "started_at": now, "heartbeat_at": now,
            "window_end_ms": int(now.timestamp() * 1000), "lease_epoch": 1, "lease_expires_at": now + lease_length(),
        }
        if claimed
        else {}
    )  # fmt: skip
    try:
        with transaction.atomic():
            return LoadRun.objects.create(
                **owner,
                source=plan.source,
                days=plan.days,
                age_filter=plan.age_filter,
                batch_size=plan.batch_size,
                follow=plan.follow,
                upstream=plan.upstream,
                origin=origin,
                requested_by=user if getattr(user, "is_authenticated", False) else None,
            )
    except IntegrityError:
        raise RunConflict(_conflict_message(plan.source)) from None


def check_resumable(*, run_id: int) -> LoadRun:
    """The run, if it can be resumed now; otherwise a clear refusal."""
    mark_stale_runs_interrupted()
    run = LoadRun.objects.filter(pk=run_id).first()
    if run is None:
        raise RunParameterError(f"there is no run {run_id}")
    if not run.is_resumable:
        raise RunParameterError(
            f"run {run_id} is {run.status}; only interrupted, failed or cancelled runs can be resumed"
        )
    if run.origin != LoadRun.Origin.FOLLOWER and _active_loads(run.source).exists():
        raise RunConflict(_conflict_message(run.source))
    return run


def mark_stale_runs_interrupted() -> list[int]:
    """Runs whose executor died (kill -9, crash, restart) stop renewing their lease: say so. A
    process on this host that is gone is seen at once. Returns the runs marked. Called where state is
    written (a new run, a resume) and by the run watcher, never by a page or an API read."""
    if settings.LOADER_WORKERS:
        return []  # the workers take over runs whose lease expired (tokens/runs/queue.py)
    now = timezone.now()
    running = list(
        LoadRun.objects.filter(status=LoadRun.Status.RUNNING).values_list(
            "pk", "lease_epoch", "lease_expires_at", "executed_by"
        )
    )
    stale = {(pk, epoch) for pk, epoch, expires, _ in running if expires is not None and expires < now}
    gone = {(pk, epoch) for pk, epoch, _, by in running if (pk, epoch) not in stale and process_is_gone(by)}
    marked = []
    for ids, error in (
        (stale, "interrupted: its process stopped renewing its lease; resume it"),
        (gone, "interrupted: its process is gone; resume it"),
    ):
        for pk, epoch in sorted(ids):
            # Conditional on the lease it was read with, so a run taken over meanwhile is left alone.
            if LoadRun.objects.filter(pk=pk, status=LoadRun.Status.RUNNING, lease_epoch=epoch).update(
                status=LoadRun.Status.INTERRUPTED, error=error, finished_at=now, lease_expires_at=None
            ):
                marked.append(pk)
    if not settings.LOADER_WORKERS:
        # Without workers a queued run runs in the process that queued it; one left queued lost it.
        deadline = now - timedelta(seconds=settings.RUN_QUEUE_TIMEOUT)
        for pk in LoadRun.objects.filter(status=LoadRun.Status.QUEUED, created_at__lt=deadline).values_list(
            "pk", flat=True
        ):
            if LoadRun.objects.filter(pk=pk, status=LoadRun.Status.QUEUED).update(
                status=LoadRun.Status.INTERRUPTED, error="interrupted: no process took it; resume it", finished_at=now
            ):
                marked.append(pk)
    return sorted(marked)


def _conflict_message(source: str) -> str:
    active = _active_loads(source).first()
    which = f"run {active.pk} is {active.status}" if active else "another run is active"
    return f"a {source} load is already going ({which}); wait for it or cancel it first"


def _active_loads(source: str):
    """Active runs of a source, the always-on feed aside (it runs beside them)."""
    return LoadRun.objects.filter(source=source, status__in=LoadRun.ACTIVE_STATUSES).exclude(
        origin=LoadRun.Origin.FOLLOWER
    )


def request_cancel(*, run_id: int) -> LoadRun:
    """A queued run is cancelled at once; a running one stops at its next batch boundary."""
    LoadRun.objects.filter(pk=run_id, status=LoadRun.Status.QUEUED).update(
        status=LoadRun.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    LoadRun.objects.filter(pk=run_id, status=LoadRun.Status.RUNNING).update(cancel_requested=True)
    return LoadRun.objects.get(pk=run_id)
