"""A run's life: claimed, executed to a final status, with its lease kept.

The `LoadRun` row is the run's single source of truth: this module moves it from queued (or, to
resume, from interrupted/failed/cancelled) to a final status and keeps its lease, so that a run whose
process died is seen and taken over. The work itself (backfill, tail, batches) is the pipeline's
(tokens/runs/pipeline.py).
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError
from django.db.models import Case, F, When
from django.utils import timezone

from tokens.age_filters import window_label
from tokens.cancellation import raise_swallowed_cancellation
from tokens.details.queue import release_leases_of
from tokens.live.messages import broadcast, retry_message, run_message
from tokens.liveness import process_is_gone, this_process
from tokens.models import LoadRun
from tokens.runs.pipeline import ProgressHook, RunCancelled, RunConfigurationError, in_tail, load
from tokens.sources.chain.source import ChainError
from tokens.sources.holders import HolderLookupError
from tokens.sources.pumpfun_api.client import PumpFunError
from tokens.sources.resilience import RETRY_LISTENER
from tokens.sources.rpc import RpcError
from tokens.store.lease import Lease, LeaseLost, fenced_update, handing_over, lease_length, lease_of, renew

logger = logging.getLogger(__name__)


class RunNotClaimable(Exception):
    """The run is not in a state this call can start it from."""


# Failures that are the upstream's or the configuration's, logged without a traceback.
_EXPECTED_ERRORS = (PumpFunError, HolderLookupError, RunConfigurationError, RpcError, ChainError)


async def execute_run(
    *, run_id: int, resume: bool = False, on_progress: ProgressHook | None = None, wait_for_details: bool = True
) -> LoadRun:
    """Run a queued load (or resume a stopped one) to its end and return the final row: its rows
    stored, and (unless `wait_for_details` is off) their details fetched.

    A failed load does not raise: its failure is recorded on the run.
    """
    run = await sync_to_async(claim_run)(run_id, resume=resume)
    return await execute_claimed(run, resume=resume, on_progress=on_progress, wait_for_details=wait_for_details)


async def execute_claimed(
    run: LoadRun, *, resume: bool, on_progress: ProgressHook | None = None, wait_for_details: bool = True
) -> LoadRun:
    """Execute a run this process has claimed (its lease is `run.lease_epoch`) to its end."""
    lease = lease_of(run)
    RETRY_LISTENER.set(_retries_shown(run.pk))
    # Announce the run while its first page is already being fetched; the first batch waits for it.
    announced = asyncio.ensure_future(broadcast(run_message(run)))
    verb = "resumed" if resume else "started"
    window = window_label(run.days)
    logger.info("run %s %s: %s, last %s, batches of %s", run.pk, verb, run.source, window, run.batch_size)
    keeper = LeaseKeeper(lease, asyncio.current_task())
    try:
        async with keeper:
            await load(run, announced=announced, on_progress=on_progress, wait_for_details=wait_for_details)
    except LeaseLost as exc:
        return await _let_go(lease, str(exc))
    except RunCancelled:
        # Stopping a live tail is how a following run ends well: its backfill was complete.
        following = await sync_to_async(in_tail)(run.pk)
        status = LoadRun.Status.SUCCEEDED if following else LoadRun.Status.CANCELLED
        return await end_run(lease, status=status, announced=announced)
    except Exception as exc:
        expected = isinstance(_first_cause(exc), _EXPECTED_ERRORS)
        logger.error(
            "run %s failed: %s", run.pk, _one_line(exc), exc_info=not expected, extra={"run_outcome": True}
        )  # fmt: skip
        return await end_run(lease, status=LoadRun.Status.FAILED, error=run_error(exc), announced=announced)
    except BaseException:
        if keeper.lost is not None:  # the keeper stopped us: another executor has the run
            asyncio.current_task().uncancel()
            return await _let_go(lease, keeper.lost)
        # Ctrl-C, SIGTERM or a server shutdown cancelled the task: record it, then let it propagate.
        # A tail has no end of its own, so stopping one whose backfill was complete is its success.
        if handing_over():
            await end_run(lease, status=LoadRun.Status.QUEUED, announced=announced)  # another worker goes on
        elif await sync_to_async(in_tail)(run.pk):
            await end_run(lease, status=LoadRun.Status.SUCCEEDED, announced=announced)
        else:
            error = "interrupted before it finished; resume it"
            await end_run(lease, status=LoadRun.Status.INTERRUPTED, error=error, announced=announced)
        raise
    return await end_run(lease, status=LoadRun.Status.SUCCEEDED, announced=announced)


async def end_run(lease: Lease, *, status: str, error: str = "", announced: asyncio.Future | None = None) -> LoadRun:
    if announced is not None:
        await asyncio.wait([announced])  # the final status must not overtake the "running" message
    try:
        run = await sync_to_async(_finish)(lease, status=status, error=error)
    except LeaseLost as exc:
        return await _let_go(lease, str(exc))
    logger.info(
        "run %s %s: %s fetched, %s accepted, %s rejected, %s invalid, %s failed in %s batches",
        run.pk, run.status, run.fetched, run.accepted, run.rejected, run.invalid, run.failed, run.batches,
    )  # fmt: skip
    await broadcast(run_message(run))
    return run


async def _let_go(lease: Lease, reason: str) -> LoadRun:
    """This executor lost the run: it writes nothing more and says so once."""
    logger.warning("%s; this executor stops without writing", reason)
    return await LoadRun.objects.aget(pk=lease.run_id)


class LeaseKeeper:
    """Renews the run's lease while the run goes on; when a renewal is refused, it cancels the run's
    task so that a frozen executor that wakes up stops before its next write."""

    def __init__(self, lease: Lease, task: asyncio.Task | None) -> None:
        self.lease = lease
        self.task = task
        self.lost: str | None = None
        self._renewing: asyncio.Task | None = None

    async def __aenter__(self) -> "LeaseKeeper":
        self._renewing = asyncio.create_task(self._renew())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._renewing is not None
        self._renewing.cancel()
        await asyncio.gather(self._renewing, return_exceptions=True)
        await drain_database_thread()

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(settings.RUN_STALE_AFTER / 3)
            raise_swallowed_cancellation()
            try:
                await sync_to_async(renew)(self.lease)
            except LeaseLost as exc:
                self.lost = str(exc)
                if self.task is not None:
                    self.task.cancel()
                return
            except Exception as exc:  # the database is away: the next renewal tries again
                logger.warning("run %s: renewing its lease failed: %s", self.lease.run_id, _one_line(exc))


def _retries_shown(run_id: int) -> Callable[[str], None]:
    """Each retry of the run's upstream calls reaches the pages while it waits, and stays on the run
    (`retrying`, cleared by its next batch) for a page opened meanwhile."""
    pending: set[asyncio.Task] = set()

    async def show_now(text: str) -> None:
        with contextlib.suppress(Exception):  # the database is away: the pages still hear of it
            await LoadRun.objects.filter(pk=run_id, status=LoadRun.Status.RUNNING).aupdate(retrying=text[:300])
        await broadcast(retry_message(run_id=run_id, text=text))

    def show(text: str) -> None:
        task = asyncio.get_running_loop().create_task(show_now(text))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return show


def claim_run(run_id: int, *, resume: bool = False) -> LoadRun:
    """Compare-and-set into running with a new lease epoch, so two processes can never both take
    the same run, and whoever held it before is refused from now on."""
    now = timezone.now()
    runs = LoadRun.objects.filter(pk=run_id)
    previous = runs.values_list("executed_by", flat=True).first() or ""
    lease = {
        "status": LoadRun.Status.RUNNING,
        "executed_by": this_process(),
        "heartbeat_at": now,
        "lease_epoch": F("lease_epoch") + 1,
        "lease_expires_at": now + lease_length(),
        "degraded": "",
        "retrying": "",
    }
    try:
        if resume:
            claimed = runs.filter(status__in=LoadRun.RESUMABLE_STATUSES).update(
                **lease, cancel_requested=False, error="", finished_at=None, resumes=F("resumes") + 1
            )
        else:
            claimed = runs.filter(status=LoadRun.Status.QUEUED).update(
                **lease, started_at=now, window_end_ms=int(now.timestamp() * 1000)
            )
    except IntegrityError:
        raise RunNotClaimable(f"run {run_id}: another run of its source is active") from None
    if claimed and resume and process_is_gone(previous):
        release_leases_of(previous)
    if not claimed:
        state = runs.values_list("status", flat=True).first()
        raise RunNotClaimable(
            f"run {run_id} is {state or 'unknown'}; it cannot be {'resumed' if resume else 'started'}"
        )
    return LoadRun.objects.get(pk=run_id)


async def drain_database_thread() -> None:
    """asgiref runs sync calls one at a time on one thread, and a cancelled call still runs to its end
    there: a no-op call returns once any such call has finished, so what comes next (the run's final
    write, the caller's own queries) never overlaps it."""
    await sync_to_async(lambda: None)()


def _finish(lease: Lease, *, status: str, error: str) -> LoadRun:
    changes: dict[str, Any] = {
        "status": status,
        "error": error,
        "lease_expires_at": None,
        "retrying": "",
        "degraded": "",
    }
    if status == LoadRun.Status.QUEUED:
        changes["executed_by"] = ""  # handed back: the next worker to claim it resumes it
    else:
        changes["finished_at"] = timezone.now()
    if status == LoadRun.Status.SUCCEEDED:
        changes["estimated_total"] = Case(When(follow=True, then=F("estimated_total")), default=F("fetched"))
    fenced_update(lease, **changes)
    return LoadRun.objects.get(pk=lease.run_id)


def run_error(exc: BaseException) -> str:
    """What a failed run says to every reader. The upstreams' and the configuration's failures are
    ours to word and say what to do; any other exception's text can carry a database host, a user or
    a path, so readers get its kind and the log gets the rest."""
    cause = _first_cause(exc)
    if isinstance(cause, _EXPECTED_ERRORS):
        return _one_line(cause)
    return f"failed on an unexpected error ({type(cause).__name__}); the server log has the details"


def _first_cause(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # a library's task group: its first cause
        exc = exc.exceptions[0]
    return exc


def _one_line(exc: BaseException) -> str:
    exc = _first_cause(exc)
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]
